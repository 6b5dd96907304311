package io.kvd.core.auth;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import io.kvd.core.NodeConfig;
import io.kvd.core.codec.ClientCodec;
import io.kvd.core.codec.ClientCodec.DecodeException;
import io.kvd.core.codec.ClientCodec.DropReason;
import io.kvd.proto.ClientProtocol.KVRequest;
import io.kvd.proto.PeerProtocol.Gossip;
import io.kvd.proto.PeerProtocol.PeerMsg;
import io.kvd.proto.PeerProtocol.Update;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.Test;

/**
 * Proves the tag of internal messages: the key file's formats and bounds; a tagged datagram is the
 * message followed by field 105 holding HMAC-SHA256 truncated to 16 bytes over every byte before
 * it; any flipped bit anywhere, a wrong key, a tag that is not the last field, a tag missing and
 * look-alike trailers inside another field are all rejected; client requests pass without a tag;
 * and without a key nothing is checked or added.
 */
class ClusterKeyTest {
  static final byte[] MATERIAL = new byte[32];
  static final byte[] OTHER = new byte[32];

  static {
    for (int i = 0; i < 32; i++) {
      MATERIAL[i] = (byte) (i * 7 + 1);
      OTHER[i] = (byte) (i * 7 + 2);
    }
  }

  static final ClusterKey KEY = ClusterKey.of(MATERIAL);

  static byte[] gossip() {
    ByteString payload = Gossip.newBuilder().setKind(Gossip.Kind.PING)
        .setFrom(0x7F00_0001_A86CL).setSequence(3)
        .addUpdates(Update.newBuilder().setMember(0x7F00_0001_A86DL).setIncarnation(9)
            .setStatus(Update.Status.DEAD))
        .build().toByteString();
    return PeerMsg.newBuilder().setMessageID(ByteString.EMPTY).setPayload(payload)
        .setCheckSum(ClientCodec.checksum(ByteString.EMPTY, payload)).setGossip(true).build()
        .toByteArray();
  }

  private static PeerMsg parse(byte[] datagram) throws DecodeException {
    return ClientCodec.decodePeerMsg(datagram, datagram.length, NodeConfig.DATAGRAM_LENGTH_MAX,
        NodeConfig.MESSAGE_ID_LENGTH_MAX);
  }

  private static PeerAuth keyed() {
    PeerAuth auth = new PeerAuth();
    auth.setKey(KEY);
    return auth;
  }

  /** Why a keyed node drops the datagram: its decode failure, or the tag check's; null: kept. */
  private static DropReason drop(PeerAuth auth, byte[] datagram) {
    try {
      return auth.check(parse(datagram), datagram, datagram.length);
    } catch (DecodeException e) {
      return e.reason();
    }
  }

  @Test
  void keyFilesHoldHexOrBase64OfAtLeast32Bytes() {
    String hex = HexFormat.of().formatHex(MATERIAL);
    assertEquals(KEY, ClusterKey.parse(hex));
    assertEquals(KEY, ClusterKey.parse(hex.toUpperCase() + "\n"));
    assertEquals(KEY, ClusterKey.parse("# a comment\n\n  " + hex + "  \n\n"));
    assertEquals(KEY, ClusterKey.parse(Base64.getEncoder().encodeToString(MATERIAL)));
    assertEquals(KEY, ClusterKey.parse(Base64.getUrlEncoder().withoutPadding()
        .encodeToString(MATERIAL)));
    assertEquals(KEY, ClusterKey.parse(ClusterKey.format(MATERIAL)), "format round-trips");
    assertEquals(hex + "\n", ClusterKey.format(MATERIAL));
    assertNotEquals(KEY, ClusterKey.of(OTHER));

    assertTrue(assertThrows(IllegalArgumentException.class,
        () -> ClusterKey.parse(hex.substring(0, 62))).getMessage().contains("32"), "31 bytes");
    assertTrue(assertThrows(IllegalArgumentException.class,
        () -> ClusterKey.parse(hex + "0")).getMessage().contains("odd"));
    assertTrue(assertThrows(IllegalArgumentException.class,
        () -> ClusterKey.parse("# nothing\n\n")).getMessage().contains("no key"));
    assertTrue(assertThrows(IllegalArgumentException.class,
        () -> ClusterKey.parse(hex + "\n" + hex)).getMessage().contains("more than one line"));
    String notBase64 = "this is not a key! " + hex;
    IllegalArgumentException bad = assertThrows(IllegalArgumentException.class,
        () -> ClusterKey.parse(notBase64));
    assertFalse(bad.getMessage().contains(hex), "never quotes the key: " + bad.getMessage());
    assertThrows(IllegalArgumentException.class, () -> ClusterKey.of(new byte[1025]));
    assertFalse(KEY.toString().contains(hex.substring(0, 16)), "toString hides the key");
    assertEquals(8, KEY.fingerprint().length());
  }

