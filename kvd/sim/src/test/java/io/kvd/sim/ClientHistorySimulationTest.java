package io.kvd.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.kvd.check.Checker;
import io.kvd.check.Operation;
import io.kvd.core.cluster.MembershipConfig;
import io.kvd.core.cluster.Ring;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Proves routing and at-most-once end to end while membership is stable: in simulated 20-node
 * clusters with 10% loss (client links included), 5% duplication and reordering, 32 closed-loop
 * clients retrying through random nodes produce histories that the checker finds linearizable and
 * sequentially consistent on every key. A lost reply, a duplicated request or a retry through
 * another node must neither execute a write twice nor show a stale value.
 */
class ClientHistorySimulationTest {
  @Test
  void historiesUnderLossAndRetriesAreLinearizable() {
    run(Long.getLong("kvd.sim.historySeeds", 3), 1_000);
  }

  @Tag("slow")
  @Test
  void manyMoreHistories() {
    run(50, 2_000);
  }

  private static void run(long count, long base) {
    Long one = Long.getLong("kvd.sim.seed");
    int totalOps = 0;
    for (long s = 0; s < (one != null ? 1 : count); s++) {
      long seed = one != null ? one : base + s;
      NetworkConfig network = NetworkConfig.CALM.withLossPct(10).withDuplicatePct(5)
          .withReorderPct(5);
      Simulation sim = new Simulation(seed, 20, network, MembershipConfig.DEFAULT,
          Ring.VIRTUAL_NODES_DEFAULT);
      sim.setClientLinksFaulty(true);
      sim.runUntil(3_000);
      SimClients clients = new SimClients(sim, 32, 40, seed);
      clients.start(sim.nowMs() + 30_000);
      sim.runUntil(sim.nowMs() + 32_000);
      List<Operation> history = clients.history();
      Checker.Report report = new Checker().check(history);
      long ok = history.stream().filter(o -> o.outcome() == Operation.Outcome.OK).count();
      totalOps += history.size();
      if (!report.clean()) {
        fail("seed=" + seed + " (replay: -Dkvd.sim.seed=" + seed + "): " + report.toJson() + "\n"
            + report.smallestViolation());
      }
      assertTrue(ok > history.size() * 0.9, "seed=" + seed + ": only " + ok + " of "
          + history.size() + " answered");
      assertEquals(0, report.linearizableUnknown(), "seed=" + seed + ": checker budget hit");
      assertTrue(sim.membershipConverged(), "seed=" + seed);
    }
    System.out.printf("client histories: %d operations checked, 0 anomalies%n", totalOps);
  }
}
