package io.kvd.core.codec;

import com.google.protobuf.ByteOutput;
import com.google.protobuf.ByteString;
import com.google.protobuf.CodedInputStream;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageLite;
import com.google.protobuf.Parser;
import com.google.protobuf.UnsafeByteOperations;
import com.google.protobuf.WireFormat;
import io.kvd.proto.ClientProtocol.KVRequest;
import io.kvd.proto.ClientProtocol.KVResponse;
import io.kvd.proto.ClientProtocol.Msg;
import io.kvd.proto.PeerProtocol.PeerMsg;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
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
    BLOCKED,
    /**
     * At a node with a cluster key: an internal message (a field from 100 up) without a tag.
     * See {@link io.kvd.core.auth.PeerAuth}.
     */
    MISSING_TAG,
    /** At a node with a cluster key: a tag that is wrong, or not the datagram's last field. */
    BAD_TAG,
    /**
     * At a node with a cluster key: an admin request without a stamp, or stamped more than 30 s
     * away from the node's wall clock.
     */
    ADMIN_STALE,
    /** At a node with a cluster key: an admin request whose nonce was accepted before. */
    ADMIN_REPLAYED,
    /**
     * At a node with a cluster key: an admin request refused because the node holds as many
     * recent nonces as it may (a flood of admin requests); it accepts again as they expire.
     */
    ADMIN_NONCES_FULL,
    /**
     * Gossip or a replication message from an address that is not another member of the
     * cluster (a stranger's, or the node's own): answering it would send internal traffic to a
     * stranger, or to the node itself in a loop.
     */
    NOT_A_MEMBER
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
    update(crc, messageId);
    update(crc, payload);
    return crc.getValue();
  }

  /**
   * Feeds a ByteString's bytes to a CRC in place. (CRC32.update of the read-only buffer that
   * ByteString offers copies it through a fresh array of up to 4 KiB first: the largest
   * allocation per request in kvd.)
   */
  private static void update(CRC32 crc, ByteString bytes) {
    try {
      UnsafeByteOperations.unsafeWriteTo(bytes, new ByteOutput() {
        @Override
        public void write(byte value) {
          crc.update(value);
        }

        @Override
        public void write(byte[] value, int offset, int length) {
          crc.update(value, offset, length);
        }

        @Override
        public void writeLazy(byte[] value, int offset, int length) {
          crc.update(value, offset, length);
        }

        @Override
        public void write(ByteBuffer value) {
          crc.update(value);
        }

        @Override
        public void writeLazy(ByteBuffer value) {
          crc.update(value);
        }
      });
    } catch (IOException e) {
      throw new UncheckedIOException("a CRC does not fail", e);
    }
  }

  /**
   * Encodes a datagram with its checksum: the bytes of {@code Msg.newBuilder().setMessageID(id)
   * .setPayload(payload).setCheckSum(crc).build().toByteArray()}, written in one pass into one
   * array of the exact size.
   */
  public static byte[] encode(ByteString messageId, byte[] payload) {
    CRC32 crc = new CRC32();
    update(crc, messageId);
    crc.update(payload, 0, payload.length);
    long checkSum = crc.getValue();
    byte[] datagram = new byte[CodedOutputStream.computeBytesSize(1, messageId)
        + CodedOutputStream.computeByteArraySize(2, payload)
        + CodedOutputStream.computeFixed64Size(3, checkSum)];
    CodedOutputStream out = CodedOutputStream.newInstance(datagram);
    try {
      out.writeBytes(1, messageId);
      out.writeByteArray(2, payload);
      out.writeFixed64(3, checkSum);
      out.checkNoSpaceLeft();
    } catch (IOException e) {
      throw new IllegalStateException("the datagram was sized for its fields", e);
    }
    return datagram;
  }

  /** Encodes a datagram with its checksum. */
  public static byte[] encode(ByteString messageId, ByteString payload) {
    return encode(messageId, payload.toByteArray());
  }

  /**
   * Encodes a datagram whose payload is {@code payload} serialized: the same bytes as {@link
   * #encode(ByteString, byte[])} of {@code payload.toByteArray()}, but the payload is serialized
   * straight into the datagram and the checksum taken there, so a 10,000-byte value is copied
   * once rather than twice.
   */
  public static byte[] encode(ByteString messageId, MessageLite payload) {
    int payloadLength = payload.getSerializedSize();
    byte[] datagram = new byte[encodedLength(messageId, payloadLength)];
    encodeInto(messageId, payload, payloadLength, datagram);
    return datagram;
  }

  /**
   * Encodes like {@link #encode(ByteString, MessageLite)} into the start of {@code into} and
   * returns the datagram's length, or -1 (writing nothing) when it would not fit.
   */
  public static int encode(ByteString messageId, MessageLite payload, byte[] into) {
    int payloadLength = payload.getSerializedSize();
    int length = encodedLength(messageId, payloadLength);
    if (length > into.length) {
      return -1;
    }
    encodeInto(messageId, payload, payloadLength, into);
    return length;
  }

  /**
   * Encodes like {@link #encode(ByteString, MessageLite)} into {@code into} from its position,
   * which must have {@link #encodedLength} bytes remaining (a heap or a direct buffer: the CRC is
   * taken where the payload was written); the position ends after the datagram.
   */
  public static void encode(ByteString messageId, MessageLite payload, ByteBuffer into) {
    int payloadLength = payload.getSerializedSize();
    int start = into.position();
    CodedOutputStream out = CodedOutputStream.newInstance(into);
    try {
      out.writeBytes(1, messageId);
      out.writeTag(2, WireFormat.WIRETYPE_LENGTH_DELIMITED);
      out.writeUInt32NoTag(payloadLength);
      int payloadOffset = start + out.getTotalBytesWritten();
      payload.writeTo(out);
      CRC32 crc = new CRC32();
      update(crc, messageId);
      // The encoder writes through its own view of the buffer, so the buffer's position and limit
      // may frame the payload for the CRC meanwhile (a duplicate would be one more object per
      // reply); they are put back before the encoder's flush sets the position.
      int limit = into.limit();
      into.limit(payloadOffset + payloadLength).position(payloadOffset);
      crc.update(into);
      into.limit(limit).position(start);
      out.writeFixed64(3, crc.getValue());
      out.flush();
    } catch (IOException e) {
      throw new IllegalStateException("the buffer was sized for the datagram", e);
    }
  }

  /** The length of Msg({@code messageId}, a payload of {@code payloadLength} bytes, checkSum). */
  public static int encodedLength(ByteString messageId, int payloadLength) {
    return CodedOutputStream.computeBytesSize(1, messageId)
        + CodedOutputStream.computeTagSize(2)
        + CodedOutputStream.computeUInt32SizeNoTag(payloadLength) + payloadLength
        + CodedOutputStream.computeFixed64Size(3, 0);
  }

  private static void encodeInto(ByteString messageId, MessageLite payload, int payloadLength,
      byte[] datagram) {
    encode(messageId, payload, ByteBuffer.wrap(datagram, 0, encodedLength(messageId,
        payloadLength)));
  }

  public static byte[] encodeRequest(ByteString messageId, KVRequest request) {
    return encode(messageId, (MessageLite) request);
  }

  public static byte[] encodeReply(ByteString messageId, KVResponse response) {
    return encode(messageId, (MessageLite) response);
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

  /**
   * Decodes and verifies the first {@code length} bytes of {@code datagram} as a Msg without
   * copying them: the messageID and payload are views of the array, valid only until it is
   * reused (a receive scratch array: until the next datagram). Parse the payload with {@link
   * #parseAliased} to keep the value a view too. (Protobuf aliases only arrays: a direct
   * buffer's bytes field is copied, so a caller with one copies it once into a reused array.)
   */
  public static Msg decodeMsgAliased(byte[] datagram, int length, int datagramLengthMax,
      int messageIdLengthMax) throws DecodeException {
    Msg msg = parseInPlace(Msg.parser(), datagram, length, datagramLengthMax);
    verify(msg.getMessageID(), msg.getPayload(), msg.getCheckSum(), messageIdLengthMax);
    return msg;
  }

  /** {@link #decodePeerMsg} in place, as {@link #decodeMsgAliased}: fields are views. */
  public static PeerMsg decodePeerMsgAliased(byte[] datagram, int length, int datagramLengthMax,
      int messageIdLengthMax) throws DecodeException {
    PeerMsg msg = parseInPlace(PeerMsg.parser(), datagram, length, datagramLengthMax);
    verify(msg.getMessageID(), msg.getPayload(), msg.getCheckSum(), messageIdLengthMax);
    return msg;
  }

  private static <T> T parseInPlace(Parser<T> parser, byte[] datagram, int length,
      int datagramLengthMax) throws DecodeException {
    if (length > datagramLengthMax) {
      throw new DecodeException(DropReason.OVERSIZE, "datagram of " + length + " bytes");
    }
    try {
      return parseAliased(parser, UnsafeByteOperations.unsafeWrap(datagram, 0, length));
    } catch (InvalidProtocolBufferException e) {
      throw new DecodeException(DropReason.MALFORMED, "not a Msg: " + e.getMessage());
    }
  }

  /**
   * Parses {@code bytes} with bytes fields as views of them rather than copies (protobuf's
   * aliasing), so a 10,000-byte value costs no copy; the message is valid while the bytes are.
   */
  public static <T> T parseAliased(Parser<T> parser, ByteString bytes)
      throws InvalidProtocolBufferException {
    CodedInputStream input = bytes.newCodedInput();
    input.enableAliasing(true);
    T message = parser.parseFrom(input);
    input.checkLastTagWas(0);
    return message;
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

  /**
   * Parses a KVRequest payload (of a client Msg or a forwarded PeerMsg). Its key and value are
   * views of {@code payload} (no copy of a 10,000-byte value), so they are valid only as long as
   * {@code payload}'s bytes are: in Node, the datagram's, for the length of the call.
   */
  public static KVRequest decodeRequest(ByteString payload) throws DecodeException {
    try {
      return parseAliased(KVRequest.parser(), payload);
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
