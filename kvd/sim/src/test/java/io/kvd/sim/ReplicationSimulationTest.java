package io.kvd.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.kvd.check.Checker;
import io.kvd.check.LostWrites;
import io.kvd.check.Operation;
import io.kvd.core.cluster.MembershipConfig;
import io.kvd.core.cluster.Ring;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Proves the replication guarantee in simulated 20-node clusters, one seed per run: 10% loss, 5%
 * duplication and 5% reordering on every link (client links included), 16 closed-loop clients on
 * 24 keys for 12 s, and, in three of four seeds, 1 to 4 faults drawn from the seed: crashes with
 * restarts (empty), pauses (SIGSTOP; long ones get the node declared dead) and partitions that cut
 * 1 to 3 nodes off. Afterwards everything heals, repair runs, and readers GET every key once.
 *
 * <p>Every seed must show 0 lost acknowledged writes (final reads older than an acknowledged
 * write, see {@link LostWrites}) and 0 per-key sequential-consistency anomalies; seeds without
 * membership changes must also be linearizable on every key. Linearizability anomalies under
 * churn are counted and printed (the goal is 0). A failure prints its seed: replay it with
 * {@code -Dkvd.sim.seed=N}.
 */
class ReplicationSimulationTest {
  private static final int NODES = 20;
  private static final int KEYS = 24;

  @Test
  void acknowledgedWritesSurviveFaults() {
    run(Long.getLong("kvd.sim.replicationSeeds", 200), Long.getLong("kvd.sim.replicationBase", 5_000));
  }

  @Tag("slow")
  @Test
  void manyMoreSeeds() {
    run(2_000, 100_000);
  }

  /**
   * The edge of the majority rule: with 9 of 20 nodes cut off, the 11 keep serving and the 9
   * refuse with OVERLOAD; with the cluster split 10 and 10, neither side has a majority and both
   * refuse; after healing, everyone serves again.
   */
  @Test
  void aSideWithoutAMajorityRefuses() {
    Simulation sim = new Simulation(77, NODES, NetworkConfig.CALM, MembershipConfig.DEFAULT,
        Ring.VIRTUAL_NODES_DEFAULT);
    java.util.Map<Long, Integer> codes = new java.util.HashMap<>();
    sim.setClientReplies((client, node, datagram) -> {
      try {
        var msg = io.kvd.core.codec.ClientCodec.decodeMsg(datagram, datagram.length, 65_507, 16);
        codes.put(client, io.kvd.core.codec.ClientCodec.decodeReply(msg).getErrCode());
      } catch (io.kvd.core.codec.ClientCodec.DecodeException e) {
        throw new IllegalStateException(e);
      }
    });
    sim.runUntil(3_000);
    int[] nine = {0, 1, 2, 3, 4, 5, 6, 7, 8};
    sim.isolate(nine);
    sim.runUntil(sim.nowMs() + 8_000);
    for (int n = 0; n < NODES; n++) {
      int code = getFrom(sim, codes, n, "minority-" + n);
      assertEquals(n < 9 ? io.kvd.core.ErrorCode.OVERLOAD : io.kvd.core.ErrorCode.NOT_FOUND, code,
          "node " + n + " with 9 of 20 cut off");
    }
    sim.heal();
    sim.runUntil(sim.nowMs() + 8_000);
    sim.isolate(0, 1, 2, 3, 4, 5, 6, 7, 8, 9);
    sim.runUntil(sim.nowMs() + 8_000);
    for (int n = 0; n < NODES; n++) {
      assertEquals(io.kvd.core.ErrorCode.OVERLOAD, getFrom(sim, codes, n, "half-" + n),
          "node " + n + " with the cluster split in halves");
    }
    sim.heal();
    sim.runUntil(sim.nowMs() + 8_000);
    for (int n = 0; n < NODES; n++) {
      assertEquals(io.kvd.core.ErrorCode.NOT_FOUND, getFrom(sim, codes, n, "healed-" + n),
          "node " + n + " after healing");
    }
  }

