package io.kvd.core.auth;

import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * A cluster key: the secret every member of a cluster and its operators share, with which
 * internal messages are tagged (HMAC-SHA256, truncated to {@link #TAG_LENGTH} bytes) and checked.
 * Pure computation, no I/O: the shell reads the key file ({@code io.kvd.client.ClusterKeyFile}).
 *
 * <p>Wire format of a tagged datagram: the message's bytes M, then the {@code PeerMsg.tag} field
 * (number 105, length-delimited) holding HMAC-SHA256(key, M)[0..16): M + {@code CA 06 10} + 16
 * tag bytes. The tag is therefore the datagram's last field and its last {@link #TRAILER_LENGTH}
 * bytes, and the MAC covers every byte before it (messageID, payload, checkSum and every internal
 * field). Protobuf parsers accept a field in any position, so appending it keeps the datagram a
 * valid PeerMsg.
 *
 * <p>Key file text ({@link #parse}): the key on one line, as hexadecimal (an even number of digits,
 * at least 64) or as base64 (standard or URL-safe alphabet, padding optional), at least {@link
 * #LENGTH_MIN} bytes and at most {@link #LENGTH_MAX}; blank lines and lines starting with # are
 * ignored. A line of hex digits only is read as hex.
 *
 * <p>Thread-safe: each thread gets its own Mac.
 */
public final class ClusterKey {
  /** Fewest bytes of key material: 256 bits, HMAC-SHA256's output size. */
  public static final int LENGTH_MIN = 32;
  /** Most bytes of key material. */
  public static final int LENGTH_MAX = 1024;
  /** Bytes of the tag: HMAC-SHA256 truncated to its first 16 bytes (128 bits). */
  public static final int TAG_LENGTH = 16;
  /** The PeerMsg field that holds the tag. */
  public static final int TAG_FIELD = 105;
  /** The tag field's key and length as encoded: field 105, wire type 2 (CA 06), length 16. */
  private static final byte[] TRAILER_HEAD = {(byte) 0xCA, 0x06, 0x10};
  /** Bytes the tag field adds to a datagram: its key, its length and the tag. */
  public static final int TRAILER_LENGTH = TRAILER_HEAD.length + TAG_LENGTH;
  private static final String ALGORITHM = "HmacSHA256";

  /** What {@link #verify} found at the end of a datagram. */
  public enum Verdict {
    /** The last bytes are a tag field, and the tag is right for the bytes before it. */
    VALID,
    /** The datagram does not end with a tag field. */
    MISSING,
    /** It ends with a tag field whose tag is wrong. */
    BAD
  }

  private final SecretKeySpec spec;
  private final String fingerprint;
  private final ThreadLocal<Mac> macs;

  private ClusterKey(byte[] material) {
    this.spec = new SecretKeySpec(material, ALGORITHM);
    try {
      byte[] digest = MessageDigest.getInstance("SHA-256").digest(material);
      this.fingerprint = HexFormat.of().formatHex(digest, 0, 4);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("every Java platform has SHA-256", e);
    }
    this.macs = ThreadLocal.withInitial(this::newMac);
    newMac(); // fails here, not on the first datagram, if the platform lacks HmacSHA256
  }

  /** A key of {@code material} (copied): {@link #LENGTH_MIN} to {@link #LENGTH_MAX} bytes. */
  public static ClusterKey of(byte[] material) {
    if (material.length < LENGTH_MIN || material.length > LENGTH_MAX) {
      throw new IllegalArgumentException("a cluster key needs " + LENGTH_MIN + " to " + LENGTH_MAX
          + " bytes of key material, got " + material.length);
    }
    return new ClusterKey(material.clone());
  }

  /**
   * The key in a key file's text (see the class comment); IllegalArgumentException saying what is
   * wrong, never quoting the text.
   */
  public static ClusterKey parse(String text) {
    String line = null;
    for (String raw : text.split("\r?\n", -1)) {
      String trimmed = raw.strip();
      if (trimmed.isEmpty() || trimmed.startsWith("#")) {
        continue;
      }
      if (line != null) {
        throw new IllegalArgumentException("more than one line of key material (the key goes on"
            + " one line: hex or base64)");
      }
      line = trimmed;
    }
    if (line == null) {
      throw new IllegalArgumentException("no key in it (expected one line: at least "
          + 2 * LENGTH_MIN + " hex digits, or base64 of at least " + LENGTH_MIN + " bytes)");
    }
    byte[] material;
    if (line.chars().allMatch(c -> Character.digit(c, 16) >= 0)) {
      if (line.length() % 2 != 0) {
        throw new IllegalArgumentException("an odd number of hex digits (" + line.length() + ")");
      }
      material = HexFormat.of().parseHex(line);
    } else {
      // The decoder takes missing padding ("=" is accepted, not required).
      try {
        material = Base64.getDecoder().decode(line.replace('-', '+').replace('_', '/'));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("neither hex nor base64: " + e.getMessage());
      }
    }
    try {
      return of(material);
    } finally {
      Arrays.fill(material, (byte) 0);
    }
  }

  /** The key as a key file holds it: one line of lowercase hex, then a newline. */
  public static String format(byte[] material) {
    of(material); // checks the length
    return HexFormat.of().formatHex(material) + "\n";
  }

  /**
   * The first 4 bytes of SHA-256 of the key, in hex: names a key in logs and messages without
   * revealing it (two parties with the same fingerprint very likely share the key).
   */
  public String fingerprint() {
    return fingerprint;
  }

  private Mac newMac() {
    try {
      Mac mac = Mac.getInstance(ALGORITHM);
      mac.init(spec);
      return mac;
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("cannot set up " + ALGORITHM + ": " + e, e);
    }
  }

  /** The 16-byte tag of {@code length} bytes of {@code bytes} from {@code offset}. */
  public byte[] tag(byte[] bytes, int offset, int length) {
    Mac mac = macs.get();
    mac.update(bytes, offset, length);
    return Arrays.copyOf(mac.doFinal(), TAG_LENGTH);
  }

  /** {@code datagram} with its tag field appended: a new array, {@link #TRAILER_LENGTH} longer. */
  public byte[] sign(byte[] datagram) {
    return sign(datagram, datagram.length);
  }

  /** The first {@code length} bytes of {@code datagram} with their tag field appended. */
  public byte[] sign(byte[] datagram, int length) {
    byte[] tag = tag(datagram, 0, length);
    byte[] signed = Arrays.copyOf(datagram, length + TRAILER_LENGTH);
    System.arraycopy(TRAILER_HEAD, 0, signed, length, TRAILER_HEAD.length);
    System.arraycopy(tag, 0, signed, length + TRAILER_HEAD.length, TAG_LENGTH);
    return signed;
  }

  /** Checks the tag at the end of the first {@code length} bytes of {@code datagram}. */
  public Verdict verify(byte[] datagram, int length) {
    int head = length - TRAILER_LENGTH;
    if (head < 0 || !Arrays.equals(datagram, head, head + TRAILER_HEAD.length, TRAILER_HEAD, 0,
        TRAILER_HEAD.length)) {
      return Verdict.MISSING;
    }
    byte[] expected = tag(datagram, 0, head);
    byte[] actual = Arrays.copyOfRange(datagram, length - TAG_LENGTH, length);
    return MessageDigest.isEqual(expected, actual) ? Verdict.VALID : Verdict.BAD;
  }

  /** The tag bytes at the end of a datagram that {@link #verify} found VALID. */
  public static byte[] trailingTag(byte[] datagram, int length) {
    return Arrays.copyOfRange(datagram, length - TAG_LENGTH, length);
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof ClusterKey k && MessageDigest.isEqual(spec.getEncoded(),
        k.spec.getEncoded());
  }

  @Override
  public int hashCode() {
    return fingerprint.hashCode();
  }

  /** Never the key itself. */
  @Override
  public String toString() {
    return "ClusterKey(fingerprint " + fingerprint + ")";
  }
}
