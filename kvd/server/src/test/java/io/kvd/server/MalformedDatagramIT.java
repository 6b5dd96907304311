package io.kvd.server;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import io.kvd.client.KvClient;
import io.kvd.client.Versioned;
import io.kvd.core.Command;
import io.kvd.core.ErrorCode;
import io.kvd.core.NodeConfig;
import io.kvd.core.codec.ClientCodec;
import io.kvd.core.codec.ClientCodec.DecodeException;
import io.kvd.proto.ClientProtocol.KVRequest;
import io.kvd.proto.ClientProtocol.KVResponse;
import io.kvd.proto.ClientProtocol.Msg;
import io.kvd.testkit.KvdProcess;
import io.kvd.testkit.RawUdp;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Proves that malformed datagrams sent to a live bin/kvd process are dropped, never answered with
 * garbage and never crash it: empty, 1 byte, a valid request cut at every offset, a flipped bit in
 * each bit, a wrong checksum, seeded random garbage, a 65,000-byte datagram. A request with unknown
 * or duplicated fields is still answered. After each barrage the node answers valid requests.
 */
@Timeout(120)
class MalformedDatagramIT {
  private static final long SEED = Long.getLong("kvd.seed", 431L);
  private static KvdProcess kvd;
  private static KvClient client;

  @BeforeAll
  static void start() throws Exception {
    kvd = KvdProcess.start();
    client = KvClient.open();
  }

  @AfterAll
  static void stop() {
    client.close();
    kvd.close();
  }

  private static byte[] validPut() {
    KVRequest request = KVRequest.newBuilder().setCommand(Command.PUT)
        .setKey(ByteString.copyFromUtf8("mk")).setValue(ByteString.copyFromUtf8("value"))
        .setVersion(3).build();
    byte[] id = new byte[16];
    new Random(SEED).nextBytes(id);
    return ClientCodec.encodeRequest(ByteString.copyFrom(id), request);
  }

  /** Every reply must be a well-formed Msg with a correct checksum and a KVResponse payload. */
  private static int assertRepliesWellFormed(List<byte[]> replies) {
    for (byte[] reply : replies) {
      try {
        Msg msg = ClientCodec.decodeMsg(reply, reply.length, NodeConfig.DATAGRAM_LENGTH_MAX,
            NodeConfig.MESSAGE_ID_LENGTH_MAX);
        assertTrue(ClientCodec.decodeReply(msg).hasErrCode());
      } catch (DecodeException e) {
        throw new AssertionError("node answered garbage (seed=" + SEED + "): " + e.getMessage());
      }
    }
    return replies.size();
  }

  private static void assertServesValidRequests() {
    byte[] key = ("alive-" + System.nanoTime()).getBytes(StandardCharsets.UTF_8);
    client.put(kvd.address(), key, new byte[] {1, 2, 3}, 9).join();
    Versioned got = client.get(kvd.address(), key).join().orElseThrow();
    assertArrayEquals(new byte[] {1, 2, 3}, got.value());
    assertTrue(kvd.process().isAlive(), kvd.logText());
  }

  @Test
  void emptyOneByteAndGarbageAreDropped() throws IOException {
    Random random = new Random(SEED);
    try (RawUdp udp = new RawUdp(kvd.address())) {
      udp.send(new byte[0]);
      udp.send(new byte[] {0x0A});
      for (int i = 0; i < 500; i++) {
        byte[] garbage = new byte[random.nextInt(200)];
        random.nextBytes(garbage);
        udp.send(garbage);
      }
      byte[] huge = new byte[65_000];
      random.nextBytes(huge);
      udp.send(huge);
      assertRepliesWellFormed(udp.drain(300));
    }
    assertServesValidRequests();
  }

  @Test
  void requestCutAtEveryOffsetIsDropped() throws IOException {
    byte[] valid = validPut();
    try (RawUdp udp = new RawUdp(kvd.address())) {
      for (int cut = 0; cut < valid.length; cut++) {
        udp.send(Arrays.copyOf(valid, cut));
      }
      List<byte[]> replies = udp.drain(300);
      assertRepliesWellFormed(replies);
      assertEquals(0, replies.size(), "a truncated request was answered");
    }
    assertServesValidRequests();
  }