  private static int getFrom(Simulation sim, java.util.Map<Long, Integer> codes, int node,
      String key) {
    long client = io.kvd.core.Addresses.of(0x0A00_0000 | node, 50_000);
    codes.remove(client);
    byte[] id = java.nio.ByteBuffer.allocate(16).putLong(client).putLong(sim.nowMs()).array();
    sim.clientSend(client, node, io.kvd.core.codec.ClientCodec.encodeRequest(
        com.google.protobuf.ByteString.copyFrom(id), io.kvd.proto.ClientProtocol.KVRequest
            .newBuilder().setCommand(io.kvd.core.Command.GET)
            .setKey(com.google.protobuf.ByteString.copyFromUtf8(key)).build()));
    sim.runUntil(sim.nowMs() + 1_500);
    Integer code = codes.get(client);
    return code == null ? -1 : code;
  }

  private record Outcome(int operations, int linearizabilityAnomalies, boolean stable) {}

  private static void run(long count, long base) {
    Long one = Long.getLong("kvd.sim.seed");
    long seeds = one != null ? 1 : count;
    int operations = 0;
    int churnSeeds = 0;
    int churnAnomalies = 0;
    int stableSeeds = 0;
    List<Long> anomalous = new ArrayList<>();
    for (long s = 0; s < seeds; s++) {
      long seed = one != null ? one : base + s;
      Outcome outcome = runSeed(seed);
      operations += outcome.operations();
      if (outcome.stable()) {
        stableSeeds++;
      } else {
        churnSeeds++;
        churnAnomalies += outcome.linearizabilityAnomalies();
        if (outcome.linearizabilityAnomalies() > 0) {
          anomalous.add(seed);
        }
      }
    }
    if (!anomalous.isEmpty()) {
      System.out.println("replication: seeds with keys not linearizable under churn: " + anomalous);
    }
    System.out.printf("replication: %d seeds (%d stable, %d with faults), %d operations checked:"
        + " 0 lost acknowledged writes, 0 sequential-consistency anomalies, %d keys not"
        + " linearizable under churn%n", seeds, stableSeeds, churnSeeds, operations,
        churnAnomalies);
  }

  private static Outcome runSeed(long seed) {
    String replay = "seed=" + seed + " (replay: -Dkvd.sim.seed=" + seed + ")";
    NetworkConfig network = NetworkConfig.CALM.withLossPct(10).withDuplicatePct(5)
        .withReorderPct(5);
    Simulation sim = new Simulation(seed, NODES, network, MembershipConfig.DEFAULT,
        Ring.VIRTUAL_NODES_DEFAULT);
    sim.setClientLinksFaulty(true);
    SplittableRandom random = new SplittableRandom(seed ^ 0x5EED);
    boolean stable = Math.floorMod(seed, 4) == 0;
    sim.runUntil(3_000);
    long workStartMs = sim.nowMs();
    long workEndMs = workStartMs + 12_000;
    List<String> faults = stable ? List.of() : scheduleFaults(sim, random, workStartMs);
    SimClients clients = new SimClients(sim, 16, KEYS, seed);
    clients.start(workEndMs);
    sim.runUntil(workEndMs);
    // Heal everything, let in-flight operations end, membership settle and repair run.
    for (int n = 0; n < NODES; n++) {
      if (sim.state(n) == Simulation.State.PAUSED) {
        sim.resume(n);
      } else if (sim.state(n) == Simulation.State.CRASHED) {
        sim.restart(n);
      }
    }
    sim.heal();
    sim.runUntil(sim.nowMs() + 8_000);
    List<Operation> history = new ArrayList<>(clients.history());
    SimClients readers = SimClients.readBack(sim, 4, KEYS, seed + 1, 1_000);
    readers.start(sim.nowMs() + 10_000);
    sim.runUntil(sim.nowMs() + 10_000);
    List<Operation> finalReads = readers.history();
    history.addAll(finalReads);

    String context = replay + (faults.isEmpty() ? ", no faults" : ", faults " + faults)
        + "\n" + nodeStates(sim);
    for (int k = 0; k < KEYS; k++) {
      String key = "key-" + k;
      if (finalReads.stream().noneMatch(o -> o.key().equals(key)
          && o.outcome() == Operation.Outcome.OK)) {
        fail(context + ": no final read of " + key + " answered\n"
            + keyReport(sim, key, history));
      }
    }
    List<LostWrites.Lost> lost = LostWrites.find(history, o -> o.client() >= 1_000);
    if (!lost.isEmpty()) {
      fail(context + ": " + lost.size() + " lost acknowledged writes, first " + lost.get(0)
          + "\n" + keyReport(sim, lost.get(0).read().key(), history));
    }
    Checker.Report report = new Checker().check(history);
    if (report.sequentialViolations() > 0 || (stable && report.linearizableViolations() > 0)) {
      fail(context + ": " + report.toJson() + "\n" + report.smallestViolation());
    }
    assertEquals(0, report.sequentialUnknown(), context + ": checker budget hit");
    long ok = history.stream().filter(o -> o.outcome() == Operation.Outcome.OK).count();
    assertTrue(ok > history.size() / 2, context + ": only " + ok + " of " + history.size()
        + " answered");
    assertTrue(sim.membershipConverged(), context + ": membership did not converge");
    return new Outcome(history.size(), report.linearizableViolations(), stable);
  }

