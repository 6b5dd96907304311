package io.kvd.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvd.check.Checker;
import io.kvd.check.Operation;
import io.kvd.core.Node;
import io.kvd.core.cluster.MembershipConfig;
import io.kvd.core.cluster.Ring;
import io.kvd.core.store.Store;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.HdrHistogram.Histogram;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Measures repair in simulated time: 20 nodes whose stores hold {@code kvd.repair.keysPerNode}
 * keys per node (default 10,000, as primary; 4 copies each, loaded straight into the replicas'
 * stores) of 100 bytes, with 16 clients working on other keys. One node crashes; the test reports
 * how long after its detection every key again has a copy on each member of its new replica set,
 * the bytes repair pushed, and the clients' latency meanwhile; then the node restarts empty and
 * the test reports how long it takes to hold all its keys again. Run with
 * {@code mvn -pl kvd/sim test -Pslow -Dtest=RepairBenchmarkTest}.
 */
@Tag("slow")
class RepairBenchmarkTest {
  private static final int NODES = 20;

  @Test
  void repairAfterACrashAndARestart() {
    int keysPerNode = Integer.getInteger("kvd.repair.keysPerNode", 10_000);
    int keys = keysPerNode * NODES;
    Simulation sim = new Simulation(4_242, NODES, NetworkConfig.CALM, MembershipConfig.DEFAULT,
        Ring.VIRTUAL_NODES_DEFAULT);
    sim.runUntil(2_000);
    byte[] value = new byte[100];
    boolean[] all = new boolean[NODES];
    java.util.Arrays.fill(all, true);
    int[] set = new int[4];
    Ring ring = sim.ring();
    for (int k = 0; k < keys; k++) {
      byte[] key = key(k);
      int n = ring.replicas(Ring.keyToken(key, 0, key.length), all, set);
      for (int i = 0; i < n; i++) {
        sim.node(nodeOfRing(sim, set[i])).store().put(key, value, 0, value.length, k,
            (1L << 16) | set[0]);
      }
    }
    sim.runUntil(sim.nowMs() + 3_000); // repair cycles find nothing to do
    assertEquals(0, missingCopies(sim, keys), "copies missing before any fault");

    SimClients clients = new SimClients(sim, 16, 200, 7);
    clients.start(sim.nowMs() + 60_000);
    int victim = 5;
    long pushedBefore = pushedBytes(sim);
    long crashAtMs = sim.nowMs();
    sim.crash(victim);
    long detectedAtMs = -1;
    long repairedAtMs = -1;
    while (sim.nowMs() < crashAtMs + 60_000) {
      sim.runUntil(sim.nowMs() + 250);
      if (detectedAtMs < 0 && detectedByAll(sim, victim)) {
        detectedAtMs = sim.nowMs();
      }
      if (detectedAtMs >= 0 && missingCopies(sim, keys) == 0) {
        repairedAtMs = sim.nowMs();
        break;
      }
    }
    assertTrue(detectedAtMs > 0 && repairedAtMs > 0, "repair did not finish within 60 s");
    long pushed = pushedBytes(sim) - pushedBefore;
    long restartAtMs = sim.nowMs();
    sim.restart(victim);
    long caughtUpAtMs = -1;
    while (sim.nowMs() < restartAtMs + 60_000) {
      sim.runUntil(sim.nowMs() + 250);
      if (missingCopies(sim, keys) == 0 && sim.node(victim).replication().repair().synced()) {
        caughtUpAtMs = sim.nowMs();
        break;
      }
    }
    assertTrue(caughtUpAtMs > 0, "the restarted node did not catch up within 60 s");
    sim.runUntil(sim.nowMs() + 3_000);
    List<Operation> history = clients.history();
    Histogram latency = new Histogram(3);
    for (Operation o : history) {
      if (o.outcome() == Operation.Outcome.OK) {
        latency.recordValue((o.completeNs() - o.invokeNs()) / 1_000_000);
      }
    }
    Checker.Report report = new Checker().check(history);
    System.out.printf("repair: %d keys per node (%d copies); crash detected by all %d ms after"
        + " the crash; every key back to 4 copies %d ms after detection; %.1f MiB pushed;"
        + " restarted node caught up in %d ms; clients %d ops, p50 %d ms, p99 %d ms, max %d ms"
        + " (simulated); checker %s%n", keysPerNode, keys * 4L, detectedAtMs - crashAtMs,
        repairedAtMs - detectedAtMs, pushed / 1048576.0, caughtUpAtMs - restartAtMs,
        history.size(), latency.getValueAtPercentile(50), latency.getValueAtPercentile(99),
        latency.getMaxValue(), report.toJson());
    assertTrue(report.clean(), report.toJson());
  }

  private static byte[] key(int k) {
    return ("bench-" + k).getBytes(StandardCharsets.UTF_8);
  }

  private static int nodeOfRing(Simulation sim, int ringIndex) {
    for (int n = 0; n < NODES; n++) {
      if (sim.ringIndex(n) == ringIndex) {
        return n;
      }
    }
    throw new IllegalStateException("no node for ring index " + ringIndex);
  }

  private static boolean detectedByAll(Simulation sim, int victim) {
    for (int n = 0; n < NODES; n++) {
      if (n != victim && sim.state(n) == Simulation.State.UP
          && sim.node(n).membership().live()[sim.ringIndex(victim)]) {
        return false;
      }
    }
    return true;
  }

  /** Copies missing from members of each key's replica set, in node 0's view (node 0 is up). */
  private static long missingCopies(Simulation sim, int keys) {
    Node observer = sim.node(0);
    boolean[] live = observer.membership().live();
    int[] set = new int[4];
    long missing = 0;
    for (int k = 0; k < keys; k++) {
      byte[] key = key(k);
      int n = observer.ring().replicas(Ring.keyToken(key, 0, key.length), live, set);
      for (int i = 0; i < n; i++) {
        int node = nodeOfRing(sim, set[i]);
        byte[] record = sim.node(node).store().get(key);
        if (sim.state(node) != Simulation.State.UP || record == null
            || Store.stamp(record) == 0) {
          missing++;
        }
      }
    }
    return missing;
  }

  private static long pushedBytes(Simulation sim) {
    long total = 0;
    for (int n = 0; n < NODES; n++) {
      total += sim.node(n).replication().repair().bytesPushed();
    }
    return total;
  }
}
