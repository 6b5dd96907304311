package io.kvd.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.kvd.core.Command;
import io.kvd.core.ErrorCode;
import io.kvd.core.codec.ClientCodec;
import io.kvd.proto.ClientProtocol.KVRequest;
import io.kvd.proto.ClientProtocol.KVResponse;
import io.kvd.proto.ClientProtocol.Msg;
import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.net.SocketException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.BiFunction;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Proves the client library's contract against a scripted fake node on loopback: retries resend
 * the same messageID on the policy's schedule, a request times out after exactly 1 + retriesMax
 * sends, replies with a wrong checksum or an unknown ID are ignored, OVERLOAD is honoured by
 * waiting overloadWaitTime without using up retries, many requests in flight on one socket are
 * matched by messageID, and the in-flight bound is enforced.
 */
@Timeout(30)
class KvClientTest {
  private FakeNode fake;
  private KvClient client;

  @AfterEach
  void close() {
    if (client != null) {
      client.close();
    }
    if (fake != null) {
      fake.close();
    }
  }

  /** A node that answers each received datagram as {@code script} says (null: stay silent). */
  static final class FakeNode implements AutoCloseable {
    final DatagramSocket socket;
    final List<Msg> received = Collections.synchronizedList(new ArrayList<>());
    final List<Long> receivedAtNanos = Collections.synchronizedList(new ArrayList<>());
    final Thread thread;

    FakeNode(BiFunction<Integer, Msg, List<byte[]>> script) throws SocketException {
      socket = new DatagramSocket(new InetSocketAddress("127.0.0.1", 0));
      thread = new Thread(() -> {
        byte[] buffer = new byte[65_536];
        while (!socket.isClosed()) {
          try {
            DatagramPacket packet = new DatagramPacket(buffer, buffer.length);
            socket.receive(packet);
            Msg msg = Msg.parser().parseFrom(buffer, 0, packet.getLength());
            int n = received.size();
            received.add(msg);
            receivedAtNanos.add(System.nanoTime());
            List<byte[]> replies = script.apply(n, msg);
            if (replies != null) {
              for (byte[] reply : replies) {
                socket.send(new DatagramPacket(reply, reply.length, packet.getSocketAddress()));
              }
            }
          } catch (IOException e) {
            return;
          }
        }
      }, "fake-node");
      thread.setDaemon(true);
      thread.start();
    }

    InetSocketAddress address() {
      return new InetSocketAddress("127.0.0.1", socket.getLocalPort());
    }

    @Override
    public void close() {
      socket.close();
    }
  }

  static byte[] reply(Msg request, KVResponse response) {
    return ClientCodec.encodeReply(request.getMessageID(), response);
  }

  static KVResponse ok() {
    return KVResponse.newBuilder().setErrCode(ErrorCode.SUCCESS).build();
  }

  static KVRequest isAlive() {
    return KVRequest.newBuilder().setCommand(Command.IS_ALIVE).build();
  }

  @Test
  void retriesResendTheSameMessageIdUntilAnswered() throws Exception {
    fake = new FakeNode((n, msg) -> n < 2 ? null : List.of(reply(msg, ok())));
    client = KvClient.open();
    KVResponse response = client.request(fake.address(), isAlive()).join();
    assertEquals(ErrorCode.SUCCESS, response.getErrCode());
    assertEquals(3, fake.received.size());
    ByteString id = fake.received.get(0).getMessageID();
    assertEquals(16, id.size());
    for (Msg msg : fake.received) {
      assertEquals(id, msg.getMessageID(), "every retry carries the same messageID");
    }
    // The default policy waits 100 ms, then 200 ms: the gaps grow.
    long gap1 = fake.receivedAtNanos.get(1) - fake.receivedAtNanos.get(0);
    long gap2 = fake.receivedAtNanos.get(2) - fake.receivedAtNanos.get(1);
    assertTrue(gap1 >= 90_000_000L, "first retry after " + gap1 / 1e6 + " ms");
    assertTrue(gap2 >= 180_000_000L, "second retry after " + gap2 / 1e6 + " ms");
    assertEquals(2, client.stats().retries());
  }

  @Test
  void timesOutAfterOnePlusRetriesMaxSends() throws Exception {
    fake = new FakeNode((n, msg) -> null);
    client = KvClient.open(RetryPolicy.DEFAULT.withTimeoutMsInitial(20), 16);
    CompletionException e = assertThrows(CompletionException.class,
        () -> client.request(fake.address(), isAlive()).join());
    KvTimeoutException timeout = assertInstanceOf(KvTimeoutException.class, e.getCause());
    assertEquals(4, timeout.attempts());
    Thread.sleep(50);
    assertEquals(4, fake.received.size());
    assertEquals(1, client.stats().timeouts());
  }

