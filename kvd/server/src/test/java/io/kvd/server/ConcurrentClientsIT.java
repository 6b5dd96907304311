package io.kvd.server;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvd.client.KvClient;
import io.kvd.client.RetryPolicy;
import io.kvd.client.Versioned;
import io.kvd.testkit.KvdProcess;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Proves that a bin/kvd process stays alive and correct while many clients loop PUT, GET, REMOVE
 * and WIPEOUT at once, as the course harness does: every GET returns either the client's own last
 * PUT of that key or (after someone's WIPEOUT or the client's own REMOVE) nothing.
 */
@Timeout(180)
class ConcurrentClientsIT {
  private static final long SEED = Long.getLong("kvd.seed", 8L);
  private static final int CLIENTS = 48;
  private static final int ROUNDS = 150;

  @Test
  void manyClientsLoopingPutGetRemoveWipeoutKeepTheNodeAliveAndCorrect() throws Exception {
    RetryPolicy patient = RetryPolicy.DEFAULT.withRetriesMax(5);
    try (KvdProcess kvd = KvdProcess.start();
        KvClient a = KvClient.open(patient, 4096);
        KvClient b = KvClient.open(patient, 4096)) {
      ExecutorService pool = Executors.newFixedThreadPool(CLIENTS);
      List<Future<String>> results = new ArrayList<>();
      for (int c = 0; c < CLIENTS; c++) {
        int clientIndex = c;
        KvClient client = c % 2 == 0 ? a : b;
        results.add(pool.submit(() -> loop(client, kvd.address(), clientIndex)));
      }
      pool.shutdown();
      assertTrue(pool.awaitTermination(150, TimeUnit.SECONDS), "clients did not finish");
      for (Future<String> result : results) {
        assertEquals("ok", result.get());
      }
      a.isAlive(kvd.address()).join();
      assertTrue(kvd.process().isAlive(), kvd.logText());
    }
  }

  private static String loop(KvClient client, InetSocketAddress node, int clientIndex) {
    Random random = new Random(SEED * 1_000 + clientIndex);
    for (int round = 0; round < ROUNDS; round++) {
      byte[] key = ("c" + clientIndex + "-" + random.nextInt(8)).getBytes(StandardCharsets.UTF_8);
      byte[] value = new byte[1 + random.nextInt(2_000)];
      random.nextBytes(value);
      client.put(node, key, value, round).join();
      Optional<Versioned> got = client.get(node, key).join();
      // Another client's WIPEOUT may have run in between; anything else must be our own PUT.
      if (got.isPresent()) {
        assertArrayEquals(value, got.get().value(), "seed=" + SEED + " client " + clientIndex);
        assertEquals(round, got.get().version());
      }
      if (random.nextInt(4) == 0) {
        client.remove(node, key).join();
        assertEquals(Optional.empty(), client.get(node, key).join(), "seed=" + SEED);
      }
      if (random.nextInt(50) == 0) {
        client.wipeout(node).join();
      }
    }
    return "ok";
  }
}
