package io.kvd.core.codec;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import io.kvd.core.codec.ClientCodec.DecodeException;
import io.kvd.core.codec.ClientCodec.DropReason;
import io.kvd.proto.ClientProtocol.KVRequest;
import io.kvd.proto.ClientProtocol.KVResponse;
import io.kvd.proto.ClientProtocol.Msg;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.zip.CRC32;
import org.junit.jupiter.api.Test;

/**
 * Proves that the codec's checksum is the protocol's (unsigned CRC32 over messageID then payload,
 * checked against java.util.zip.CRC32 and the standard check value), that encode and decode round
 * trip, that decodeMsg rejects each kind of bad datagram with its own DropReason, and that it
 * accepts what any protobuf parser accepts (unknown fields, repeated fields where the last wins);
 * and that the in-place decoder (decodeMsgAliased, parseAliased: what kvbench reads replies
 * with) returns the same fields as views of the array, with the same rejections.
 * How: datagrams built with the generated classes or byte by byte with CodedOutputStream.
 */
class ClientCodecTest {
  private static final int DATAGRAM_LENGTH_MAX = 65_507;
  private static final int ID_LENGTH_MAX = 16;
  private static final ByteString ID = ByteString.copyFrom(new byte[] {
      1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, (byte) 0xF0});
  private static final ByteString PAYLOAD = KVRequest.newBuilder().setCommand(1)
      .setKey(ByteString.copyFromUtf8("key")).setValue(ByteString.copyFromUtf8("value"))
      .setVersion(-7).build().toByteString();

  private interface Fields {
    void write(CodedOutputStream out) throws IOException;
  }