  @Test
  void repliesWithAWrongChecksumOrUnknownIdAreIgnored() throws Exception {
    fake = new FakeNode((n, msg) -> {
      byte[] good = reply(msg, KVResponse.newBuilder().setErrCode(ErrorCode.SUCCESS).setPid(42)
          .build());
      byte[] badChecksum = Msg.newBuilder()
          .setMessageID(msg.getMessageID())
          .setPayload(KVResponse.newBuilder().setErrCode(ErrorCode.SUCCESS).setPid(666).build()
              .toByteString())
          .setCheckSum(12345).build().toByteArray();
      byte[] otherId = ClientCodec.encodeReply(ByteString.copyFrom(new byte[16]),
          KVResponse.newBuilder().setErrCode(ErrorCode.SUCCESS).setPid(777).build());
      return List.of(badChecksum, otherId, good);
    });
    client = KvClient.open();
    assertEquals(42, client.pid(fake.address()).join());
    assertEquals(1, client.stats().badReplies());
    assertEquals(1, client.stats().unmatchedReplies());
  }

  @Test
  void overloadIsHonouredByWaitingWithoutUsingUpRetries() throws Exception {
    int waitMs = 150;
    fake = new FakeNode((n, msg) -> n < 5
        ? List.of(reply(msg, KVResponse.newBuilder().setErrCode(ErrorCode.OVERLOAD)
            .setOverloadWaitTime(n == 0 ? waitMs : 1).build()))
        : List.of(reply(msg, ok())));
    client = KvClient.open(RetryPolicy.DEFAULT.withRetriesMax(0), 16);
    assertEquals(ErrorCode.SUCCESS, client.request(fake.address(), isAlive()).join()
        .getErrCode());
    assertEquals(6, fake.received.size());
    long gap = fake.receivedAtNanos.get(1) - fake.receivedAtNanos.get(0);
    assertTrue(gap >= (waitMs - 10) * 1_000_000L, "resent after " + gap / 1e6 + " ms");
    assertEquals(5, client.stats().overloadWaits());
    for (Msg msg : fake.received) {
      assertEquals(fake.received.get(0).getMessageID(), msg.getMessageID());
    }
  }

  @Test
  void overloadBeyondItsRetriesIsReturnedToTheCaller() throws Exception {
    fake = new FakeNode((n, msg) -> List.of(reply(msg, KVResponse.newBuilder()
        .setErrCode(ErrorCode.OVERLOAD).setOverloadWaitTime(1).build())));
    client = KvClient.open(RetryPolicy.DEFAULT.withOverloadRetriesMax(2), 16);
    assertEquals(ErrorCode.OVERLOAD, client.request(fake.address(), isAlive()).join()
        .getErrCode());
    assertEquals(3, fake.received.size());
    CompletionException e = assertThrows(CompletionException.class,
        () -> client.isAlive(fake.address()).join());
    assertEquals(ErrorCode.OVERLOAD, assertInstanceOf(KvErrorException.class, e.getCause())
        .errCode());
  }

  @Test
  void manyRequestsInFlightAreMatchedByMessageId() throws Exception {
    int count = 2_000;
    // Answer each GET with its own key as the value, in batches sent in reverse order.
    List<Msg> batch = new ArrayList<>();
    fake = new FakeNode((n, msg) -> {
      synchronized (batch) {
        batch.add(msg);
        if (batch.size() < 50 && n < count - 1) {
          return null;
        }
        List<byte[]> replies = new ArrayList<>();
        for (int i = batch.size() - 1; i >= 0; i--) {
          Msg m = batch.get(i);
          ByteString key;
          try {
            key = KVRequest.parseFrom(m.getPayload()).getKey();
          } catch (IOException e) {
            throw new IllegalStateException(e);
          }
          replies.add(reply(m, KVResponse.newBuilder().setErrCode(ErrorCode.SUCCESS)
              .setValue(key).setVersion(key.size()).build()));
        }
        batch.clear();
        return replies;
      }
    });
    client = KvClient.open(RetryPolicy.DEFAULT.withTimeoutMsInitial(2_000), 4_096);
    List<CompletableFuture<java.util.Optional<Versioned>>> futures = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      futures.add(client.get(fake.address(), ("key-" + i).getBytes()));
    }
    for (int i = 0; i < count; i++) {
      Versioned v = futures.get(i).join().orElseThrow();
      assertArrayEquals(("key-" + i).getBytes(), v.value());
      assertEquals(("key-" + i).length(), v.version());
    }
    // A burst of 2,000 may overflow the fake's socket buffer; retries then fill the gaps, and
    // every answer still reaches the request it belongs to.
    assertEquals(count, client.stats().requests());
  }

  @Test
  void inflightBoundFailsTheRequestAtOnce() throws Exception {
    fake = new FakeNode((n, msg) -> null);
    client = KvClient.open(RetryPolicy.DEFAULT.withTimeoutMsInitial(5_000), 2);
    CompletableFuture<KVResponse> first = client.request(fake.address(), isAlive());
    CompletableFuture<KVResponse> second = client.request(fake.address(), isAlive());
    CompletableFuture<KVResponse> third = client.request(fake.address(), isAlive());
    CompletionException e = assertThrows(CompletionException.class, third::join);
    assertInstanceOf(KvException.class, e.getCause());
    assertTrue(e.getCause().getMessage().contains("inflightMax"));
    assertFalse(first.isDone() || second.isDone());
  }
}
