package io.kvd.core.fuzz;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.Parser;
import io.kvd.core.NodeConfig;
import io.kvd.core.codec.ClientCodec;
import io.kvd.core.codec.ClientCodec.DecodeException;
import io.kvd.core.codec.ClientCodec.DropReason;
import io.kvd.proto.ClientProtocol.KVRequest;
import io.kvd.proto.ClientProtocol.KVResponse;
import io.kvd.proto.PeerProtocol.AdminReply;
import io.kvd.proto.PeerProtocol.AdminRequest;
import io.kvd.proto.PeerProtocol.Gossip;
import io.kvd.proto.PeerProtocol.PeerMsg;
import io.kvd.proto.PeerProtocol.Replica;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;

/**
 * Fuzzes the internal message decoder: {@link ClientCodec#decodePeerMsg} and the parsing of the
 * internal payloads of peer.proto (Gossip, Replica, AdminRequest and AdminReply) and of the client
 * payloads a node forwards (KVRequest, KVResponse), on arbitrary bytes. Proves that nothing but
 * the documented exceptions comes out ({@link DecodeException} with a decoding reason from
 * decodePeerMsg and decodeRequest, InvalidProtocolBufferException from a payload parser), that a
 * decoded PeerMsg has a messageID of at most 16 bytes and a correct checksum, and that whatever
 * parses is complete (its required fields present) and re-serializes to an equal message. How:
 * each input is decoded as a datagram and, when it decodes, its payload dispatched as the node
 * does (admin, gossip, replica, else a client request); the input is also parsed directly by
 * every payload parser, and wrapped as the payload of a correctly checksummed PeerMsg of each kind
 * (which the checksum would otherwise hide from the fuzzer) and decoded again.
 *
 * <p>Default run: 10 s of fuzzing in its own JVM (kvd.fuzz.seconds, see kvd/core/pom.xml);
 * seeds in src/test/resources/io/kvd/core/fuzz/PeerCodecFuzzTestInputs/peerDatagrams/.
 */
class PeerCodecFuzzTest {
  private static final int MAX = NodeConfig.DATAGRAM_LENGTH_MAX;
  private static final int ID_MAX = NodeConfig.MESSAGE_ID_LENGTH_MAX;
  private static final ByteString WRAPPER_ID = ByteString.copyFrom(new byte[] {7, 7, 7, 7});
  private static final long CLIENT = 0x0A00_0001_C350L;
  private static final Set<DropReason> DECODE_REASONS = EnumSet.of(DropReason.OVERSIZE,
      DropReason.MALFORMED, DropReason.MESSAGE_ID_TOO_LONG, DropReason.BAD_CHECKSUM);
  private static final List<Parser<? extends Message>> PAYLOAD_PARSERS = List.of(
      Gossip.parser(), Replica.parser(), AdminRequest.parser(), AdminReply.parser(),
      KVRequest.parser(), KVResponse.parser());
  private static final FuzzStats STATS = new FuzzStats("PeerCodecFuzzTest.peerDatagrams");

  @FuzzTest(maxDuration = "10s")
  void peerDatagrams(byte[] data) {
    STATS.onExecution();
    PeerMsg msg = decode(data, null);
    if (msg != null) {
      dispatch(msg);
    }
    ByteString payload = ByteString.copyFrom(data);
    for (Parser<? extends Message> parser : PAYLOAD_PARSERS) {
      parse(parser, payload);
    }
    try {
      ClientCodec.decodeRequest(payload);
    } catch (DecodeException e) {
      assertEquals(DropReason.MALFORMED, e.reason(), () -> "decodeRequest: " + e.getMessage());
    }
    // The input as the payload of each kind of internal message, correctly checksummed.
    long checkSum = ClientCodec.checksum(WRAPPER_ID, payload);
    PeerMsg.Builder base = PeerMsg.newBuilder().setMessageID(WRAPPER_ID).setPayload(payload)
        .setCheckSum(checkSum);
    for (PeerMsg wrapper : new PeerMsg[] {base.clone().setGossip(true).build(),
        base.clone().setReplica(true).build(), base.clone().setAdmin(true).build(),
        base.clone().setClientAddress(CLIENT).setHops(1).build()}) {
      byte[] datagram = wrapper.toByteArray();
      if (datagram.length <= MAX) {
        PeerMsg decoded = decode(datagram, "a PeerMsg built around the input");
        assertEquals(wrapper, decoded, "a PeerMsg does not decode to itself");
      }
    }
  }

  @AfterAll
  static void printRate() {
    STATS.print();
  }

  /**
   * Decodes {@code data} as the node does; null when it is refused, which fails the test when
   * {@code mustDecode} names what it is.
   */
  private static PeerMsg decode(byte[] data, String mustDecode) {
    PeerMsg msg;
    try {
      msg = ClientCodec.decodePeerMsg(data, data.length, MAX, ID_MAX);
    } catch (DecodeException e) {
      assertNotNull(e.reason(), "a DecodeException without a reason");
      assertTrue(DECODE_REASONS.contains(e.reason()),
          () -> "decodePeerMsg refused with " + e.reason());
      if (mustDecode != null) {
        throw new AssertionError(mustDecode + " did not decode: " + e.reason(), e);
      }
      return null;
    }
    assertTrue(msg.isInitialized(), "a PeerMsg without its required fields");
    assertTrue(msg.getMessageID().size() <= ID_MAX, "messageID too long");
    assertEquals(ClientCodec.checksum(msg.getMessageID(), msg.getPayload()), msg.getCheckSum());
    byte[] again = msg.toByteArray();
    try {
      assertEquals(msg, ClientCodec.decodePeerMsg(again, again.length, MAX, ID_MAX),
          "a decoded PeerMsg, serialized again, decodes to another");
    } catch (DecodeException e) {
      throw new AssertionError("a decoded PeerMsg, serialized again, is refused: " + e.reason(), e);
    }
    return msg;
  }

  /** Parses the payload of a decoded PeerMsg as the node would. */
  private static void dispatch(PeerMsg msg) {
    if (msg.getAdmin()) {
      parse(AdminRequest.parser(), msg.getPayload());
    } else if (msg.getGossip()) {
      parse(Gossip.parser(), msg.getPayload());
    } else if (msg.getReplica()) {
      parse(Replica.parser(), msg.getPayload());
    } else {
      try {
        KVRequest request = ClientCodec.decodeRequest(msg.getPayload());
        assertTrue(request.isInitialized());
      } catch (DecodeException e) {
        assertEquals(DropReason.MALFORMED, e.reason(), () -> "decodeRequest: " + e.getMessage());
      }
    }
  }

  /** Parses {@code payload}; what parses must be complete and survive a round trip. */
  private static void parse(Parser<? extends Message> parser, ByteString payload) {
    Message message;
    try {
      message = parser.parseFrom(payload);
    } catch (InvalidProtocolBufferException e) {
      return;
    }
    assertTrue(message.isInitialized(), () -> "parsed without its required fields: " + message);
    ByteString serialized = message.toByteString();
    assertEquals(message.getSerializedSize(), serialized.size());
    try {
      assertEquals(message, parser.parseFrom(serialized), "a round trip changed it");
    } catch (InvalidProtocolBufferException e) {
      throw new AssertionError("a parsed " + message.getDescriptorForType().getName()
          + ", serialized again, does not parse: " + e.getMessage(), e);
    }
  }
}
