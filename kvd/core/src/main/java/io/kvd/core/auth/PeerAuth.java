package io.kvd.core.auth;

import com.google.protobuf.ByteString;
import io.kvd.core.codec.ClientCodec;
import io.kvd.core.codec.ClientCodec.DropReason;
import io.kvd.proto.PeerProtocol.AdminRequest;
import io.kvd.proto.PeerProtocol.PeerMsg;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.Set;

/**
 * A node's authentication of internal messages: with a {@link ClusterKey} it tags every internal
 * message it sends ({@link #seal}) and drops every received datagram that carries an internal
 * field (100 to 105) without a valid tag ({@link #check}), and admits an admin request only with
 * a fresh stamp seen for the first time ({@link #admitAdmin}). Without a key it does nothing: the
 * node runs open, as kvd did before cluster keys, and client requests never need a tag.
 *
 * <p>Part of the sans-IO core: it reads no clock. The node's wall clock is its own milliseconds
 * plus an offset the host gives ({@link #setWallClockOffsetMs}); 0 by default, so a simulated
 * node's wall clock is its simulated time.
 */
public final class PeerAuth {
  /** An admin request is accepted when its stamp is within this of the node's wall clock. */
  public static final long ADMIN_WINDOW_MS = 30_000;
  /**
   * Admin nonces held at most. A nonce is held until its stamp leaves the window, at most
   * 2 x {@link #ADMIN_WINDOW_MS} (a stamp from the window's future end): 4,096 sustain 68 admin
   * requests a second, far above what operators' kvctl sends (top asks each node once a second),
   * in about 400 KiB. Beyond, admin requests are refused until nonces expire.
   */
  public static final int ADMIN_NONCES_MAX = 4_096;
  /** Bytes of an admin request's nonce. */
  public static final int NONCE_LENGTH = 16;
  /** The drops that only a node with a key makes. */
  public static final Set<DropReason> DROP_REASONS = Set.copyOf(EnumSet.of(
      DropReason.MISSING_TAG, DropReason.BAD_TAG, DropReason.ADMIN_STALE,
      DropReason.ADMIN_REPLAYED, DropReason.ADMIN_NONCES_FULL));

  private ClusterKey key;
  private NonceCache nonces;
  private long wallClockOffsetMs;
  private final long windowMs;
  private final int noncesMax;

  /** Without a key; {@link #setKey} gives one. */
  public PeerAuth() {
    this(ADMIN_WINDOW_MS, ADMIN_NONCES_MAX);
  }

  /** With another window and nonce bound (tests). */
  public PeerAuth(long windowMs, int noncesMax) {
    if (windowMs < 1 || noncesMax < 1) {
      throw new IllegalArgumentException("windowMs and noncesMax must be >= 1");
    }
    this.windowMs = windowMs;
    this.noncesMax = noncesMax;
  }

  /** The key to tag and check with; null runs open. */
  public void setKey(ClusterKey value) {
    key = value;
    nonces = value == null ? null : new NonceCache(noncesMax);
  }

  public ClusterKey key() {
    return key;
  }

  public boolean keyed() {
    return key != null;
  }

  /** Wall-clock ms since the epoch = the node's ms + this offset (the host keeps it current). */
  public void setWallClockOffsetMs(long value) {
    wallClockOffsetMs = value;
  }

  public long wallMs(long nowMs) {
    return nowMs + wallClockOffsetMs;
  }

  /** Admin nonces held now (0 without a key). */
  public int noncesHeld() {
    return nonces == null ? 0 : nonces.size();
  }

  /** Whether {@code msg} has any internal field (100 to 105): then, with a key, it needs a tag. */
  public static boolean internal(PeerMsg msg) {
    return msg.hasClientAddress() || msg.hasHops() || msg.hasGossip() || msg.hasReplica()
        || msg.hasAdmin() || msg.hasTag();
  }

  /**
   * Why the datagram {@code msg} was parsed from (its first {@code length} bytes) must be
   * dropped, or null: without a key, and for a client request (no internal field), always null;
   * else MISSING_TAG when it has no tag, BAD_TAG when the tag is wrong or is not the datagram's
   * last field.
   */
  public DropReason check(PeerMsg msg, byte[] datagram, int length) {
    if (key == null || !internal(msg)) {
      return null;
    }
    return authentic(key, msg, datagram, length) ? null
        : msg.hasTag() ? DropReason.BAD_TAG : DropReason.MISSING_TAG;
  }

