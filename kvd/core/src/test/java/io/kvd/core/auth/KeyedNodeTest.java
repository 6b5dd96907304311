package io.kvd.core.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.kvd.core.Addresses;
import io.kvd.core.AdminReplies;
import io.kvd.core.Command;
import io.kvd.core.Node;
import io.kvd.core.NodeConfig;
import io.kvd.core.Outbox;
import io.kvd.core.cluster.ClusterConfig;
import io.kvd.core.cluster.Membership;
import io.kvd.core.cluster.MembershipConfig;
import io.kvd.core.codec.ClientCodec;
import io.kvd.core.codec.ClientCodec.DropReason;
import io.kvd.proto.ClientProtocol.KVRequest;
import io.kvd.proto.PeerProtocol.AdminReply;
import io.kvd.proto.PeerProtocol.AdminRequest;
import io.kvd.proto.PeerProtocol.Gossip;
import io.kvd.proto.PeerProtocol.LinkFaults;
import io.kvd.proto.PeerProtocol.PeerMsg;
import io.kvd.proto.PeerProtocol.Replica;
import io.kvd.proto.PeerProtocol.Update;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Proves a node with a cluster key end to end in the core: members with the key exchange gossip
 * and nothing is dropped; forged gossip (declaring a live member dead), a forged replication
 * write, a forged forwarded SHUTDOWN and a forged admin request, untagged or tagged with another
 * key, change nothing and are counted by reason in STATUS (the same messages tagged with the key
 * do act, so the checks are not vacuous); a genuine admin request is answered with a tagged reply
 * once, and its replay and a stale one are dropped; and a node without a key accepts all of it as
 * before. How: Nodes of a 3-member cluster stepped with explicit nowMs and recording outboxes.
 */
class KeyedNodeTest {
  private static final long A = Addresses.of(0x7F00_0001, 43_100);
  private static final long B = Addresses.of(0x7F00_0001, 43_101);
  private static final long C = Addresses.of(0x7F00_0001, 43_102);
  private static final long KVCTL = Addresses.of(0x7F00_0001, 50_000);
  private static final long[] MEMBERS = {A, B, C};
  private static final ClusterKey KEY = ClusterKeyTest.KEY;
  private static final ClusterKey WRONG = ClusterKey.of(ClusterKeyTest.OTHER);
  private static final long WALL_OFFSET = 1_700_000_000_000L;

  private static final class Recorder implements Outbox {
    final List<Long> to = new ArrayList<>();
    final List<byte[]> sent = new ArrayList<>();
    boolean shutdown;
    final List<LinkFaults> faults = new ArrayList<>();

    @Override
    public void send(long address, byte[] datagram) {
      to.add(address);
      sent.add(datagram);
    }

    @Override
    public void shutdown() {
      shutdown = true;
    }

    @Override
    public void faults(LinkFaults value) {
      faults.add(value);
    }

    void clear() {
      to.clear();
      sent.clear();
    }
  }

  private long nowMs = 1_000;
  private int nextNonce;

  private static Node node(long self, ClusterKey key) {
    Node node = new Node(NodeConfig.defaults(7, 1L << 20, 5),
        new ClusterConfig(MEMBERS, self, 8, MembershipConfig.DEFAULT, 1, 1));
    node.setClusterKey(key);
    node.setWallClockOffsetMs(WALL_OFFSET);
    return node;
  }

  private void deliver(Node node, long from, byte[] datagram, Recorder out) {
    node.onDatagram(from, datagram, datagram.length, nowMs, out);
  }

  private static byte[] peerMsg(ByteString payload, PeerMsg.Builder kind) {
    return kind.setMessageID(ByteString.EMPTY).setPayload(payload)
        .setCheckSum(ClientCodec.checksum(ByteString.EMPTY, payload)).build().toByteArray();
  }

  /** A PING from C that says A is DEAD at a higher incarnation. */
  private static byte[] deathOfA() {
    return peerMsg(Gossip.newBuilder().setKind(Gossip.Kind.PING).setFrom(C).setSequence(1)
        .addUpdates(Update.newBuilder().setMember(A).setIncarnation(50)
            .setStatus(Update.Status.DEAD)).build().toByteString(),
        PeerMsg.newBuilder().setGossip(true));
  }

