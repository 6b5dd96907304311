package io.kvd.core.fuzz;

import static io.kvd.core.fuzz.ClusterHarness.ADMIN;
import static io.kvd.core.fuzz.ClusterHarness.CLIENTS;
import static io.kvd.core.fuzz.ClusterHarness.CLIENT_REQUEST;
import static io.kvd.core.fuzz.ClusterHarness.COMMANDS;
import static io.kvd.core.fuzz.ClusterHarness.DELIVER;
import static io.kvd.core.fuzz.ClusterHarness.DROP;
import static io.kvd.core.fuzz.ClusterHarness.ENVELOPE;
import static io.kvd.core.fuzz.ClusterHarness.KEYS;
import static io.kvd.core.fuzz.ClusterHarness.MEMBERS;
import static io.kvd.core.fuzz.ClusterHarness.MUTATE;
import static io.kvd.core.fuzz.ClusterHarness.MUTATIONS;
import static io.kvd.core.fuzz.ClusterHarness.RAW_DATAGRAM;
import static io.kvd.core.fuzz.ClusterHarness.REPLAY;
import static io.kvd.core.fuzz.ClusterHarness.RESTART;
import static io.kvd.core.fuzz.ClusterHarness.RUN;
import static io.kvd.core.fuzz.ClusterHarness.SENDERS;
import static io.kvd.core.fuzz.ClusterHarness.SIZE_MAX;
import static io.kvd.core.fuzz.ClusterHarness.STALL;
import static io.kvd.core.fuzz.ClusterHarness.STEPS;
import static io.kvd.core.fuzz.ClusterHarness.TICK;

import com.google.protobuf.ByteString;
import io.kvd.core.Command;
import io.kvd.core.ErrorCode;
import io.kvd.core.codec.ClientCodec;
import io.kvd.proto.ClientProtocol.KVRequest;
import io.kvd.proto.ClientProtocol.KVResponse;
import io.kvd.proto.PeerProtocol.AdminRequest;
import io.kvd.proto.PeerProtocol.Gossip;
import io.kvd.proto.PeerProtocol.LinkFaults;
import io.kvd.proto.PeerProtocol.PeerMsg;
import io.kvd.proto.PeerProtocol.Replica;
import io.kvd.proto.PeerProtocol.Update;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;

/**
 * Writes the committed seed corpus of the three fuzz targets: a few meaningful inputs each (valid
 * requests of every command, replies, gossip, replica and admin messages, and for the node, step
 * sequences that store, read and remove keys alone and in a cluster, gossip, mutate internal
 * messages, block links, stall and restart). Jazzer starts from these and replays them as
 * regression inputs. Rerun after changing how {@link ClusterHarness} consumes its input:
 * <pre>
 * mvn -B -q -pl kvd/core test-compile dependency:build-classpath \
 *   -Dmdep.outputFile=target/fuzz-cp.txt
 * cd kvd/core && java -cp "target/test-classes:target/classes:$(cat target/fuzz-cp.txt)" \
 *   io.kvd.core.fuzz.SeedCorpus src/test/resources
 * </pre>
 */
public final class SeedCorpus {
  private SeedCorpus() {}

  private static final String PACKAGE_DIR = "io/kvd/core/fuzz/";

  public static void main(String[] args) throws IOException {
    Path resources = Paths.get(args.length > 0 ? args[0] : "src/test/resources");
    writeClientCodecSeeds(resources.resolve(PACKAGE_DIR + "ClientCodecFuzzTestInputs/datagrams"));
    writePeerCodecSeeds(resources.resolve(PACKAGE_DIR + "PeerCodecFuzzTestInputs/peerDatagrams"));
    writeNodeSeeds(resources.resolve(PACKAGE_DIR + "NodeFuzzTestInputs/messageSequences"));
  }

  // --- Shared messages ------------------------------------------------------------------------

  static final ByteString ID = ByteString.copyFrom(new byte[] {0x6B, 0x76, 0x64, 0x2D, 0x73,
      0x65, 0x65, 0x64, 0, 0, 0, 0, 0, 0, 0, 1});

  static ByteString utf8(String s) {
    return ByteString.copyFromUtf8(s);
  }

  static KVRequest put(String key, String value, int version) {
    return KVRequest.newBuilder().setCommand(Command.PUT).setKey(utf8(key)).setValue(utf8(value))
        .setVersion(version).build();
  }

  static KVRequest keyed(int command, String key) {
    return KVRequest.newBuilder().setCommand(command).setKey(utf8(key)).build();
  }