  @Test
  void theTagIsTheLastFieldAndHmacSha256Of16BytesOverEverythingBefore() throws Exception {
    byte[] message = gossip();
    byte[] signed = KEY.sign(message);
    assertEquals(message.length + 19, signed.length);
    assertArrayEquals(message, Arrays.copyOf(signed, message.length), "the message unchanged");
    assertArrayEquals(new byte[] {(byte) 0xCA, 0x06, 0x10},
        Arrays.copyOfRange(signed, message.length, message.length + 3), "field 105, 16 bytes");
    Mac mac = Mac.getInstance("HmacSHA256");
    mac.init(new SecretKeySpec(MATERIAL, "HmacSHA256"));
    byte[] expected = Arrays.copyOf(mac.doFinal(message), 16);
    PeerMsg parsed = parse(signed);
    assertArrayEquals(expected, parsed.getTag().toByteArray(), "HMAC-SHA256, first 16 bytes");
    assertEquals(parsed.toBuilder().clearTag().build(), parse(message), "nothing else changed");
    // The same bytes as the builder with the tag set: a plain protobuf encoder writes it last.
    assertArrayEquals(signed, parse(message).toBuilder()
        .setTag(ByteString.copyFrom(expected)).build().toByteArray());
    assertEquals(ClusterKey.Verdict.VALID, KEY.verify(signed, signed.length));
    assertNull(drop(keyed(), signed));
  }

  @Test
  void anyFlippedBitIsRejected() {
    byte[] signed = KEY.sign(gossip());
    PeerAuth auth = keyed();
    for (int bit = 0; bit < signed.length * 8; bit++) {
      byte[] flipped = signed.clone();
      flipped[bit / 8] ^= (byte) (1 << (bit % 8));
      assertNotEquals(ClusterKey.Verdict.VALID, KEY.verify(flipped, flipped.length),
          "bit " + bit);
      assertTrue(drop(auth, flipped) != null, "bit " + bit + " of " + signed.length * 8);
    }
  }