  /**
   * Whether the datagram (its first {@code length} bytes, parsed as {@code msg}) ends with the tag
   * field, holding the right tag under {@code key} for the bytes before it.
   */
  public static boolean authentic(ClusterKey key, PeerMsg msg, byte[] datagram, int length) {
    if (!msg.hasTag() || key.verify(datagram, length) != ClusterKey.Verdict.VALID) {
      return false;
    }
    // The last 19 bytes are a tag field; the parser, reading it last, must have kept it (were
    // they the end of another field, they would not be the tag the message holds).
    ByteString tag = msg.getTag();
    return tag.size() == ClusterKey.TAG_LENGTH && Arrays.equals(tag.toByteArray(),
        ClusterKey.trailingTag(datagram, length));
  }

  /** An internal datagram as sent: tagged with a key, unchanged without. */
  public byte[] seal(byte[] datagram) {
    return key == null ? datagram : key.sign(datagram);
  }

  /**
   * Why an admin request (tag checked already) must be dropped, or null. Without a key, null.
   * With one: ADMIN_STALE when it has no stamp, a nonce not of {@link #NONCE_LENGTH} bytes, or a
   * time more than the window away from the node's wall clock; ADMIN_REPLAYED when its nonce was
   * accepted before; ADMIN_NONCES_FULL when the nonce cache holds {@link #ADMIN_NONCES_MAX}
   * unexpired nonces. An accepted nonce is held until its stamp leaves the window.
   */
  public DropReason admitAdmin(AdminRequest request, long nowMs) {
    if (key == null) {
      return null;
    }
    if (!request.hasIssuedAtMs() || request.getNonce().size() != NONCE_LENGTH) {
      return DropReason.ADMIN_STALE;
    }
    long wallMs = wallMs(nowMs);
    long issuedAtMs = request.getIssuedAtMs();
    // fixed64 arrives as a signed long: a huge stamp is negative, and stale.
    if (issuedAtMs < wallMs - windowMs || issuedAtMs > wallMs + windowMs) {
      return DropReason.ADMIN_STALE;
    }
    // Held while the stamp could still be accepted: until wallMs passes issuedAtMs + window.
    long expiresAtMs = nowMs + (issuedAtMs + windowMs - wallMs) + 1;
    ByteString nonce = request.getNonce();
    switch (nonces.add(longAt(nonce, 0), longAt(nonce, 8), expiresAtMs, nowMs)) {
      case REPLAYED:
        return DropReason.ADMIN_REPLAYED;
      case FULL:
        return DropReason.ADMIN_NONCES_FULL;
      default:
        return null;
    }
  }

  private static long longAt(ByteString bytes, int offset) {
    long value = 0;
    for (int i = 0; i < 8; i++) {
      value = (value << 8) | (bytes.byteAt(offset + i) & 0xFF);
    }
    return value;
  }

  /**
   * The datagram of an admin request from an operator (kvctl) under {@code messageId}: with a key,
   * stamped with {@code wallMs} and {@code nonce} (16 bytes) and tagged; without, the request as
   * it is, untagged (as kvd spoke before cluster keys).
   */
  public static byte[] adminRequest(ByteString messageId, AdminRequest request, ClusterKey key,
      long wallMs, byte[] nonce) {
    AdminRequest stamped = request;
    if (key != null) {
      if (nonce.length != NONCE_LENGTH) {
        throw new IllegalArgumentException("a nonce has " + NONCE_LENGTH + " bytes");
      }
      stamped = request.toBuilder().setIssuedAtMs(wallMs).setNonce(ByteString.copyFrom(nonce))
          .build();
    }
    ByteString payload = stamped.toByteString();
    byte[] datagram = PeerMsg.newBuilder()
        .setMessageID(messageId)
        .setPayload(payload)
        .setCheckSum(ClientCodec.checksum(messageId, payload))
        .setAdmin(true)
        .build()
        .toByteArray();
    return key == null ? datagram : key.sign(datagram);
  }
}