  static KVRequest command(int command) {
    return KVRequest.newBuilder().setCommand(command).build();
  }

  static Gossip ping() {
    return Gossip.newBuilder().setKind(Gossip.Kind.PING).setFrom(MEMBERS[1]).setSequence(7)
        .addUpdates(Update.newBuilder().setMember(MEMBERS[1]).setIncarnation(1)
            .setStatus(Update.Status.ALIVE))
        .addUpdates(Update.newBuilder().setMember(MEMBERS[2]).setIncarnation(1)
            .setStatus(Update.Status.SUSPECT))
        .build();
  }

  static Gossip pingReq() {
    return Gossip.newBuilder().setKind(Gossip.Kind.PING_REQ).setFrom(MEMBERS[1]).setSequence(8)
        .setTarget(MEMBERS[2]).build();
  }

  static Replica read() {
    return Replica.newBuilder().setKind(Replica.Kind.READ).setOp(3).setKey(utf8("k1"))
        .setStamp(0).setClient(CLIENTS[0]).setClientMessageId(ID).setValueLength(5).build();
  }

  static Replica digest() {
    return Replica.newBuilder().setKind(Replica.Kind.DIGEST).setOp(9).addDigests(1)
        .addDigests(2).setView(ByteString.copyFrom(new byte[] {7})).build();
  }

  static Replica pull() {
    return Replica.newBuilder().setKind(Replica.Kind.PULL).setOp(9).addKeys(utf8("k1"))
        .addKeys(utf8("k2")).build();
  }

  static AdminRequest status() {
    return AdminRequest.newBuilder().setKind(AdminRequest.Kind.STATUS).build();
  }

  static AdminRequest faultSet() {
    return AdminRequest.newBuilder().setKind(AdminRequest.Kind.FAULT_SET)
        .setFaults(LinkFaults.newBuilder().setLossPct(10).setDelayMs(5).setJitterMs(2))
        .setExpiryMs(60_000).build();
  }

  static AdminRequest block() {
    return AdminRequest.newBuilder().setKind(AdminRequest.Kind.BLOCK).addPeers(MEMBERS[1])
        .setExpiryMs(1_000).build();
  }

  static byte[] peerMsg(ByteString id, ByteString payload, int kind) {
    PeerMsg.Builder msg = PeerMsg.newBuilder().setMessageID(id).setPayload(payload)
        .setCheckSum(ClientCodec.checksum(id, payload));
    switch (kind) {
      case ClusterHarness.GOSSIP:
        msg.setGossip(true);
        break;
      case ClusterHarness.REPLICA:
        msg.setReplica(true);
        break;
      case ClusterHarness.ADMIN_KIND:
        msg.setAdmin(true);
        break;
      case ClusterHarness.FORWARD:
        msg.setClientAddress(CLIENTS[0]).setHops(1);
        break;
      default:
        break;
    }
    return msg.build().toByteArray();
  }

  // --- Client codec ---------------------------------------------------------------------------

  static void writeClientCodecSeeds(Path dir) throws IOException {
    Files.createDirectories(dir);
    write(dir, "put", ClientCodec.encodeRequest(ID, put("key", "value", 1)));
    write(dir, "get", ClientCodec.encodeRequest(ID, keyed(Command.GET, "key")));
    write(dir, "remove", ClientCodec.encodeRequest(ID, keyed(Command.REMOVE, "key")));
    write(dir, "is-alive", ClientCodec.encodeRequest(ID, command(Command.IS_ALIVE)));
    write(dir, "wipeout", ClientCodec.encodeRequest(ID, command(Command.WIPEOUT)));
    write(dir, "get-membership-count",
        ClientCodec.encodeRequest(ID, command(Command.GET_MEMBERSHIP_COUNT)));
    write(dir, "reply-get", ClientCodec.encodeReply(ID, KVResponse.newBuilder()
        .setErrCode(ErrorCode.SUCCESS).setValue(utf8("value")).setVersion(1).build()));
    write(dir, "reply-overload", ClientCodec.encodeReply(ID, KVResponse.newBuilder()
        .setErrCode(ErrorCode.OVERLOAD).setOverloadWaitTime(20).build()));
    // Payloads alone (the target also decodes its input as the payload of a valid Msg).
    write(dir, "payload-put", put("key", "value", 1).toByteArray());
    write(dir, "payload-reply", KVResponse.newBuilder().setErrCode(ErrorCode.NOT_FOUND).build()
        .toByteArray());
  }

  // --- Peer codec -----------------------------------------------------------------------------

