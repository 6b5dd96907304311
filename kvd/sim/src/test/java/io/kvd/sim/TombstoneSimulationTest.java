package io.kvd.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.google.protobuf.ByteString;
import io.kvd.core.Addresses;
import io.kvd.core.Command;
import io.kvd.core.ErrorCode;
import io.kvd.core.cluster.MembershipConfig;
import io.kvd.core.cluster.Ring;
import io.kvd.core.codec.ClientCodec;
import io.kvd.core.replication.ReplicationConfig;
import io.kvd.core.store.Store;
import io.kvd.proto.ClientProtocol.KVRequest;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Tombstones at the edges of their retention: a REMOVE leaves a tombstone on each replica, they
 * expire together once the retention has passed, and an old copy on a replica that missed the
 * REMOVE never comes back: neither from a replica paused past its detection (it catches the
 * tombstone up before expiry), nor from one stalled longer than half the retention (it drops its
 * data on resuming).
 */
class TombstoneSimulationTest {
  private static final int NODES = 8;
  private static final byte[] KEY = "doomed".getBytes(StandardCharsets.UTF_8);

  private final Map<Long, Integer> codes = new HashMap<>();
  private long nextId = 1;

  private Simulation start(long retentionMs) {
    Simulation sim = new Simulation(99, NODES, NetworkConfig.CALM, MembershipConfig.DEFAULT,
        Ring.VIRTUAL_NODES_DEFAULT,
        ReplicationConfig.DEFAULT.withTombstoneRetentionMs(retentionMs));
    sim.setClientReplies((client, node, datagram) -> {
      try {
        var msg = ClientCodec.decodeMsg(datagram, datagram.length, 65_507, 16);
        codes.put(ByteBuffer.wrap(msg.getMessageID().toByteArray()).getLong(8),
            ClientCodec.decodeReply(msg).getErrCode());
      } catch (ClientCodec.DecodeException e) {
        throw new IllegalStateException(e);
      }
    });
    sim.runUntil(3_000);
    return sim;
  }

  /** Sends one request (same messageID on every retry) until a node answers; its errCode. */
  private int call(Simulation sim, int command, int via) {
    long id = nextId++;
    long client = Addresses.of(0x0B00_0001, 40_000);
    KVRequest.Builder request = KVRequest.newBuilder().setCommand(command)
        .setKey(ByteString.copyFrom(KEY));
    if (command == Command.PUT) {
      request.setValue(ByteString.copyFromUtf8("old value")).setVersion(1);
    }
    byte[] datagram = ClientCodec.encodeRequest(
        ByteString.copyFrom(ByteBuffer.allocate(16).putLong(client).putLong(id).array()),
        request.build());
    for (int attempt = 0; attempt < 40; attempt++) {
      sim.clientSend(client, via, datagram);
      sim.runUntil(sim.nowMs() + 250);
      Integer code = codes.get(id);
      if (code != null && code != ErrorCode.OVERLOAD) {
        return code;
      }
    }
    System.out.printf("no answer to command %d at %d ms: last code %s; %s%n", command,
        sim.nowMs(), codes.get(id), states(sim));
    return -1;
  }

  private static String states(Simulation sim) {
    StringBuilder b = new StringBuilder();
    for (int n = 0; n < NODES; n++) {
      var r = sim.node(n).replication();
      b.append(String.format("[%d %s live %d synced %s ops %d refused %d/%d abandoned %d] ", n,
          sim.state(n), sim.node(n).membership().liveCount(), r.repair().synced(),
          r.operations(), r.refusedNoMajority(), r.refusedNoQuorum(), r.writesAbandoned()));
    }
    return b.toString();
  }

  private static int[] replicas(Simulation sim) {
    boolean[] all = new boolean[NODES];
    java.util.Arrays.fill(all, true);
    int[] set = new int[4];
    sim.ring().replicas(Ring.keyToken(KEY, 0, KEY.length), all, set);
    int[] nodes = new int[4];
    for (int i = 0; i < 4; i++) {
      for (int n = 0; n < NODES; n++) {
        if (sim.ringIndex(n) == set[i]) {
          nodes[i] = n;
        }
      }
    }
    return nodes;
  }

  /** A node that is not one of the key's replicas, to send requests through. */
  private static int outside(int[] set) {
    for (int n = 0; n < NODES; n++) {
      int node = n;
      if (java.util.Arrays.stream(set).noneMatch(m -> m == node)) {
        return n;
      }
    }
    throw new IllegalStateException("every node replicates the key");
  }

  private static int count(Simulation sim, boolean tombstones) {
    int count = 0;
    for (int n = 0; n < NODES; n++) {
      byte[] record = sim.node(n).store().get(KEY);
      if (record != null && Store.isTombstone(record) == tombstones) {
        count++;
      }
    }
    return count;
  }

  @Test
  void tombstonesExpireTogetherAndAReplicaPausedPastDetectionCatchesUp() {
    Simulation sim = start(20_000);
    int[] set = replicas(sim);
    int via = outside(set);
    assertEquals(ErrorCode.SUCCESS, call(sim, Command.PUT, via));
    assertEquals(4, count(sim, false), "the value on its 4 replicas");
    int paused = set[3];
    sim.pause(paused);
    sim.runUntil(sim.nowMs() + 1_000);
    assertEquals(ErrorCode.SUCCESS, call(sim, Command.REMOVE, via),
        "acknowledged once the paused replica is declared dead and replaced");
    sim.runUntil(sim.nowMs() + 3_000);
    sim.resume(paused);
    sim.runUntil(sim.nowMs() + 5_000);
    assertEquals(0, count(sim, false), "no replica keeps the old value");
    assertEquals(4, count(sim, true), "the replica that missed the REMOVE pulled its tombstone");
    sim.runUntil(sim.nowMs() + 10_000);
    assertEquals(4, count(sim, true), "before the retention has passed, tombstones stay");
    sim.runUntil(sim.nowMs() + 10_000);
    assertEquals(0, count(sim, true), "after it, every copy has expired");
    assertEquals(0, count(sim, false));
    assertEquals(ErrorCode.NOT_FOUND, call(sim, Command.GET, via));
  }

  @Test
  void aReplicaStalledLongerThanHalfTheRetentionForgetsItsData() {
    Simulation sim = start(6_000);
    int[] set = replicas(sim);
    int via = outside(set);
    assertEquals(ErrorCode.SUCCESS, call(sim, Command.PUT, via));
    int paused = set[3];
    sim.pause(paused);
    sim.runUntil(sim.nowMs() + 500);
    assertEquals(ErrorCode.SUCCESS, call(sim, Command.REMOVE, via));
    sim.runUntil(sim.nowMs() + 9_000); // the tombstones expire meanwhile
    assertEquals(0, count(sim, true), "tombstones expired while the replica slept");
    sim.resume(paused);
    sim.runUntil(sim.nowMs() + 8_000);
    assertEquals(0, count(sim, false), "the stalled replica dropped the old value");
    assertEquals(ErrorCode.NOT_FOUND, call(sim, Command.GET, via));
    assertEquals(1, sim.node(paused).replication().dataForgotten());
  }
}
