package io.kvd.core.fuzz;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.code_intelligence.jazzer.junit.FuzzTest;
import com.google.protobuf.ByteString;
import io.kvd.core.NodeConfig;
import io.kvd.core.codec.ClientCodec;
import io.kvd.core.codec.ClientCodec.DecodeException;
import io.kvd.core.codec.ClientCodec.DropReason;
import io.kvd.proto.ClientProtocol.KVRequest;
import io.kvd.proto.ClientProtocol.KVResponse;
import io.kvd.proto.ClientProtocol.Msg;
import io.kvd.proto.PeerProtocol.PeerMsg;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;

/**
 * Fuzzes the client datagram decoder ({@link ClientCodec#decodeMsg}, {@link
 * ClientCodec#decodeRequest}, {@link ClientCodec#decodeReply}) on arbitrary bytes. Proves that
 * only a {@link DecodeException} with a decoding reason comes out, that whatever decodes has a
 * messageID of at most 16 bytes and a correct checksum, and that it re-encodes (through every
 * encoder of ClientCodec) into a datagram that decodes to the same fields. How: each input is
 * decoded twice, as a whole datagram and as the payload of a correctly checksummed Msg (so that
 * the request and reply parsers see arbitrary payloads, which a checksum would otherwise hide from
 * the fuzzer); a datagram is also decoded from a longer buffer and as a PeerMsg, which must agree.
 *
 * <p>Default run: 10 s of fuzzing in its own JVM (kvd.fuzz.seconds, see kvd/core/pom.xml);
 * seeds in src/test/resources/io/kvd/core/fuzz/ClientCodecFuzzTestInputs/datagrams/.
 */
class ClientCodecFuzzTest {
  private static final int MAX = NodeConfig.DATAGRAM_LENGTH_MAX;
  private static final int ID_MAX = NodeConfig.MESSAGE_ID_LENGTH_MAX;
  private static final ByteString WRAPPER_ID = ByteString.copyFrom(new byte[] {
      0x6B, 0x76, 0x64, 0x2D, 0x66, 0x75, 0x7A, 0x7A, 0, 0, 0, 0, 0, 0, 0, 1});
  /** Why a datagram may be refused by the decoder (the others are the node's own reasons). */
  private static final Set<DropReason> DECODE_REASONS = EnumSet.of(DropReason.OVERSIZE,
      DropReason.MALFORMED, DropReason.MESSAGE_ID_TOO_LONG, DropReason.BAD_CHECKSUM);
  private static final FuzzStats STATS = new FuzzStats("ClientCodecFuzzTest.datagrams");

  @FuzzTest(maxDuration = "10s")
  void datagrams(byte[] data) {
    STATS.onExecution();
    Msg msg = decodeDatagram(data);
    if (msg != null) {
      checkPayload(msg);
    }
    // The input as a payload, around which a correct Msg is built.
    byte[] wrapped = ClientCodec.encode(WRAPPER_ID, data);
    if (wrapped.length > MAX) {
      return;
    }
    Msg wrapper = decodeOrFail(wrapped, "a Msg built by ClientCodec.encode");
    assertEquals(WRAPPER_ID, wrapper.getMessageID());
    assertEquals(ByteString.copyFrom(data), wrapper.getPayload());
    checkPayload(wrapper);
  }

  @AfterAll
  static void printRate() {
    STATS.print();
  }