  static void writePeerCodecSeeds(Path dir) throws IOException {
    Files.createDirectories(dir);
    ByteString empty = ByteString.EMPTY;
    write(dir, "gossip-ping", peerMsg(empty, ping().toByteString(), ClusterHarness.GOSSIP));
    write(dir, "gossip-ping-req", peerMsg(empty, pingReq().toByteString(), ClusterHarness.GOSSIP));
    write(dir, "replica-read", peerMsg(empty, read().toByteString(), ClusterHarness.REPLICA));
    write(dir, "replica-digest", peerMsg(empty, digest().toByteString(), ClusterHarness.REPLICA));
    write(dir, "admin-status", peerMsg(ID, status().toByteString(), ClusterHarness.ADMIN_KIND));
    write(dir, "admin-fault-set", peerMsg(ID, faultSet().toByteString(),
        ClusterHarness.ADMIN_KIND));
    write(dir, "forward-put", peerMsg(ID, put("key", "value", 1).toByteString(),
        ClusterHarness.FORWARD));
    write(dir, "client-get", ClientCodec.encodeRequest(ID, keyed(Command.GET, "key")));
    // Payloads alone (the target also parses its input with every payload parser).
    write(dir, "payload-gossip", ping().toByteArray());
    write(dir, "payload-replica-pull", pull().toByteArray());
    write(dir, "payload-admin-block", block().toByteArray());
  }

  // --- Node -----------------------------------------------------------------------------------

  static void writeNodeSeeds(Path dir) throws IOException {
    Files.createDirectories(dir);
    // A node alone: every command, a retried PUT, invalid keys and values.
    write(dir, "alone-commands", new NodeSeed(1)
        .request(0, 0, Command.PUT, "k0", "value", 7)
        .request(0, 0, Command.GET, "k0", null, null)
        .retryPut(0, 0, "k0", "value", 1)
        .request(0, 1, Command.REMOVE, "k0", null, null)
        .request(0, 1, Command.GET, "k0", null, null)
        .request(0, 2, Command.PUT, "a key longer than the 32 allowed", "v", null)
        .request(0, 2, Command.IS_ALIVE, null, null, null)
        .request(0, 2, Command.GET_PID, null, null, null)
        .request(0, 2, Command.GET_MEMBERSHIP_COUNT, null, null, null)
        .request(0, 0, 9, "k1", null, null)
        .request(0, 0, Command.WIPEOUT, null, null, null)
        .tick(50)
        .request(0, 0, Command.SHUTDOWN, null, null, null)
        .request(0, 0, Command.GET, "k0", null, null)
        .toByteArray());
    // Three members: gossip until they know one another, then a write, a read from another
    // member (forwarded to the key's primary) and a remove, each replicated.
    write(dir, "cluster-put-get-remove", new NodeSeed(3)
        .run(20)
        .request(1, 0, Command.PUT, "k1", "replicated", 3)
        .run(10)
        .request(2, 1, Command.GET, "k1", null, null)
        .run(10)
        .request(0, 2, Command.REMOVE, "k1", null, null)
        .run(10)
        .request(1, 0, Command.GET, "k1", null, null)
        .run(10)
        .toByteArray());
    // Internal messages delivered, dropped, replayed and mutated; a stall and a suspicion.
    write(dir, "cluster-mutations", new NodeSeed(3)
        .run(5)
        .request(0, 0, Command.PUT, "k2", "v", 1)
        .deliver(0)
        .replay(0, true, 0)
        .mutateRemoveField(1, true, 0, 0)
        .mutateHeader(2, false, 1, 1)
        .mutateSender(3, true, 0, 5)
        .drop(0)
        .stall(2_500, true, 0)
        .run(30)
        .toByteArray());
    // Operator requests: STATUS, BLOCK and UNBLOCK of a link, faults, a restart.
    write(dir, "cluster-admin", new NodeSeed(2)
        .run(10)
        .admin(0, AdminRequest.Kind.STATUS, false, new int[0], null)
        .admin(0, AdminRequest.Kind.BLOCK, false, new int[] {5}, 1_000L)
        .request(1, 0, Command.PUT, "k3", "blocked", 1)
        .run(10)
        .admin(0, AdminRequest.Kind.UNBLOCK, false, new int[0], null)
        .admin(1, AdminRequest.Kind.FAULT_SET, true, new int[0], 10_000L)
        .restart(1)
        .run(20)
        .toByteArray());
    // An admin request that claims to come from a member: it must be dropped, or the reply would
    // go to that member, which would take it for a STATUS request and answer in kind, forever.
    write(dir, "cluster-admin-from-member", new NodeSeed(2)
        .run(5)
        .adminFrom(0, 5, AdminRequest.Kind.STATUS)
        .run(5)
        .toByteArray());
    // The crash fuzzing found, now fixed (see NodeFuzzTest): a READ with a stamp of 2^63 for a
    // key node 1 does not hold, from member 0.
    write(dir, "fixed-crash-read-stamp-2pow63", new NodeSeed(2)
        .envelope(1, 4, ClusterHarness.REPLICA, Replica.newBuilder().setKind(Replica.Kind.READ)
            .setOp(1).setKey(utf8("k0")).setStamp(0x8000_0000_0000_0000L).build().toByteArray())
        .toByteArray());
    // Fuzzer-made messages in valid envelopes: gossip, replica, forward; a raw client datagram;
    // a shutdown and a stall (stale requests dropped, a late tick sheds load).
    write(dir, "cluster-envelopes", new NodeSeed(3)
        .run(10)
        .envelope(0, 5, ClusterHarness.GOSSIP, ping().toByteArray())
        .envelope(0, 5, ClusterHarness.GOSSIP, pingReq().toByteArray())
        .envelope(1, 4, ClusterHarness.REPLICA, read().toByteArray())
        .envelope(2, 4, ClusterHarness.REPLICA, digest().toByteArray())
        .envelope(2, 5, ClusterHarness.FORWARD, put("k0", "forwarded", 2).toByteArray())
        .raw(1, 1, ClientCodec.encodeRequest(ID, put("k1", "raw", 3)))
        .request(2, 0, Command.SHUTDOWN, null, null, null)
        .stall(1_500, false, 0)
        .request(0, 1, Command.GET, "k1", null, null)
        .tick(80)
        .run(30)
        .toByteArray());
  }