  /** A datagram written field by field, in any order or repetition a sender might choose. */
  private static byte[] raw(Fields fields) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    CodedOutputStream out = CodedOutputStream.newInstance(bytes);
    fields.write(out);
    out.flush();
    return bytes.toByteArray();
  }

  private static long crc32(byte[]... parts) {
    CRC32 crc = new CRC32();
    for (byte[] part : parts) {
      crc.update(part);
    }
    return crc.getValue();
  }

  private static Msg decode(byte[] datagram) throws DecodeException {
    return ClientCodec.decodeMsg(datagram, datagram.length, DATAGRAM_LENGTH_MAX, ID_LENGTH_MAX);
  }

  private static DropReason rejection(byte[] datagram) {
    return assertThrows(DecodeException.class, () -> decode(datagram)).reason();
  }

  @Test
  void checksumIsUnsignedCrc32OfIdThenPayload() {
    assertEquals(crc32(ID.toByteArray(), PAYLOAD.toByteArray()),
        ClientCodec.checksum(ID, PAYLOAD));
    // The CRC-32 check value, split across the two parts; it also has the top bit set, so a
    // sign-extended int would differ.
    long check = ClientCodec.checksum(ByteString.copyFromUtf8("12345"),
        ByteString.copyFromUtf8("6789"));
    assertEquals(0xCBF4_3926L, check);
    // Order matters: the ID comes first.
    assertNotEquals(ClientCodec.checksum(ID, PAYLOAD), ClientCodec.checksum(PAYLOAD, ID));
    assertEquals(crc32(), ClientCodec.checksum(ByteString.EMPTY, ByteString.EMPTY));
  }

  @Test
  void encodeWritesTheThreeFieldsAndDecodeReadsThemBack() throws Exception {
    byte[] datagram = ClientCodec.encode(ID, PAYLOAD);
    Msg parsed = Msg.parseFrom(datagram);
    assertEquals(ID, parsed.getMessageID());
    assertEquals(PAYLOAD, parsed.getPayload());
    assertEquals(crc32(ID.toByteArray(), PAYLOAD.toByteArray()), parsed.getCheckSum());

    Msg decoded = decode(datagram);
    assertEquals(parsed, decoded);
    KVRequest request = ClientCodec.decodeRequest(decoded);
    assertEquals(1, request.getCommand());
    assertEquals("key", request.getKey().toStringUtf8());
    assertEquals("value", request.getValue().toStringUtf8());
    assertEquals(-7, request.getVersion());
  }

  @Test
  void requestAndReplyRoundTrip() throws Exception {
    KVRequest request = KVRequest.newBuilder().setCommand(2)
        .setKey(ByteString.copyFrom(new byte[32])).build();
    assertEquals(request,
        ClientCodec.decodeRequest(decode(ClientCodec.encodeRequest(ID, request))));

    KVResponse reply = KVResponse.newBuilder().setErrCode(0)
        .setValue(ByteString.copyFrom(new byte[10_000])).setVersion(Integer.MIN_VALUE)
        .setPid(12345).setOverloadWaitTime(20).setMembershipCount(80).build();
    Msg msg = decode(ClientCodec.encodeReply(ID, reply));
    KVResponse decoded = ClientCodec.decodeReply(msg);
    assertEquals(reply, decoded);
    assertTrue(decoded.hasErrCode(), "errCode 0 is written, not left out as a default");
  }

  @Test
  void decodesOnlyTheGivenLengthOfALargerBuffer() throws Exception {
    byte[] datagram = ClientCodec.encode(ID, PAYLOAD);
    byte[] buffer = Arrays.copyOf(datagram, datagram.length + 100);
    Arrays.fill(buffer, datagram.length, buffer.length, (byte) 0xFF);
    Msg msg = ClientCodec.decodeMsg(buffer, datagram.length, DATAGRAM_LENGTH_MAX, ID_LENGTH_MAX);
    assertEquals(PAYLOAD, msg.getPayload());
    assertEquals(DropReason.MALFORMED, assertThrows(DecodeException.class,
        () -> ClientCodec.decodeMsg(buffer, buffer.length, DATAGRAM_LENGTH_MAX, ID_LENGTH_MAX))
        .reason());
  }

  @Test
  void rejectsAWrongChecksum() throws Exception {
    long good = ClientCodec.checksum(ID, PAYLOAD);
    for (long bad : new long[] {good + 1, good ^ 0x8000_0000L, good | 1L << 32, 0, -1}) {
      byte[] datagram = Msg.newBuilder().setMessageID(ID).setPayload(PAYLOAD).setCheckSum(bad)
          .build().toByteArray();
      assertEquals(DropReason.BAD_CHECKSUM, rejection(datagram), "checkSum " + bad);
    }
    // A sender that sign-extends a CRC with the top bit set is wrong; the unsigned value is right.
    ByteString id = ByteString.copyFromUtf8("12345");
    ByteString payload = ByteString.copyFromUtf8("6789");
    byte[] signExtended = Msg.newBuilder().setMessageID(id).setPayload(payload)
        .setCheckSum((int) 0xCBF4_3926L).build().toByteArray();
    assertEquals(DropReason.BAD_CHECKSUM, rejection(signExtended));
    byte[] unsigned = Msg.newBuilder().setMessageID(id).setPayload(payload)
        .setCheckSum(0xCBF4_3926L).build().toByteArray();
    assertEquals(payload, decode(unsigned).getPayload());
  }

  @Test
  void rejectsAMissingRequiredField() throws Exception {
    long sum = ClientCodec.checksum(ID, PAYLOAD);
    assertEquals(DropReason.MALFORMED, rejection(raw(out -> {
      out.writeBytes(1, ID);
      out.writeBytes(2, PAYLOAD);
    })), "no checkSum");
    assertEquals(DropReason.MALFORMED, rejection(raw(out -> {
      out.writeBytes(2, PAYLOAD);
      out.writeFixed64(3, ClientCodec.checksum(ByteString.EMPTY, PAYLOAD));
    })), "no messageID");
    assertEquals(DropReason.MALFORMED, rejection(raw(out -> {
      out.writeBytes(1, ID);
      out.writeFixed64(3, ClientCodec.checksum(ID, ByteString.EMPTY));
    })), "no payload");
    assertEquals(DropReason.MALFORMED, rejection(raw(out -> {
      out.writeBytes(1, ID);
      out.writeBytes(2, PAYLOAD);
      out.writeUInt64(3, sum);
    })), "checkSum as a varint is another field, so checkSum is missing");
    assertEquals(DropReason.MALFORMED, rejection(new byte[0]), "empty datagram");
  }

  @Test
  void rejectsGarbage() {
    assertEquals(DropReason.MALFORMED, rejection(new byte[] {(byte) 0xFF}));
    assertEquals(DropReason.MALFORMED, rejection(new byte[] {(byte) 0xFF, (byte) 0xFF,
        (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF,
        (byte) 0xFF, (byte) 0xFF, (byte) 0xFF}));
    assertEquals(DropReason.MALFORMED, rejection(
        "GET /index.html HTTP/1.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII)));
    byte[] datagram = ClientCodec.encode(ID, PAYLOAD);
    assertEquals(DropReason.MALFORMED, rejection(Arrays.copyOf(datagram, datagram.length - 1)),
        "cut short");
  }

  @Test
  void rejectsMessageIdsLongerThanSixteenBytes() throws Exception {
    ByteString id17 = ByteString.copyFrom(new byte[17]);
    assertEquals(DropReason.MESSAGE_ID_TOO_LONG, rejection(ClientCodec.encode(id17, PAYLOAD)));
    ByteString id16 = ByteString.copyFrom(new byte[16]);
    assertEquals(id16, decode(ClientCodec.encode(id16, PAYLOAD)).getMessageID());
    assertEquals(ByteString.EMPTY, decode(ClientCodec.encode(ByteString.EMPTY, PAYLOAD))
        .getMessageID(), "an empty ID is opaque too");
  }

  @Test
  void rejectsDatagramsLongerThanTheLimit() throws Exception {
    byte[] datagram = ClientCodec.encode(ID, PAYLOAD);
    assertEquals(DropReason.OVERSIZE, assertThrows(DecodeException.class,
        () -> ClientCodec.decodeMsg(datagram, datagram.length, datagram.length - 1,
            ID_LENGTH_MAX)).reason());
    assertEquals(PAYLOAD, ClientCodec.decodeMsg(datagram, datagram.length, datagram.length,
        ID_LENGTH_MAX).getPayload(), "exactly at the limit");
    byte[] huge = new byte[DATAGRAM_LENGTH_MAX + 1];
    assertEquals(DropReason.OVERSIZE, rejection(huge));
  }

  @Test
  void rejectsPayloadsThatAreNotTheExpectedMessage() throws Exception {
    ByteString noCommand = KVRequest.newBuilder().setKey(ByteString.copyFromUtf8("k"))
        .buildPartial().toByteString();
    DecodeException e = assertThrows(DecodeException.class,
        () -> ClientCodec.decodeRequest(decode(ClientCodec.encode(ID, noCommand))));
    assertEquals(DropReason.MALFORMED, e.reason());
    ByteString noErrCode = KVResponse.newBuilder().setPid(1).buildPartial().toByteString();
    assertEquals(DropReason.MALFORMED, assertThrows(DecodeException.class,
        () -> ClientCodec.decodeReply(decode(ClientCodec.encode(ID, noErrCode)))).reason());
    ByteString garbage = ByteString.copyFrom(new byte[] {(byte) 0xFF, (byte) 0xFF});
    assertEquals(DropReason.MALFORMED, assertThrows(DecodeException.class,
        () -> ClientCodec.decodeRequest(decode(ClientCodec.encode(ID, garbage)))).reason());
  }

  @Test
  void acceptsUnknownFieldsAndTakesTheLastOfRepeatedFields() throws Exception {
    long sum = ClientCodec.checksum(ID, PAYLOAD);
    Msg withUnknown = decode(raw(out -> {
      out.writeUInt64(7, 42);
      out.writeBytes(1, ID);
      out.writeBytes(100, ByteString.copyFromUtf8("internal"));
      out.writeBytes(2, PAYLOAD);
      out.writeFixed32(9, 1);
      out.writeFixed64(3, sum);
    }));
    assertEquals(ID, withUnknown.getMessageID());
    assertEquals(PAYLOAD, withUnknown.getPayload());

    ByteString decoy = ByteString.copyFromUtf8("decoy");
    Msg repeated = decode(raw(out -> {
      out.writeBytes(1, decoy);
      out.writeBytes(2, decoy);
      out.writeFixed64(3, 12345);
      out.writeBytes(1, ID);
      out.writeBytes(2, PAYLOAD);
      out.writeFixed64(3, sum);
    }));
    assertEquals(ID, repeated.getMessageID());
    assertEquals(PAYLOAD, repeated.getPayload());
    assertArrayEquals(PAYLOAD.toByteArray(), ClientCodec.decodeRequest(repeated).toByteArray());

    // The checksum is verified against the last messageID, not the first.
    byte[] checksumOfFirst = raw(out -> {
      out.writeBytes(1, ID);
      out.writeBytes(1, decoy);
      out.writeBytes(2, PAYLOAD);
      out.writeFixed64(3, sum);
    });
    assertEquals(DropReason.BAD_CHECKSUM, rejection(checksumOfFirst));
  }

  /**
   * The one-pass encoder writes exactly the bytes the generated Msg writes, and the in-place
   * checksum equals CRC32 over the concatenated arrays, for seeded random IDs and payloads of 0 to
   * 12,000 bytes, including payloads that are ropes (concatenations) rather than one array.
   */
  @Test
  void onePassEncodingIsTheGeneratedEncoding() {
    java.util.SplittableRandom random = new java.util.SplittableRandom(431);
    for (int i = 0; i < 500; i++) {
      byte[] id = new byte[random.nextInt(17)];
      byte[] payload = new byte[i % 50 == 0 ? random.nextInt(12_001) : random.nextInt(300)];
      random.nextBytes(id);
      random.nextBytes(payload);
      ByteString idBytes = ByteString.copyFrom(id);
      ByteString payloadBytes = payload.length > 2
          ? ByteString.copyFrom(payload, 0, payload.length / 2)
              .concat(ByteString.copyFrom(payload, payload.length / 2,
                  payload.length - payload.length / 2))
          : ByteString.copyFrom(payload);
      CRC32 crc = new CRC32();
      crc.update(id);
      crc.update(payload);
      assertEquals(crc.getValue(), ClientCodec.checksum(idBytes, payloadBytes));
      byte[] expected = Msg.newBuilder().setMessageID(idBytes).setPayload(payloadBytes)
          .setCheckSum(crc.getValue()).build().toByteArray();
      assertArrayEquals(expected, ClientCodec.encode(idBytes, payload));
      assertArrayEquals(expected, ClientCodec.encode(idBytes, payloadBytes));
      KVResponse reply = KVResponse.newBuilder().setErrCode(random.nextInt(40))
          .setValue(payloadBytes).setVersion(random.nextInt()).build();
      assertArrayEquals(Msg.newBuilder().setMessageID(idBytes).setPayload(reply.toByteString())
          .setCheckSum(ClientCodec.checksum(idBytes, reply.toByteString())).build()
          .toByteArray(), ClientCodec.encodeReply(idBytes, reply));
    }
  }

  private static Msg decodeAliased(byte[] datagram) throws DecodeException {
    byte[] scratch = Arrays.copyOf(datagram, datagram.length + 3); // longer than the datagram
    return ClientCodec.decodeMsgAliased(scratch, datagram.length, DATAGRAM_LENGTH_MAX,
        ID_LENGTH_MAX);
  }

  @Test
  void decodesInPlaceWithFieldsAsViewsOfTheArray() throws Exception {
    byte[] value = new byte[10_000];
    Arrays.fill(value, (byte) 0x5A);
    KVResponse reply = KVResponse.newBuilder().setErrCode(0).setValue(ByteString.copyFrom(value))
        .setVersion(3).build();
    byte[] datagram = ClientCodec.encodeReply(ID, reply);
    byte[] scratch = Arrays.copyOf(datagram, 65_536);
    Msg msg = ClientCodec.decodeMsgAliased(scratch, datagram.length, DATAGRAM_LENGTH_MAX,
        ID_LENGTH_MAX);
    assertEquals(decode(datagram), msg);
    KVResponse parsed = ClientCodec.parseAliased(KVResponse.parser(), msg.getPayload());
    assertEquals(reply, parsed);
    // A view, not a copy: a change to the array's last value byte shows through.
    int first = 0;
    while (!Arrays.equals(datagram, first, first + value.length, value, 0, value.length)) {
      first++;
    }
    scratch[first + value.length - 1] = 0x11;
    assertEquals(0x11, parsed.getValue().byteAt(parsed.getValue().size() - 1));

    // The same rejections as the copying decoder.
    long good = ClientCodec.checksum(ID, PAYLOAD);
    byte[] badSum = Msg.newBuilder().setMessageID(ID).setPayload(PAYLOAD).setCheckSum(good + 1)
        .build().toByteArray();
    assertEquals(DropReason.BAD_CHECKSUM, assertThrows(DecodeException.class,
        () -> decodeAliased(badSum)).reason());
    assertEquals(DropReason.MALFORMED, assertThrows(DecodeException.class,
        () -> decodeAliased(new byte[] {(byte) 0xFF, (byte) 0xFF, 0x01})).reason());
    byte[] longId = Msg.newBuilder().setMessageID(ByteString.copyFrom(new byte[17]))
        .setPayload(PAYLOAD).setCheckSum(ClientCodec.checksum(ByteString.copyFrom(new byte[17]),
            PAYLOAD)).build().toByteArray();
    assertEquals(DropReason.MESSAGE_ID_TOO_LONG, assertThrows(DecodeException.class,
        () -> decodeAliased(longId)).reason());
    assertEquals(DropReason.OVERSIZE, assertThrows(DecodeException.class,
        () -> ClientCodec.decodeMsgAliased(new byte[DATAGRAM_LENGTH_MAX + 1],
            DATAGRAM_LENGTH_MAX + 1, DATAGRAM_LENGTH_MAX, ID_LENGTH_MAX)).reason());
    Msg ok = decodeAliased(Msg.newBuilder().setMessageID(ID).setPayload(PAYLOAD)
        .setCheckSum(good).build().toByteArray());
    assertEquals(PAYLOAD, ok.getPayload(), "only the first length bytes are read");
  }
}