  private static String keyReport(Simulation sim, String key, List<Operation> history) {
    StringBuilder b = new StringBuilder();
    byte[] k = key.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    long token = Ring.keyToken(k, 0, k.length);
    for (int n = 0; n < NODES; n++) {
      var node = sim.node(n);
      int[] set = new int[4];
      int count = node.ring().replicas(token, node.membership().live(), set);
      byte[] rec = node.store().get(k);
      b.append(String.format("node %d (ring %d) set %s ready %s stamp %s ops %d%n", n,
          sim.ringIndex(n), java.util.Arrays.toString(java.util.Arrays.copyOf(set, count)),
          node.replication().repair().readyFor(token),
          rec == null ? "-" : Long.toHexString(io.kvd.core.store.Store.stamp(rec)),
          node.replication().operations()));
    }
    history.stream().filter(o -> o.key().equals(key)).forEach(o -> b.append(o).append('\n'));
    return b.toString();
  }

  private static String nodeStates(Simulation sim) {
    StringBuilder b = new StringBuilder();
    for (int n = 0; n < NODES; n++) {
      var node = sim.node(n);
      var repair = node.replication().repair();
      b.append(String.format("node %d %s live %d synced %s cycles %d last %d ms rounds %d"
          + " pulled %d refused %d/%d abandoned %d keys %d%n", n, sim.state(n),
          node.membership().liveCount(), repair.synced(), repair.cyclesCompleted(),
          repair.lastCycleMs(), repair.roundsCompleted(), repair.keysPulled(),
          node.replication().refusedNoMajority(), node.replication().refusedNoQuorum(),
          node.replication().writesAbandoned(), node.store().size()));
    }
    return b.toString();
  }

  /** 1 to 4 faults during the workload, at most 3 nodes affected at once. */
  private static List<String> scheduleFaults(Simulation sim, SplittableRandom random,
      long startMs) {
    List<String> faults = new ArrayList<>();
    int count = 1 + random.nextInt(4);
    for (int f = 0; f < count; f++) {
      long atMs = startMs + 500 + random.nextLong(9_000);
      long forMs = 500 + random.nextLong(4_500);
      int node = random.nextInt(NODES);
      switch (random.nextInt(3)) {
        case 0 -> {
          faults.add("crash " + node + " at " + atMs + " for " + forMs + " ms");
          sim.at(atMs, () -> {
            if (sim.state(node) == Simulation.State.UP) {
              sim.crash(node);
              sim.at(atMs + forMs, () -> {
                if (sim.state(node) == Simulation.State.CRASHED) {
                  sim.restart(node);
                }
              });
            }
          });
        }
        case 1 -> {
          faults.add("pause " + node + " at " + atMs + " for " + forMs + " ms");
          sim.at(atMs, () -> {
            if (sim.state(node) == Simulation.State.UP) {
              sim.pause(node);
              sim.at(atMs + forMs, () -> sim.resume(node));
            }
          });
        }
        default -> {
          int size = 1 + random.nextInt(3);
          int[] group = new int[size];
          for (int i = 0; i < size; i++) {
            group[i] = (node + i * 7) % NODES;
          }
          faults.add("isolate " + java.util.Arrays.toString(group) + " at " + atMs + " for "
              + forMs + " ms");
          sim.at(atMs, () -> sim.isolate(group));
          sim.at(atMs + forMs, sim::heal);
        }
      }
    }
    return faults;
  }
}