  @Test
  void flippedBitsAndWrongChecksumAreDropped() throws IOException {
    byte[] valid = validPut();
    try (RawUdp udp = new RawUdp(kvd.address())) {
      for (int bit = 0; bit < valid.length * 8; bit++) {
        byte[] flipped = valid.clone();
        flipped[bit / 8] ^= (byte) (1 << (bit % 8));
        udp.send(flipped);
      }
      Msg msg = Msg.newBuilder(parse(valid)).setCheckSum(parse(valid).getCheckSum() + 1).build();
      udp.send(msg.toByteArray());
      assertRepliesWellFormed(udp.drain(300));
    }
    assertServesValidRequests();
  }

  @Test
  void wellFormed65000ByteRequestAnswersInvalidValue() throws IOException {
    KVRequest request = KVRequest.newBuilder().setCommand(Command.PUT)
        .setKey(ByteString.copyFromUtf8("huge")).setValue(ByteString.copyFrom(new byte[64_900]))
        .build();
    byte[] datagram = ClientCodec.encodeRequest(ByteString.copyFrom(new byte[16]), request);
    assertTrue(datagram.length > 64_900 && datagram.length <= NodeConfig.DATAGRAM_LENGTH_MAX);
    try (RawUdp udp = new RawUdp(kvd.address())) {
      udp.send(datagram);
      List<byte[]> replies = udp.drain(500);
      assertEquals(1, assertRepliesWellFormed(replies));
      assertEquals(ErrorCode.INVALID_VALUE, reply(replies.get(0)).getErrCode());
    }
    assertServesValidRequests();
  }

  @Test
  void unknownAndDuplicatedFieldsAreTolerated() throws IOException {
    // A KVRequest with an unknown field 50 and the key field twice (protobuf: last one wins).
    ByteArrayOutputStream payload = new ByteArrayOutputStream();
    CodedOutputStream out = CodedOutputStream.newInstance(payload);
    out.writeUInt32(1, Command.PUT);
    out.writeBytes(2, ByteString.copyFromUtf8("first"));
    out.writeBytes(2, ByteString.copyFromUtf8("dupkey"));
    out.writeBytes(3, ByteString.copyFromUtf8("dupvalue"));
    out.writeString(50, "unknown field");
    out.flush();
    ByteString id = ByteString.copyFrom(new byte[] {7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 9});
    Msg msg = Msg.newBuilder().setMessageID(id).setPayload(ByteString.copyFrom(payload.toByteArray()))
        .setCheckSum(ClientCodec.checksum(id, ByteString.copyFrom(payload.toByteArray())))
        .build();
    // And an unknown field 60 in the Msg itself.
    byte[] withUnknown = Msg.newBuilder(msg).setUnknownFields(
        com.google.protobuf.UnknownFieldSet.newBuilder().addField(60,
            com.google.protobuf.UnknownFieldSet.Field.newBuilder().addVarint(42).build()).build())
        .build().toByteArray();
    try (RawUdp udp = new RawUdp(kvd.address())) {
      udp.send(withUnknown);
      List<byte[]> replies = udp.drain(500);
      assertEquals(1, assertRepliesWellFormed(replies));
      assertEquals(ErrorCode.SUCCESS, reply(replies.get(0)).getErrCode());
    }
    Versioned got = client.get(kvd.address(), "dupkey".getBytes(StandardCharsets.UTF_8)).join()
        .orElseThrow();
    assertArrayEquals("dupvalue".getBytes(StandardCharsets.UTF_8), got.value());
    assertServesValidRequests();
  }

  private static Msg parse(byte[] datagram) throws IOException {
    return Msg.parseFrom(datagram);
  }

  private static KVResponse reply(byte[] datagram) {
    try {
      return ClientCodec.decodeReply(ClientCodec.decodeMsg(datagram, datagram.length,
          NodeConfig.DATAGRAM_LENGTH_MAX, NodeConfig.MESSAGE_ID_LENGTH_MAX));
    } catch (DecodeException e) {
      throw new AssertionError(e);
    }
  }
}