  /** Builds an input for {@link ClusterHarness}, choice by choice, in its order. */
  static final class NodeSeed {
    private final FdpEncoder e = new FdpEncoder();
    private final int size;
    private int recentIds;

    NodeSeed(int size) {
      this.size = size;
      e.integer(1, SIZE_MAX, size);
    }

    private NodeSeed step(int step) {
      e.integer(0, STEPS - 1, step);
      return this;
    }

    private void node(int node) {
      e.integer(0, size - 1, node);
    }

    private void pick(int index) {
      e.integer(0, 0xFFFF, index);
    }

    /** A fresh 16-byte messageID. */
    private void freshId() {
      e.integer(0, 3, 1);
      recentIds = Math.min(recentIds + 1, ClusterHarness.RECENT_IDS_MAX);
    }

    NodeSeed request(int node, int client, int command, String key, String value,
        Integer version) {
      return request(node, client, command, key, value, version, -1);
    }

    /** A PUT under the messageID used {@code back} requests ago (0: the last one). */
    NodeSeed retryPut(int node, int client, String key, String value, int back) {
      return request(node, client, Command.PUT, key, value, null, recentIds - 1 - back);
    }

    private NodeSeed request(int node, int client, int command, String key, String value,
        Integer version, int recentId) {
      step(CLIENT_REQUEST);
      node(node);
      e.integer(0, CLIENTS.length - 1, client);
      int index = -1;
      for (int i = 0; i < COMMANDS.length && index < 0; i++) {
        index = COMMANDS[i] == command ? i : -1;
      }
      if (index >= 0) {
        e.integer(0, COMMANDS.length - 1, index);
      } else {
        e.integer(0, COMMANDS.length - 1, COMMANDS.length - 1);
        e.anyInt(command);
      }
      if (key == null) {
        e.integer(0, 3, 0);
      } else {
        int known = -1;
        for (int i = 0; i < KEYS.length; i++) {
          known = new String(KEYS[i], StandardCharsets.UTF_8).equals(key) ? i : known;
        }
        if (known >= 0) {
          e.integer(0, 3, 1).integer(0, KEYS.length - 1, known);
        } else {
          byte[] bytes = key.getBytes(StandardCharsets.UTF_8);
          e.integer(0, 3, 3).integer(0, 40, bytes.length).bytes(bytes);
        }
      }
      if (value == null) {
        e.integer(0, 3, 0);
      } else {
        byte[] bytes = value.getBytes(StandardCharsets.UTF_8);
        e.integer(0, 3, 1).integer(0, 64, bytes.length).bytes(bytes);
      }
      e.bool(version != null);
      if (version != null) {
        e.anyInt(version);
      }
      if (recentId >= 0) {
        e.integer(0, 3, 0);
        pick(recentId);
      } else {
        freshId();
      }
      return this;
    }

