package io.kvd.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvd.bench.Workload.Op;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.HdrHistogram.Histogram;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Proves kvbench's load model against a fake server: a closed loop keeps exactly N requests in
 * flight (N distinct messageIDs while the server holds every reply, and one new request per
 * reply once it answers), and an open loop sends at its rate from intended times and measures
 * latency from them, so a server that stalls for one second shows the stall in the percentiles
 * (coordinated omission corrected) instead of hiding it.
 */
@Timeout(60)
class LoadModelTest {
  private static LoadEngine.Settings settings(FakeServer server, int clients, double rate,
      long timeoutMs) {
    return new LoadEngine.Settings(List.of(server.address()), (key, random) -> server.address(),
        false, clients, 2, rate, timeoutMs, 0, 0,
        Workload.of(Workload.Name.CUSTOM, "get=100", null), 1_000, 10, 10, 7, false, "k");
  }

  @Test
  void aClosedLoopKeepsExactlyNRequestsInFlight() throws Exception {
    int clients = 257;
    try (FakeServer server = new FakeServer()) {
      server.hold();
      Results results = new Results();
      try (LoadEngine engine = new LoadEngine(settings(server, clients, 0, 10_000), results)) {
        engine.start();
        engine.startRecording();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (server.ids.size() < clients && System.nanoTime() < deadline) {
          Thread.sleep(5);
        }
        Thread.sleep(300); // time for any request beyond N to show
        assertEquals(clients, server.ids.size(), "exactly N requests while none is answered");
        assertEquals(clients, engine.inFlight());
        server.release();
        deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (results.completedCount() < clients && System.nanoTime() < deadline) {
          Thread.sleep(5);
        }
        server.hold();
        Thread.sleep(300);
        long answered = results.completedCount();
        assertTrue(answered >= clients, "every held request answered: " + answered);
        assertEquals(clients + answered, server.ids.size(),
            "one new request per answer, never more");
        assertEquals(clients, engine.inFlight());
        engine.stop();
        server.release();
      }
      assertEquals(0, results.retries(), "no resends within the 10 s timeout");
    }
  }

  @Test
  void theWarmUpIsNotCountedThoughItRunsTheSameCode() throws Exception {
    int clients = 8;
    try (FakeServer server = new FakeServer()) {
      server.hold();
      Results results = new Results();
      try (LoadEngine engine = new LoadEngine(settings(server, clients, 0, 10_000), results)) {
        engine.start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (server.ids.size() < clients && System.nanoTime() < deadline) {
          Thread.sleep(5);
        }
        server.release(); // warm-up: these answers and the ones after them count nowhere
        deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (server.ids.size() < 20 * clients && System.nanoTime() < deadline) {
          Thread.sleep(5);
        }
        server.hold();
        Thread.sleep(300);
        assertEquals(0, results.completedCount(), "nothing counted before startRecording");
        long sentBefore = server.ids.size();
        engine.startRecording();
        server.release();
        deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (results.completedCount() < 10L * clients && System.nanoTime() < deadline) {
          Thread.sleep(5);
        }
        engine.stop();
        Thread.sleep(300);
        long counted = results.completedCount();
        assertTrue(counted >= 10L * clients, "measured answers counted: " + counted);
        // Every counted answer is to a request the server saw: the held ones (sent in the
        // warm-up, answered while recording) and those sent since.
        assertTrue(counted <= server.ids.size() - sentBefore + clients,
            counted + " counted, " + (server.ids.size() - sentBefore) + " sent since");
        assertEquals(counted, results.latencyUs(Op.GET).getTotalCount());
      }
    }
  }

  @Test
  void anOpenLoopMeasuresFromIntendedTimesThroughAStall() throws Exception {
    double rate = 2_000;
    try (FakeServer server = new FakeServer()) {
      Results results = new Results();
      long runNanos;
      try (LoadEngine engine = new LoadEngine(settings(server, 4_000, rate, 10_000), results)) {
        engine.start();
        engine.startRecording();
        long start = System.nanoTime();
        Thread.sleep(1_000);
        server.stall(1_000);
        Thread.sleep(2_000);
        engine.stop();
        runNanos = System.nanoTime() - start;
        Thread.sleep(200);
      }
      long sent = results.completedCount();
      double expected = rate * runNanos / 1e9;
      assertEquals(expected, sent, expected * 0.1, "requests follow the rate, stall or not");
      Histogram h = results.latencyUs(Op.GET);
      // A third of the run falls in the stall: those requests waited up to a second from their
      // intended times. Measured from the actual sends, only the few in flight would.
      assertTrue(h.getMaxValue() >= 900_000, "max " + h.getMaxValue() + " us");
      assertTrue(h.getValueAtPercentile(80) >= 100_000, "p80 " + h.getValueAtPercentile(80)
          + " us: the stall is in the percentiles");
      assertTrue(h.getValueAtPercentile(50) < 100_000, "p50 " + h.getValueAtPercentile(50)
          + " us: the rest was fast");
    }
  }

  @Test
  void retriesResendTheSameMessageIdAndTimeoutsAreCounted() throws Exception {
    try (FakeServer server = new FakeServer()) {
      server.hold();
      Results results = new Results();
      LoadEngine.Settings s = new LoadEngine.Settings(List.of(server.address()),
          (key, random) -> server.address(), false, 3, 1, 0, 20, 2, 0,
          Workload.of(Workload.Name.C, null, null), 100, 10, 10, 7, false, "k");
      try (LoadEngine engine = new LoadEngine(s, results)) {
        engine.start();
        engine.startRecording();
        Thread.sleep(20 + 40 + 80 + 200);
        engine.stop();
        Thread.sleep(100);
      }
      assertTrue(results.timeoutCount() >= 3, "each client timed out after 2 resends");
      assertTrue(results.retries() >= 6, "2 resends each: " + results.retries());
      assertTrue(server.received.get() >= 9, "3 sends per request reached the server");
      // Every resend reuses its request's ID: 3 datagrams per ID, fewer only for the 3
      // requests that the stop cut short.
      long datagrams = server.received.get();
      int ids = server.ids.size();
      assertTrue(datagrams <= 3L * ids && datagrams >= 3L * (ids - 3), datagrams
          + " datagrams for " + ids + " IDs");
    }
  }
}
