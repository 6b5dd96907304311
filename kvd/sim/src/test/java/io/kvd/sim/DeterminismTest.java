package io.kvd.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvd.core.cluster.MembershipConfig;
import io.kvd.core.cluster.Ring;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Proves that a simulation is a function of its seed: the same seed, run twice, produces the same
 * sequence of membership changes (observer, member, transition, time) and the same traffic, and a
 * different seed a different one; and that the simulator scales to 100 nodes, which detect a
 * crash and converge.
 */
class DeterminismTest {
  private static List<String> trace(long seed) {
    NetworkConfig lossy = NetworkConfig.CALM.withLossPct(5).withDuplicatePct(1)
        .withReorderPct(3);
    Simulation sim = new Simulation(seed, 12, lossy, MembershipConfig.DEFAULT, 64);
    List<String> trace = new ArrayList<>();
    sim.setStatusObserver((observer, member, from, to, now) ->
        trace.add(observer + ":" + member + ":" + from + ">" + to + "@" + now));
    sim.runUntil(5_000);
    sim.crash(3);
    sim.pause(7);
    sim.runUntil(15_000);
    sim.restart(3);
    sim.resume(7);
    sim.runUntil(25_000);
    long bytes = 0;
    for (int i = 0; i < sim.size(); i++) {
      bytes += sim.bytesSent(i);
    }
    trace.add("bytes=" + bytes + " delivered=" + sim.datagramsDelivered());
    return trace;
  }

  @Test
  void theSameSeedReplaysTheSameRun() {
    List<String> first = trace(99);
    assertTrue(first.size() > 20, "the run did something: " + first.size());
    assertEquals(first, trace(99));
    assertNotEquals(first, trace(100));
  }

  @Test
  void hundredNodesDetectACrashAndConverge() {
    Simulation sim = new Simulation(5, 100, NetworkConfig.CALM, MembershipConfig.DEFAULT,
        Ring.VIRTUAL_NODES_DEFAULT);
    sim.runUntil(10_000);
    assertTrue(sim.membershipConverged());
    sim.crash(42);
    long crashedAt = sim.nowMs();
    while (!sim.membershipConverged() && sim.nowMs() - crashedAt < 10_000) {
      sim.runUntil(sim.nowMs() + 50);
    }
    long detectedMs = sim.nowMs() - crashedAt;
    System.out.printf("simulation, 100 nodes: crash detected by all in %d ms%n", detectedMs);
    assertTrue(sim.membershipConverged(), "100 nodes did not converge after a crash");
    assertTrue(detectedMs <= 6_000, detectedMs + " ms");
  }
}
