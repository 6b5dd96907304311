package io.kvd.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.kvd.core.Addresses;
import io.kvd.core.Command;
import io.kvd.core.ErrorCode;
import io.kvd.core.cluster.MembershipConfig;
import io.kvd.core.cluster.Ring;
import io.kvd.core.codec.ClientCodec;
import io.kvd.core.replication.ReplicationConfig;
import io.kvd.proto.ClientProtocol.KVRequest;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Repair at its limits: rounds longer than keysPerRoundMax, and a sweep of WIPEOUTs. */
class RepairSimulationTest {
  private static final int NODES = 6;

  private static byte[] key(int k) {
    return ("key-" + k).getBytes(StandardCharsets.UTF_8);
  }

  /** Loads {@code keys} keys straight into their 4 replicas' stores. */
  private static void load(Simulation sim, int keys) {
    boolean[] all = new boolean[NODES];
    java.util.Arrays.fill(all, true);
    int[] set = new int[4];
    byte[] value = new byte[20];
    for (int k = 0; k < keys; k++) {
      byte[] key = key(k);
      int n = sim.ring().replicas(Ring.keyToken(key, 0, key.length), all, set);
      for (int i = 0; i < n; i++) {
        sim.node(nodeOf(sim, set[i])).store().put(key, value, 0, value.length, k, 1L << 16);
      }
    }
  }

  private static int nodeOf(Simulation sim, int ringIndex) {
    for (int n = 0; n < NODES; n++) {
      if (sim.ringIndex(n) == ringIndex) {
        return n;
      }
    }
    throw new IllegalStateException();
  }

  @Test
  void aRestartedNodeCatchesUpOnMoreKeysThanOneRoundLists() {
    int keysPerRoundMax = 50;
    Simulation sim = new Simulation(5, NODES, NetworkConfig.CALM, MembershipConfig.DEFAULT,
        Ring.VIRTUAL_NODES_DEFAULT, ReplicationConfig.DEFAULT.withKeysPerRoundMax(keysPerRoundMax));
    int keys = 1_500;
    load(sim, keys);
    sim.runUntil(2_000);
    int victim = 3;
    int held = sim.node(victim).store().size();
    assertTrue(held > 10 * keysPerRoundMax, "the victim holds " + held + " keys");
    sim.crash(victim);
    sim.runUntil(sim.nowMs() + 1_000); // a restart before detection
    sim.restart(victim);
    assertEquals(0, sim.node(victim).store().size());
    sim.runUntil(sim.nowMs() + 15_000);
    assertEquals(held, sim.node(victim).store().size(), "the restarted node got all its keys");
    assertTrue(sim.node(victim).replication().repair().synced(), "and is ready again");
  }

  @Test
  void aSweepOfWipeoutsIsNotUndoneByRepair() {
    Simulation sim = new Simulation(6, NODES, NetworkConfig.CALM, MembershipConfig.DEFAULT,
        Ring.VIRTUAL_NODES_DEFAULT);
    load(sim, 300);
    sim.runUntil(2_000);
    Map<Long, Integer> codes = new HashMap<>();
    sim.setClientReplies((client, node, datagram) -> {
      try {
        var msg = ClientCodec.decodeMsg(datagram, datagram.length, 65_507, 16);
        codes.put(ByteBuffer.wrap(msg.getMessageID().toByteArray()).getLong(8),
            ClientCodec.decodeReply(msg).getErrCode());
      } catch (ClientCodec.DecodeException e) {
        throw new IllegalStateException(e);
      }
    });
    long client = Addresses.of(0x0C00_0001, 40_000);
    for (int n = 0; n < NODES; n++) {
      long id = 100 + n;
      sim.clientSend(client, n, ClientCodec.encodeRequest(
          ByteString.copyFrom(ByteBuffer.allocate(16).putLong(client).putLong(id).array()),
          KVRequest.newBuilder().setCommand(Command.WIPEOUT).build()));
      sim.runUntil(sim.nowMs() + 200); // one node after another, as an operator's loop
      assertEquals(ErrorCode.SUCCESS, codes.get(id), "WIPEOUT of node " + n);
    }
    sim.runUntil(sim.nowMs() + 10_000);
    for (int n = 0; n < NODES; n++) {
      assertEquals(0, sim.node(n).store().size(), "node " + n + " refilled after the sweep");
      assertTrue(sim.node(n).replication().repair().synced(), "node " + n + " ready again");
    }
  }
}
