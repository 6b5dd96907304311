package io.kvd.core.codec;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Parser;
import io.kvd.proto.ClientProtocol.KVRequest;
import io.kvd.proto.ClientProtocol.KVResponse;
import io.kvd.proto.ClientProtocol.Msg;
import io.kvd.proto.PeerProtocol.PeerMsg;
import java.util.zip.CRC32;

/**
 * Encoding and decoding of the client protocol's datagrams, shared by the node, the client library
 * and the tests. A datagram is a {@link Msg} whose checkSum is CRC32 over messageID then payload.
 */
public final class ClientCodec {
  private ClientCodec() {}

  /** Why a datagram was dropped instead of answered. */
  public enum DropReason {
    /** Longer than any UDP datagram over IPv4 can be. */
    OVERSIZE,
    /** Not a Msg, a Msg missing a required field, or a payload that is not a KVRequest. */
    MALFORMED,
    /** A messageID longer than the protocol's 16 bytes. */
    MESSAGE_ID_TOO_LONG,
    /** checkSum differs from CRC32(messageID, payload). */
    BAD_CHECKSUM,
    /**
     * A client request read right after the node stalled (suspended, or starved of CPU): it may
     * have waited in the socket longer than retries are remembered, so executing it could repeat
     * a write that was answered long ago. The client retries if it still cares.
     */
    STALE_AFTER_STALL,
    /** From a member whose traffic an operator blocked (a partition injected with kvctl). */
    BLOCKED
  }

  /** A datagram that could not be decoded, with the reason it is dropped. */
  public static final class DecodeException extends Exception {
    private static final long serialVersionUID = 1L;
    private final DropReason reason;

    public DecodeException(DropReason reason, String message) {
      super(message, null, false, false);
      this.reason = reason;
    }

    public DropReason reason() {
      return reason;
    }
  }

  /** CRC32 over the messageID bytes followed by the payload bytes, as an unsigned value. */
  public static long checksum(ByteString messageId, ByteString payload) {
    CRC32 crc = new CRC32();
    crc.update(messageId.asReadOnlyByteBuffer());
    crc.update(payload.asReadOnlyByteBuffer());
    return crc.getValue();
  }

  /** Encodes a datagram with its checksum. */
  public static byte[] encode(ByteString messageId, ByteString payload) {
    return Msg.newBuilder()
        .setMessageID(messageId)
        .setPayload(payload)
        .setCheckSum(checksum(messageId, payload))
        .build()
        .toByteArray();
  }

  public static byte[] encodeRequest(ByteString messageId, KVRequest request) {
    return encode(messageId, request.toByteString());
  }

  public static byte[] encodeReply(ByteString messageId, KVResponse response) {
    return encode(messageId, response.toByteString());
  }

  /**
   * Decodes and verifies a datagram: it must parse as a Msg with every required field, carry a
   * messageID of at most {@code messageIdLengthMax} bytes and a correct checksum.
   */
  public static Msg decodeMsg(byte[] datagram, int length, int datagramLengthMax,
      int messageIdLengthMax) throws DecodeException {
    Msg msg = parse(Msg.parser(), datagram, length, datagramLengthMax);
    verify(msg.getMessageID(), msg.getPayload(), msg.getCheckSum(), messageIdLengthMax);
    return msg;
  }

  /**
   * Decodes and verifies a datagram as a {@link PeerMsg}, the superset of Msg that internal
   * traffic uses; a client's Msg parses as a PeerMsg without fields from 100 up.
   */
  public static PeerMsg decodePeerMsg(byte[] datagram, int length, int datagramLengthMax,
      int messageIdLengthMax) throws DecodeException {
    PeerMsg msg = parse(PeerMsg.parser(), datagram, length, datagramLengthMax);
    verify(msg.getMessageID(), msg.getPayload(), msg.getCheckSum(), messageIdLengthMax);
    return msg;
  }

  private static <T> T parse(Parser<T> parser, byte[] datagram, int length,
      int datagramLengthMax) throws DecodeException {
    if (length > datagramLengthMax) {
      throw new DecodeException(DropReason.OVERSIZE, "datagram of " + length + " bytes");
    }
    try {
      return parser.parseFrom(datagram, 0, length);
    } catch (InvalidProtocolBufferException e) {
      throw new DecodeException(DropReason.MALFORMED, "not a Msg: " + e.getMessage());
    }
  }

  private static void verify(ByteString messageId, ByteString payload, long checkSum,
      int messageIdLengthMax) throws DecodeException {
    if (messageId.size() > messageIdLengthMax) {
      throw new DecodeException(DropReason.MESSAGE_ID_TOO_LONG,
          "messageID of " + messageId.size() + " bytes");
    }
    if (checksum(messageId, payload) != checkSum) {
      throw new DecodeException(DropReason.BAD_CHECKSUM, "checksum mismatch");
    }
  }

  /** Parses a KVRequest payload (of a client Msg or a forwarded PeerMsg). */
  public static KVRequest decodeRequest(ByteString payload) throws DecodeException {
    try {
      return KVRequest.parseFrom(payload);
    } catch (InvalidProtocolBufferException e) {
      throw new DecodeException(DropReason.MALFORMED, "not a KVRequest: " + e.getMessage());
    }
  }

  /** Parses the payload of a verified request Msg. */
  public static KVRequest decodeRequest(Msg msg) throws DecodeException {
    return decodeRequest(msg.getPayload());
  }

  /** Parses the payload of a verified reply Msg. */
  public static KVResponse decodeReply(Msg msg) throws DecodeException {
    try {
      return KVResponse.parseFrom(msg.getPayload());
    } catch (InvalidProtocolBufferException e) {
      throw new DecodeException(DropReason.MALFORMED, "not a KVResponse: " + e.getMessage());
    }
  }
}
