package io.kvd.server;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvd.client.KvClient;
import io.kvd.client.RetryPolicy;
import io.kvd.client.Versioned;
import io.kvd.testkit.KvdCluster;
import io.kvd.testkit.KvdProcess;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Proves the transport's fault injection on real processes: members started with loss,
 * duplication, reordering and delay say so at start-up, the client sees the loss (it has to
 * retry), and the cluster still converges and serves every request, which retries make
 * succeed, with the values written. A node with delay only answers no sooner than the delay, and
 * still acknowledges SHUTDOWN before it exits.
 */
@Timeout(120)
class FaultInjectionIT {
  private static final long SEED = Long.getLong("kvd.seed", 5L);
  private static final int NODES = 3;
  private static final int KEYS = 200;

  @Test
  void aClusterWithLossDuplicationReorderingAndDelayConvergesAndServes() throws Exception {
    try (KvdCluster cluster = KvdCluster.start(NODES, List.of(), "--fault-loss-pct", "5",
            "--fault-duplicate-pct", "5", "--fault-reorder-pct", "10", "--fault-delay-ms", "5",
            "--fault-jitter-ms", "3", "--fault-seed", Long.toString(SEED));
        KvClient client = KvClient.open(RetryPolicy.DEFAULT.withRetriesMax(6), 4096)) {
      String log = cluster.member(0).logText();
      assertTrue(log.contains("faults: loss 5.0%, duplicate 5.0%, reorder 10.0%, delay 5 ms +- 3"
          + " ms, seed " + SEED), log);

      long deadline = System.nanoTime() + 30_000_000_000L;
      boolean converged = false;
      while (!converged && System.nanoTime() < deadline) {
        converged = true;
        for (int i = 0; i < NODES; i++) {
          converged &= client.membershipCount(cluster.address(i)).handle(
              (n, e) -> e == null && n == NODES).join();
        }
        Thread.sleep(100);
      }
      assertTrue(converged, "every member counts " + NODES + " despite the faults");

      Random random = new Random(SEED);
      List<CompletableFuture<Void>> puts = new ArrayList<>();
      List<byte[]> values = new ArrayList<>();
      for (int k = 0; k < KEYS; k++) {
        byte[] value = new byte[1 + random.nextInt(1000)];
        random.nextBytes(value);
        values.add(value);
        InetSocketAddress node = cluster.address(random.nextInt(NODES));
        puts.add(client.put(node, key(k), value, k));
      }
      puts.forEach(CompletableFuture::join);
      for (int k = 0; k < KEYS; k++) {
        Versioned got = client.get(cluster.address(random.nextInt(NODES)), key(k)).join()
            .orElseThrow();
        assertArrayEquals(values.get(k), got.value(), "key " + k);
        assertEquals(k, got.version());
      }
      assertTrue(client.stats().retries() > 0, "with 5% loss some requests were retried");
    }
  }

  @Test
  void delayedRepliesArriveLateAndShutdownWaitsForThem() throws Exception {
    try (KvdProcess kvd = KvdProcess.start("--fault-delay-ms", "30", "--fault-jitter-ms", "5");
        KvClient client = KvClient.open(RetryPolicy.DEFAULT.withTimeoutMsInitial(500), 16)) {
      for (int i = 0; i < 5; i++) {
        long startNanos = System.nanoTime();
        client.isAlive(kvd.address()).join();
        long elapsedMs = (System.nanoTime() - startNanos) / 1_000_000;
        assertTrue(elapsedMs >= 25, "reply after " + elapsedMs + " ms, delay 30 +- 5 ms");
      }
      assertTrue(client.shutdown(kvd.address()).join(), "the delayed SHUTDOWN reply arrives");
      assertEquals(0, kvd.awaitExit(Duration.ofSeconds(10)));
    }
  }

  private static byte[] key(int k) {
    return ("faulty-" + k).getBytes(StandardCharsets.UTF_8);
  }
}
