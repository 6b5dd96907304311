package io.kvd.server;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.kvd.client.KvClient;
import io.kvd.client.KvTimeoutException;
import io.kvd.client.RetryPolicy;
import io.kvd.client.Versioned;
import io.kvd.core.Command;
import io.kvd.core.ErrorCode;
import io.kvd.proto.ClientProtocol.KVRequest;
import io.kvd.proto.ClientProtocol.KVResponse;
import io.kvd.testkit.KvdProcess;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Proves that a real bin/kvd process, with its default 64 MiB heap, answers every single-node case
 * that existing CPEN 431 test clients check (protocol.md), through the client library over UDP.
 */
@Timeout(120)
class SingleNodeProtocolIT {
  private static KvdProcess kvd;
  private static KvClient client;
  private static InetSocketAddress node;

  @BeforeAll
  static void start() throws Exception {
    kvd = KvdProcess.start();
    client = KvClient.open();
    node = kvd.address();
  }

  @AfterAll
  static void stop() {
    client.close();
    kvd.close();
  }

  @BeforeEach
  void wipe() {
    client.wipeout(node).join();
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static byte[] randomValue(int length, long seed) {
    byte[] value = new byte[length];
    new Random(seed).nextBytes(value);
    return value;
  }

  private static KVResponse send(byte[] id, KVRequest request) {
    return client.request(node, id, request, RetryPolicy.DEFAULT).join();
  }

  private static KVRequest put(String key, byte[] value, int version) {
    return KVRequest.newBuilder().setCommand(Command.PUT).setKey(ByteString.copyFrom(bytes(key)))
        .setValue(ByteString.copyFrom(value)).setVersion(version).build();
  }

  private static KVRequest keyOnly(int command, String key) {
    return KVRequest.newBuilder().setCommand(command).setKey(ByteString.copyFrom(bytes(key)))
        .build();
  }

  @Test
  void putGetRoundTripsValuesOfEverySizeTheHarnessUses() {
    for (int length : new int[] {8, 32, 2048, 10_000}) {
      byte[] value = randomValue(length, length);
      client.put(node, bytes("k" + length), value, length + 1).join();
      Versioned got = client.get(node, bytes("k" + length)).join().orElseThrow();
      assertArrayEquals(value, got.value(), "value of " + length + " bytes");
      assertEquals(length + 1, got.version());
    }
  }

  @Test
  void versionsFollowTheLatestPut() {
    client.put(node, bytes("v"), bytes("one"), 1).join();
    client.put(node, bytes("v"), bytes("two"), 7).join();
    Versioned got = client.get(node, bytes("v")).join().orElseThrow();
    assertArrayEquals(bytes("two"), got.value());
    assertEquals(7, got.version());
  }

  @Test
  void removeThenRemoveAgainAnswersNotFound() {
    client.put(node, bytes("r"), bytes("x"), 0).join();
    assertTrue(client.remove(node, bytes("r")).join());
    assertFalse(client.remove(node, bytes("r")).join());
    assertEquals(Optional.empty(), client.get(node, bytes("r")).join());
  }

  @Test
  void unknownCommandAnswersFive() {
    KVResponse reply = client.request(node, KVRequest.newBuilder().setCommand(99).build()).join();
    assertEquals(ErrorCode.UNRECOGNIZED_COMMAND, reply.getErrCode());
  }

  @Test
  void keyOf128BytesAnswersInvalidKey() {
    String key = "k".repeat(128);
    assertEquals(ErrorCode.INVALID_KEY,
        client.request(node, put(key, bytes("x"), 0)).join().getErrCode());
    assertEquals(ErrorCode.INVALID_KEY,
        client.request(node, keyOnly(Command.GET, key)).join().getErrCode());
    assertEquals(ErrorCode.INVALID_KEY,
        client.request(node, keyOnly(Command.REMOVE, key)).join().getErrCode());
  }

  @Test
  void valueOf12000BytesAnswersInvalidValue() {
    KVResponse reply = client.request(node, put("big", new byte[12_000], 0)).join();
    assertEquals(ErrorCode.INVALID_VALUE, reply.getErrCode());
    assertEquals(Optional.empty(), client.get(node, bytes("big")).join());
  }

  @Test
  void atMostOnceRemoveResentAfterSuccessAnswersTheCachedSuccess() {
    byte[] removeId = randomValue(16, 1);
    client.put(node, bytes("amo1"), bytes("x"), 0).join();
    assertEquals(ErrorCode.SUCCESS, send(removeId, keyOnly(Command.REMOVE, "amo1")).getErrCode());
    assertEquals(ErrorCode.SUCCESS, send(removeId, keyOnly(Command.REMOVE, "amo1")).getErrCode());
  }

  @Test
  void atMostOnceRemoveOfAbsentKeyResentAfterPutAnswersTheCachedNotFound() {
    byte[] removeId = randomValue(16, 2);
    assertEquals(ErrorCode.NOT_FOUND, send(removeId, keyOnly(Command.REMOVE, "amo2")).getErrCode());
    client.put(node, bytes("amo2"), bytes("x"), 0).join();
    assertEquals(ErrorCode.NOT_FOUND, send(removeId, keyOnly(Command.REMOVE, "amo2")).getErrCode());
    assertTrue(client.get(node, bytes("amo2")).join().isPresent(), "the resend did not execute");
  }

  @Test
  void atMostOnceOldPutResentDoesNotOverwriteANewerOne() {
    byte[] firstId = randomValue(16, 3);
    assertEquals(ErrorCode.SUCCESS, send(firstId, put("amo3", bytes("v1"), 1)).getErrCode());
    assertEquals(ErrorCode.SUCCESS,
        send(randomValue(16, 4), put("amo3", bytes("v2"), 2)).getErrCode());
    assertEquals(ErrorCode.SUCCESS, send(firstId, put("amo3", bytes("v1"), 1)).getErrCode());
    Versioned got = client.get(node, bytes("amo3")).join().orElseThrow();
    assertArrayEquals(bytes("v2"), got.value());
    assertEquals(2, got.version());
  }

  @Test
  void wipeoutDeletesEveryKey() {
    for (int i = 0; i < 50; i++) {
      client.put(node, bytes("w" + i), bytes("x"), i).join();
    }
    client.wipeout(node).join();
    for (int i = 0; i < 50; i++) {
      assertEquals(Optional.empty(), client.get(node, bytes("w" + i)).join());
    }
  }

  @Test
  void isAlivePidAndMembershipCount() {
    client.isAlive(node).join();
    assertEquals(kvd.pid(), (long) client.pid(node).join());
    assertEquals(1, client.membershipCount(node).join());
  }

  @Test
  void secondNodeOnTheSamePortExitsWithAClearMessage() throws Exception {
    ProcessBuilder builder = new ProcessBuilder(KvdProcess.launcher().toString(), "--port",
        Integer.toString(node.getPort())).redirectErrorStream(true);
    Process second = builder.start();
    String output = new String(second.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(KvdMain.EXIT_BIND, second.waitFor());
    assertTrue(output.contains("cannot bind") && output.contains("already in use"), output);
  }

  @Test
  void shutdownEndsOnlyThatProcessAtOnce() throws Exception {
    try (KvdProcess victim = KvdProcess.start()) {
      client.put(victim.address(), bytes("k"), bytes("v"), 0).join();
      client.shutdown(victim.address()).join();
      assertEquals(KvdMain.EXIT_OK, victim.awaitExit(Duration.ofSeconds(5)), victim.logText());
      CompletionException dead = assertThrows(CompletionException.class,
          () -> client.isAlive(victim.address()).join());
      assertTrue(dead.getCause() instanceof KvTimeoutException, dead.toString());
    }
    client.isAlive(node).join();
  }
}