  private static byte[] replicaWrite() {
    return peerMsg(Replica.newBuilder().setKind(Replica.Kind.WRITE).setOp(1)
        .setKey(ByteString.copyFromUtf8("k")).setStamp(1 << 16)
        .setRecord(ByteString.copyFromUtf8("forged")).build().toByteString(),
        PeerMsg.newBuilder().setReplica(true));
  }

  private static byte[] forwardedShutdown() {
    ByteString id = ByteString.copyFromUtf8("shutdown-id");
    ByteString payload = KVRequest.newBuilder().setCommand(Command.SHUTDOWN).build()
        .toByteString();
    return PeerMsg.newBuilder().setMessageID(id).setPayload(payload)
        .setCheckSum(ClientCodec.checksum(id, payload)).setClientAddress(KVCTL).setHops(1)
        .build().toByteArray();
  }

  private byte[] admin(AdminRequest request, ClusterKey key, long wallMs) {
    byte[] nonce = new byte[16];
    nonce[0] = (byte) ++nextNonce;
    return PeerAuth.adminRequest(ByteString.copyFromUtf8("admin-" + nextNonce), request, key,
        wallMs, nonce);
  }

  private static AdminRequest lossy() {
    return AdminRequest.newBuilder().setKind(AdminRequest.Kind.FAULT_SET)
        .setFaults(LinkFaults.newBuilder().setLossPct(100)).setExpiryMs(60_000).build();
  }

  private static long counter(AdminReply status, String name) {
    return AdminReplies.counter(status, name).orElseThrow(() -> new AssertionError("no counter " + name));
  }

  private static Membership.Status statusOf(Node node, long member) {
    return node.membership().status(node.ring().indexOf(member));
  }

  @Test
  void membersWithTheKeyTalkAndForgeriesChangeNothing() throws Exception {
    Node a = node(A, KEY);
    Node b = node(B, KEY);
    Recorder outA = new Recorder();
    Recorder outB = new Recorder();
    // A's gossip (and anything else it sends) reaches B: all tagged, all accepted.
    int delivered = 0;
    for (int i = 0; i < 30; i++, nowMs += 100) {
      a.onTick(nowMs, outA);
      for (int j = 0; j < outA.sent.size(); j++) {
        if (outA.to.get(j) == B) {
          deliver(b, A, outA.sent.get(j), outB);
          delivered++;
        }
      }
      outA.clear();
    }
    assertTrue(delivered > 0 && b.stats().gossipReceived() > 0, "A's gossip got to B");
    assertEquals(0, b.stats().droppedTotal(), "nothing of A's dropped");
    for (byte[] sent : outB.sent) {
      assertEquals(ClusterKey.Verdict.VALID, KEY.verify(sent, sent.length), "B tags its own");
    }
    assertEquals(Membership.Status.ALIVE, statusOf(b, A));

    long gossip = b.stats().gossipReceived();
    deliver(b, C, deathOfA(), outB);
    deliver(b, C, WRONG.sign(deathOfA()), outB);
    assertEquals(gossip, b.stats().gossipReceived());
    assertEquals(Membership.Status.ALIVE, statusOf(b, A), "forged gossip changed nothing");

    long replicas = b.stats().replicaReceived();
    deliver(b, C, replicaWrite(), outB);
    deliver(b, C, WRONG.sign(replicaWrite()), outB);
    assertEquals(replicas, b.stats().replicaReceived(), "forged writes never reach replication");
    assertEquals(0, b.store().size());

    outB.clear();
    deliver(b, C, forwardedShutdown(), outB);
    deliver(b, C, WRONG.sign(forwardedShutdown()), outB);
    assertFalse(outB.shutdown, "a forged forwarded SHUTDOWN is not executed");

    long wallMs = WALL_OFFSET + nowMs;
    deliver(b, KVCTL, admin(lossy(), null, wallMs), outB);
    deliver(b, KVCTL, admin(lossy(), WRONG, wallMs), outB);
    assertTrue(outB.faults.isEmpty(), "forged admin requests inject nothing");
    assertTrue(outB.to.stream().noneMatch(to -> to == KVCTL), "and get no reply");

    AdminReply status = b.status(nowMs);
    assertEquals(4, counter(status, "dropped.missing_tag"), "gossip, write, forward, admin");
    assertEquals(4, counter(status, "dropped.bad_tag"));
    assertEquals(0, counter(status, "dropped.admin_stale"));

    // The same messages with the key do act: the checks above are not vacuous.
    deliver(b, C, KEY.sign(replicaWrite()), outB);
    assertEquals(replicas + 1, b.stats().replicaReceived());
    deliver(b, C, KEY.sign(deathOfA()), outB);
    assertEquals(Membership.Status.DEAD, statusOf(b, A));
    deliver(b, C, KEY.sign(forwardedShutdown()), outB);
    assertTrue(outB.shutdown, "a member's forwarded SHUTDOWN is executed");
  }

