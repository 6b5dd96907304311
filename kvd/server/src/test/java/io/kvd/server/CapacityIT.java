package io.kvd.server;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.kvd.client.KvClient;
import io.kvd.client.Versioned;
import io.kvd.core.Command;
import io.kvd.core.ErrorCode;
import io.kvd.proto.ClientProtocol.KVRequest;
import io.kvd.proto.ClientProtocol.KVResponse;
import io.kvd.testkit.KvdProcess;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Proves the 64 MiB capacity behaviour on a real bin/kvd process with its default -Xmx64m: PUTs of
 * 10,000-byte (then 500-byte) values under fresh keys succeed until the node answers OUT_OF_SPACE,
 * at least 44 MiB of 10,000-byte values are stored by then, the process never dies of
 * OutOfMemoryError, and afterwards it still answers IS_ALIVE, GET, REMOVE, and a PUT that fits.
 */
@Timeout(300)
class CapacityIT {
  private static final long MIB = 1L << 20;
  /** The goal of issue 3: more than the best published result for this test (43.6 MiB). */
  private static final long STORED_LENGTH_MIN = 44 * MIB;
  private static final int WINDOW = 32;

  @Test
  void tenThousandByteValuesFillAtLeast44MiBThenOutOfSpaceAndTheNodeStillServes()
      throws Exception {
    try (KvdProcess kvd = KvdProcess.start(); KvClient client = KvClient.open()) {
      int stored = fill(client, kvd.address(), 10_000, "a");
      long storedLength = (long) stored * 10_000;
      System.out.printf("capacity: %d values of 10,000 bytes = %.2f MiB before OUT_OF_SPACE%n",
          stored, storedLength / (double) MIB);
      assertTrue(storedLength >= STORED_LENGTH_MIN,
          "stored only " + storedLength / (double) MIB + " MiB");
      stillServes(client, kvd, stored, 10_000, "a");

      // WIPEOUT returns the memory: the node fills to the same level again.
      client.wipeout(kvd.address()).join();
      int again = fill(client, kvd.address(), 10_000, "b");
      assertTrue(Math.abs(again - stored) <= stored / 100,
          "after WIPEOUT stored " + again + " values, first time " + stored);
      assertTrue(kvd.process().isAlive(), kvd.logText());
    }
  }

  @Test
  void fiveHundredByteValuesFillUntilOutOfSpaceAndTheNodeStillServes() throws Exception {
    try (KvdProcess kvd = KvdProcess.start(); KvClient client = KvClient.open()) {
      int stored = fill(client, kvd.address(), 500, "s");
      System.out.printf("capacity: %d values of 500 bytes = %.2f MiB before OUT_OF_SPACE%n",
          stored, stored * 500 / (double) MIB);
      assertTrue(stored * 500L >= 36 * MIB, "stored only " + stored + " values of 500 bytes");
      stillServes(client, kvd, stored, 500, "s");
    }
  }

  /** PUTs fresh keys, WINDOW at a time, until OUT_OF_SPACE; returns how many succeeded. */
  private static int fill(KvClient client, InetSocketAddress node, int valueLength,
      String prefix) {
    int stored = 0;
    boolean full = false;
    int next = 0;
    while (!full) {
      List<CompletableFuture<KVResponse>> batch = new ArrayList<>();
      for (int i = 0; i < WINDOW; i++) {
        batch.add(client.request(node, putRequest(prefix + next++, valueLength)));
      }
      for (CompletableFuture<KVResponse> f : batch) {
        int code = f.join().getErrCode();
        if (code == ErrorCode.SUCCESS) {
          stored++;
        } else {
          assertEquals(ErrorCode.OUT_OF_SPACE, code, "PUT answered " + ErrorCode.name(code));
          full = true;
        }
      }
    }
    return stored;
  }

  private static void stillServes(KvClient client, KvdProcess kvd, int stored, int valueLength,
      String prefix) {
    InetSocketAddress node = kvd.address();
    assertTrue(kvd.process().isAlive(), kvd.logText());
    client.isAlive(node).join();
    assertEquals(ErrorCode.OUT_OF_SPACE,
        client.request(node, putRequest(prefix + "-extra", valueLength)).join().getErrCode());
    // GET still returns what was stored, REMOVE frees room, and the freed room takes a PUT.
    for (int i = 0; i < stored; i += Math.max(1, stored / 50)) {
      Versioned got = client.get(node, key(prefix + i)).join().orElseThrow();
      assertArrayEquals(value(prefix + i, valueLength), got.value(), "key " + prefix + i);
    }
    for (int i = 0; i < 4; i++) {
      assertTrue(client.remove(node, key(prefix + i)).join());
    }
    assertEquals(ErrorCode.SUCCESS,
        client.request(node, putRequest(prefix + "-after", valueLength)).join().getErrCode());
    client.isAlive(node).join();
    assertTrue(kvd.process().isAlive(), kvd.logText());
    assertTrue(!kvd.logText().contains("OutOfMemoryError"), kvd.logText());
  }

  private static KVRequest putRequest(String key, int valueLength) {
    return KVRequest.newBuilder().setCommand(Command.PUT).setKey(ByteString.copyFrom(key(key)))
        .setValue(ByteString.copyFrom(value(key, valueLength))).setVersion(1).build();
  }

  private static byte[] key(String key) {
    return key.getBytes(StandardCharsets.UTF_8);
  }

  /** A value derived from its key, so that a GET can check it without keeping every value. */
  private static byte[] value(String key, int length) {
    byte[] value = new byte[length];
    new Random(key.hashCode()).nextBytes(value);
    return value;
  }
}