  @Test
  void aWrongKeyAMissingTagOrATagNotLastIsDropped() throws IOException {
    PeerAuth auth = keyed();
    byte[] message = gossip();
    assertEquals(DropReason.MISSING_TAG, drop(auth, message));
    byte[] forged = ClusterKey.of(OTHER).sign(message);
    assertEquals(ClusterKey.Verdict.BAD, KEY.verify(forged, forged.length));
    assertEquals(DropReason.BAD_TAG, drop(auth, forged));

    // A valid tag followed by another field (hops = 1): the tag is no longer last.
    byte[] signed = KEY.sign(message);
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    bytes.write(signed);
    CodedOutputStream out = CodedOutputStream.newInstance(bytes);
    out.writeUInt32(101, 1);
    out.flush();
    byte[] notLast = bytes.toByteArray();
    assertEquals(ClusterKey.Verdict.MISSING, KEY.verify(notLast, notLast.length));
    assertEquals(DropReason.BAD_TAG, drop(auth, notLast));

    // The tag moved to the front: parsers accept it there, the check does not.
    byte[] trailer = Arrays.copyOfRange(signed, message.length, signed.length);
    byte[] first = new byte[signed.length];
    System.arraycopy(trailer, 0, first, 0, trailer.length);
    System.arraycopy(message, 0, first, trailer.length, message.length);
    assertEquals(DropReason.BAD_TAG, drop(auth, first));

    // A look-alike trailer that is the end of another field (the payload), not the tag field:
    // the MAC over the bytes before it is right, but the message holds no such tag.
    byte[] prefixed = KEY.sign(new byte[] {0x0A, 0x00}); // messageID = "" then a fake trailer
    ByteString payload = ByteString.copyFrom(prefixed, 2, prefixed.length - 2);
    byte[] lookAlike = PeerMsg.newBuilder().setMessageID(ByteString.EMPTY).setPayload(payload)
        .setCheckSum(ClientCodec.checksum(ByteString.EMPTY, payload)).setGossip(true).build()
        .toByteArray();
    assertEquals(DropReason.MISSING_TAG, drop(auth, lookAlike));
    // ...and with a tag field earlier as well (covered by its own MAC only, not the datagram's).
    PeerMsg withEarlierTag = PeerMsg.newBuilder().setMessageID(ByteString.EMPTY)
        .setPayload(ByteString.copyFromUtf8("x"))
        .setCheckSum(ClientCodec.checksum(ByteString.EMPTY, ByteString.copyFromUtf8("x")))
        .setGossip(true).setTag(ByteString.copyFrom(new byte[16])).build();
    byte[] tagged = KEY.sign(withEarlierTag.toByteArray());
    assertNull(drop(auth, tagged), "signed by the key holder: the last tag is the one checked");
    tagged[tagged.length - 20] ^= 1; // the earlier tag's last byte
    assertEquals(DropReason.BAD_TAG, drop(auth, tagged));
  }

  @Test
  void clientRequestsNeedNoTagAndEveryInternalFieldDoes() {
    PeerAuth auth = keyed();
    KVRequest get = KVRequest.newBuilder().setCommand(2)
        .setKey(ByteString.copyFromUtf8("k")).build();
    byte[] client = ClientCodec.encodeRequest(ByteString.copyFromUtf8("id"), get);
    assertNull(drop(auth, client), "a course client's request");
    PeerMsg plain = PeerMsg.newBuilder().setMessageID(ByteString.copyFromUtf8("id"))
        .setPayload(get.toByteString())
        .setCheckSum(ClientCodec.checksum(ByteString.copyFromUtf8("id"), get.toByteString()))
        .build();
    for (PeerMsg internal : new PeerMsg[] {
        plain.toBuilder().setClientAddress(1).build(), plain.toBuilder().setHops(0).build(),
        plain.toBuilder().setGossip(false).build(), plain.toBuilder().setReplica(true).build(),
        plain.toBuilder().setAdmin(true).build()}) {
      byte[] datagram = internal.toByteArray();
      assertEquals(DropReason.MISSING_TAG, drop(auth, datagram), internal.toString());
      assertNull(drop(auth, KEY.sign(datagram)), internal.toString());
    }
    // A client request with a tag field (some client's garbage) is checked as well.
    byte[] garbage = plain.toBuilder().setTag(ByteString.copyFrom(new byte[16])).build()
        .toByteArray();
    assertEquals(DropReason.BAD_TAG, drop(auth, garbage));
  }

  @Test
  void withoutAKeyNothingIsCheckedOrAdded() {
    PeerAuth open = new PeerAuth();
    assertFalse(open.keyed());
    byte[] message = gossip();
    assertNull(drop(open, message));
    assertNull(drop(open, ClusterKey.of(OTHER).sign(message)), "a tag is ignored");
    assertSame(message, open.seal(message), "sent as is");
    assertArrayEquals(KEY.sign(message), keyed().seal(message));
    assertNull(open.admitAdmin(io.kvd.proto.PeerProtocol.AdminRequest.newBuilder()
        .setKind(io.kvd.proto.PeerProtocol.AdminRequest.Kind.STATUS).build(), 0),
        "no stamp needed");
  }
}