  /** Decodes {@code data} as a datagram; the Msg, or null when it was refused. */
  private static Msg decodeDatagram(byte[] data) {
    Msg msg = null;
    DropReason reason = null;
    try {
      msg = ClientCodec.decodeMsg(data, data.length, MAX, ID_MAX);
    } catch (DecodeException e) {
      reason = checkReason(e);
    }
    // The same bytes at the start of a longer buffer decode the same way.
    byte[] padded = Arrays.copyOf(data, data.length + 7);
    Arrays.fill(padded, data.length, padded.length, (byte) 0x0A);
    try {
      Msg again = ClientCodec.decodeMsg(padded, data.length, MAX, ID_MAX);
      assertEquals(msg, again, "decoded from a longer buffer");
    } catch (DecodeException e) {
      assertEquals(reason, checkReason(e), "refused from a longer buffer");
    }
    // A PeerMsg is a superset of Msg: the node's decoder must agree with the client's.
    try {
      PeerMsg peer = ClientCodec.decodePeerMsg(data, data.length, MAX, ID_MAX);
      assertNotNull(msg, "a PeerMsg that is no Msg");
      assertEquals(msg.getMessageID(), peer.getMessageID());
      assertEquals(msg.getPayload(), peer.getPayload());
      assertEquals(msg.getCheckSum(), peer.getCheckSum());
    } catch (DecodeException e) {
      assertEquals(reason, checkReason(e), "decodePeerMsg refused it for another reason");
    }
    if (msg == null) {
      if (data.length > 0) {
        // A shorter limit refuses it as oversize before anything else.
        try {
          ClientCodec.decodeMsg(data, data.length, data.length - 1, ID_MAX);
          fail("a datagram longer than the limit was accepted");
        } catch (DecodeException e) {
          assertEquals(DropReason.OVERSIZE, e.reason());
        }
      }
      return null;
    }
    assertTrue(msg.getMessageID().size() <= ID_MAX, "messageID too long");
    assertEquals(ClientCodec.checksum(msg.getMessageID(), msg.getPayload()), msg.getCheckSum());
    // Re-encoded, it decodes to the same fields.
    byte[] encoded = ClientCodec.encode(msg.getMessageID(), msg.getPayload());
    assertArrayEquals(Msg.newBuilder().setMessageID(msg.getMessageID())
        .setPayload(msg.getPayload()).setCheckSum(msg.getCheckSum()).build().toByteArray(),
        encoded, "encode(messageID, payload) is the canonical Msg");
    Msg again = decodeOrFail(encoded, "a re-encoded Msg");
    assertEquals(msg.getMessageID(), again.getMessageID());
    assertEquals(msg.getPayload(), again.getPayload());
    assertEquals(msg.getCheckSum(), again.getCheckSum());
    return msg;
  }

  /** Decodes the payload of a verified Msg as a request and as a reply. */
  private static void checkPayload(Msg msg) {
    try {
      KVRequest request = ClientCodec.decodeRequest(msg);
      assertTrue(request.hasCommand(), "a request without its required command");
      byte[] encoded = ClientCodec.encodeRequest(msg.getMessageID(), request);
      assertArrayEquals(ClientCodec.encode(msg.getMessageID(), request.toByteArray()), encoded,
          "encodeRequest and encode(messageID, bytes) differ");
      byte[] scratch = new byte[encoded.length + 3];
      assertEquals(encoded.length, ClientCodec.encode(msg.getMessageID(), request, scratch));
      assertArrayEquals(encoded, Arrays.copyOf(scratch, encoded.length), "encode into an array");
      assertEquals(-1, ClientCodec.encode(msg.getMessageID(), request,
          new byte[encoded.length - 1]), "encode into too short an array");
      Msg again = decodeOrFail(encoded, "a re-encoded request");
      assertEquals(msg.getMessageID(), again.getMessageID());
      KVRequest decoded = ClientCodec.decodeRequest(again);
      assertEquals(request.getCommand(), decoded.getCommand());
      assertEquals(request.hasKey(), decoded.hasKey());
      assertEquals(request.getKey(), decoded.getKey());
      assertEquals(request.hasValue(), decoded.hasValue());
      assertEquals(request.getValue(), decoded.getValue());
      assertEquals(request.hasVersion(), decoded.hasVersion());
      assertEquals(request.getVersion(), decoded.getVersion());
      assertEquals(request, decoded);
    } catch (DecodeException e) {
      assertEquals(DropReason.MALFORMED, e.reason(), () -> "decodeRequest: " + e.getMessage());
    }
    try {
      KVResponse reply = ClientCodec.decodeReply(msg);
      assertTrue(reply.hasErrCode(), "a reply without its required errCode");
      byte[] encoded = ClientCodec.encodeReply(msg.getMessageID(), reply);
      Msg again = decodeOrFail(encoded, "a re-encoded reply");
      KVResponse decoded = ClientCodec.decodeReply(again);
      assertEquals(reply.getErrCode(), decoded.getErrCode());
      assertEquals(reply.getValue(), decoded.getValue());
      assertEquals(reply, decoded);
    } catch (DecodeException e) {
      assertEquals(DropReason.MALFORMED, e.reason(), () -> "decodeReply: " + e.getMessage());
    }
  }

  private static Msg decodeOrFail(byte[] datagram, String what) {
    try {
      return ClientCodec.decodeMsg(datagram, datagram.length, MAX, ID_MAX);
    } catch (DecodeException e) {
      throw new AssertionError(what + " did not decode: " + e.reason() + ": " + e.getMessage(), e);
    }
  }

  private static DropReason checkReason(DecodeException e) {
    assertNotNull(e.reason(), "a DecodeException without a reason");
    assertTrue(DECODE_REASONS.contains(e.reason()), () -> "decoder refused with " + e.reason());
    return e.reason();
  }
}