    NodeSeed raw(int node, int sender, byte[] datagram) {
      step(RAW_DATAGRAM);
      node(node);
      e.integer(0, SENDERS.length - 1, sender);
      e.integer(0, 512, datagram.length).bytes(datagram);
      return this;
    }

    NodeSeed envelope(int node, int sender, int kind, byte[] payload) {
      step(ENVELOPE);
      node(node);
      e.integer(0, SENDERS.length - 1, sender);
      e.integer(0, 4, kind);
      e.integer(0, 512, payload.length).bytes(payload);
      freshId();
      if (kind == ClusterHarness.FORWARD) {
        e.integer(0, CLIENTS.length - 1, 0).integer(0, 3, 1);
      }
      return this;
    }

    NodeSeed deliver(int index) {
      step(DELIVER);
      pick(index);
      return this;
    }

    NodeSeed drop(int index) {
      step(DROP);
      pick(index);
      return this;
    }

    NodeSeed replay(int index, boolean toDestination, int node) {
      step(REPLAY);
      pick(index);
      destination(toDestination, node);
      return this;
    }

    private void destination(boolean toDestination, int node) {
      e.bool(toDestination);
      if (!toDestination) {
        node(node);
      }
    }

    /** A sent datagram with one field of its payload removed. */
    NodeSeed mutateRemoveField(int index, boolean toDestination, int node, int field) {
      step(MUTATE);
      pick(index);
      destination(toDestination, node);
      e.integer(0, MUTATIONS - 1, ClusterHarness.PAYLOAD_FIELDS);
      e.integer(0, ProtoFields.KINDS - 1, ProtoFields.REMOVE);
      e.integer(0, 0xFFFF, field);
      return this;
    }

    /** A sent datagram with a flag of its envelope toggled (0 gossip, 1 replica, 2 admin). */
    NodeSeed mutateHeader(int index, boolean toDestination, int node, int flag) {
      step(MUTATE);
      pick(index);
      destination(toDestination, node);
      e.integer(0, MUTATIONS - 1, ClusterHarness.HEADER);
      e.integer(0, 5, flag);
      return this;
    }

    /** A sent datagram from another sender. */
    NodeSeed mutateSender(int index, boolean toDestination, int node, int sender) {
      step(MUTATE);
      pick(index);
      destination(toDestination, node);
      e.integer(0, MUTATIONS - 1, ClusterHarness.SENDER);
      e.integer(0, SENDERS.length - 1, sender);
      return this;
    }

    NodeSeed tick(int ms) {
      step(TICK);
      e.integer(0, 100, ms);
      return this;
    }

    NodeSeed run(int rounds) {
      step(RUN);
      e.integer(1, ClusterHarness.RUN_ROUNDS_MAX, rounds);
      return this;
    }

    NodeSeed stall(int ms, boolean everyNode, int node) {
      step(STALL);
      e.integer(0, 6_000, ms);
      e.bool(everyNode);
      if (!everyNode) {
        node(node);
      }
      return this;
    }

    /** An admin request from kvctl; {@code peers} index {@link ClusterHarness#SENDERS}. */
    NodeSeed admin(int node, AdminRequest.Kind kind, boolean faults, int[] peers, Long expiryMs) {
      step(ADMIN);
      node(node);
      e.bool(true);
      e.integer(0, 4, kind.getNumber());
      e.bool(faults);
      if (faults) {
        e.integer(-5, 105, 10).integer(-5, 105, 0).integer(-5, 105, 5)
            .integer(0, 20_000, 5).integer(0, 20_000, 2);
      }
      e.integer(0, 3, peers.length);
      for (int peer : peers) {
        e.integer(0, SENDERS.length - 1, peer);
      }
      e.bool(expiryMs != null);
      if (expiryMs != null) {
        e.bool(true).integer(0, 10_000, expiryMs);
      }
      freshId();
      return this;
    }

    /** A STATUS or other argument-free admin request from {@code sender}. */
    NodeSeed adminFrom(int node, int sender, AdminRequest.Kind kind) {
      step(ADMIN);
      node(node);
      e.bool(false);
      e.integer(0, SENDERS.length - 1, sender);
      e.integer(0, 4, kind.getNumber());
      e.bool(false);
      e.integer(0, 3, 0);
      e.bool(false);
      freshId();
      return this;
    }

    NodeSeed restart(int node) {
      step(RESTART);
      node(node);
      return this;
    }

    byte[] toByteArray() {
      return e.toByteArray();
    }
  }

  private static void write(Path dir, String name, byte[] bytes) throws IOException {
    Files.write(dir.resolve(name), bytes);
  }
}