  @Test
  void adminRequestsAreAnsweredOnceWithinTheWindowAndRepliesAreTagged() throws Exception {
    Node b = node(B, KEY);
    Recorder out = new Recorder();
    b.onTick(nowMs, out);
    out.clear();
    long wallMs = WALL_OFFSET + nowMs;
    byte[] request = admin(lossy(), KEY, wallMs);
    deliver(b, KVCTL, request, out);
    assertEquals(1, out.sent.size(), "answered");
    assertEquals(1, out.faults.size(), "and done");
    byte[] reply = out.sent.get(0);
    PeerMsg replyMsg = ClientCodec.decodePeerMsg(reply, reply.length,
        NodeConfig.DATAGRAM_LENGTH_MAX, NodeConfig.MESSAGE_ID_LENGTH_MAX);
    assertTrue(PeerAuth.authentic(KEY, replyMsg, reply, reply.length), "a tagged reply");
    assertFalse(PeerAuth.authentic(WRONG, replyMsg, reply, reply.length));
    assertEquals(0, AdminReply.parseFrom(replyMsg.getPayload()).getErrCode());

    nowMs += 10;
    deliver(b, KVCTL, request, out);
    assertEquals(1, out.sent.size(), "a replay is not answered");
    deliver(b, KVCTL, admin(lossy(), KEY, wallMs - 31_000), out);
    deliver(b, KVCTL, admin(lossy(), KEY, wallMs + 31_000), out);
    assertEquals(1, out.sent.size(), "nor a stale request");
    // A node's own tagged reply sent back to it is not a request (it has no stamp).
    deliver(b, KVCTL, reply, out);
    assertEquals(1, out.sent.size());
    assertEquals(1, out.faults.size());

    AdminReply status = b.status(nowMs);
    assertEquals(1, counter(status, "dropped.admin_replayed"));
    assertEquals(3, counter(status, "dropped.admin_stale"));
    assertEquals(0, counter(status, "dropped.admin_nonces_full"));
    deliver(b, KVCTL, admin(AdminRequest.newBuilder().setKind(AdminRequest.Kind.FAULT_CLEAR)
        .build(), KEY, WALL_OFFSET + nowMs), out);
    assertEquals(2, out.sent.size(), "a fresh request is answered");
  }

  @Test
  void aNodeWithoutAKeyAcceptsEverythingAsBefore() {
    Node b = node(B, null);
    Recorder out = new Recorder();
    deliver(b, C, replicaWrite(), out);
    deliver(b, C, KEY.sign(replicaWrite()), out);
    assertEquals(2, b.stats().replicaReceived());
    deliver(b, KVCTL, admin(lossy(), null, 0), out);
    deliver(b, KVCTL, admin(lossy(), KEY, 0), out);
    assertEquals(2, out.faults.size(), "both done: no stamp checked, no tag needed");
    assertEquals(2, out.to.stream().filter(to -> to == KVCTL).count());
    byte[] reply = out.sent.get(out.sent.size() - 1);
    assertEquals(ClusterKey.Verdict.MISSING, KEY.verify(reply, reply.length), "untagged reply");
    deliver(b, C, deathOfA(), out);
    assertEquals(Membership.Status.DEAD, statusOf(b, A));
    assertEquals(0, b.stats().droppedTotal());
    for (DropReason reason : PeerAuth.DROP_REASONS) {
      assertEquals(0, b.stats().dropped(reason));
    }
  }
}
