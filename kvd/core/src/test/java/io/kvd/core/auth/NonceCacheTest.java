package io.kvd.core.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.google.protobuf.ByteString;
import io.kvd.core.auth.NonceCache.Result;
import io.kvd.core.codec.ClientCodec.DropReason;
import io.kvd.proto.PeerProtocol.AdminRequest;
import org.junit.jupiter.api.Test;

/**
 * Proves the bounds of admin replay protection: a nonce is refused while it is held, held until
 * its expiry and no longer; a full cache refuses new nonces (it never forgets one early) and
 * accepts again as they expire; and the node's admission of stamps: the window on both sides,
 * the nonce's length, the stamp required, replays, and the cache's bound.
 */
class NonceCacheTest {
  @Test
  void aNonceIsHeldUntilItsExpiryAndNoLonger() {
    NonceCache cache = new NonceCache(8);
    assertEquals(Result.ACCEPTED, cache.add(1, 2, 100, 0));
    assertEquals(Result.REPLAYED, cache.add(1, 2, 100, 50));
    assertEquals(Result.REPLAYED, cache.add(1, 2, 100, 99));
    assertEquals(Result.ACCEPTED, cache.add(2, 1, 150, 99), "another nonce");
    assertEquals(Result.ACCEPTED, cache.add(1, 2, 200, 100), "expired at 100: forgotten");
    assertEquals(2, cache.size());
    assertThrows(IllegalArgumentException.class, () -> new NonceCache(0));
  }

  @Test
  void aFullCacheRefusesNewNoncesAndForgetsNoneEarly() {
    NonceCache cache = new NonceCache(3);
    assertEquals(Result.ACCEPTED, cache.add(0, 1, 1_000, 0));
    assertEquals(Result.ACCEPTED, cache.add(0, 2, 500, 0));
    assertEquals(Result.ACCEPTED, cache.add(0, 3, 2_000, 0));
    assertEquals(Result.FULL, cache.add(0, 4, 2_000, 10));
    assertEquals(Result.REPLAYED, cache.add(0, 1, 1_000, 10), "still held when full");
    assertEquals(3, cache.size());
    assertEquals(Result.FULL, cache.add(0, 4, 2_000, 499));
    assertEquals(Result.ACCEPTED, cache.add(0, 4, 2_000, 500), "the earliest expired: a slot");
    assertEquals(Result.REPLAYED, cache.add(0, 3, 2_000, 600));
    assertEquals(Result.REPLAYED, cache.add(0, 1, 2_000, 600));
    assertEquals(Result.FULL, cache.add(0, 5, 2_000, 600));
    cache.expire(2_000);
    assertEquals(0, cache.size());
    assertEquals(3, cache.capacity());
  }

  private static AdminRequest stamped(long issuedAtMs, int nonce, int nonceLength) {
    byte[] bytes = new byte[nonceLength];
    for (int i = 0; i < Math.min(4, nonceLength); i++) {
      bytes[nonceLength - 1 - i] = (byte) (nonce >>> (8 * i));
    }
    return AdminRequest.newBuilder().setKind(AdminRequest.Kind.STATUS).setIssuedAtMs(issuedAtMs)
        .setNonce(ByteString.copyFrom(bytes)).build();
  }

  @Test
  void aNodeAdmitsFreshStampsOnceWithinItsWindowAndBound() {
    PeerAuth auth = new PeerAuth(30_000, 3);
    auth.setKey(ClusterKey.of(ClusterKeyTest.MATERIAL));
    long offset = 1_700_000_000_000L;
    auth.setWallClockOffsetMs(offset);
    long now = 5_000;
    long wall = offset + now;
    assertEquals(wall, auth.wallMs(now));
    AdminRequest bare = AdminRequest.newBuilder().setKind(AdminRequest.Kind.STATUS).build();
    assertEquals(DropReason.ADMIN_STALE, auth.admitAdmin(bare, now), "no stamp");
    assertEquals(DropReason.ADMIN_STALE, auth.admitAdmin(stamped(wall, 1, 8), now), "short nonce");
    assertEquals(DropReason.ADMIN_STALE, auth.admitAdmin(stamped(wall - 30_001, 1, 16), now));
    assertEquals(DropReason.ADMIN_STALE, auth.admitAdmin(stamped(wall + 30_001, 1, 16), now));
    assertEquals(DropReason.ADMIN_STALE, auth.admitAdmin(stamped(-1, 1, 16), now), "2^64 - 1");
    assertEquals(DropReason.ADMIN_STALE, auth.admitAdmin(stamped(0, 1, 16), now));
    assertEquals(0, auth.noncesHeld(), "stale stamps hold no nonce");

    assertNull(auth.admitAdmin(stamped(wall - 30_000, 1, 16), now), "the window's old end");
    assertNull(auth.admitAdmin(stamped(wall + 30_000, 2, 16), now), "its future end");
    assertEquals(DropReason.ADMIN_REPLAYED, auth.admitAdmin(stamped(wall - 30_000, 1, 16), now));
    assertEquals(DropReason.ADMIN_REPLAYED, auth.admitAdmin(stamped(wall, 2, 16), now),
        "a nonce is the request's identity, whatever the time");
    assertNull(auth.admitAdmin(stamped(wall, 3, 16), now));
    assertEquals(DropReason.ADMIN_NONCES_FULL, auth.admitAdmin(stamped(wall, 4, 16), now));
    assertEquals(3, auth.noncesHeld());
    // 1 ms later the first stamp has left the window: its nonce is forgotten, and a replay of it
    // is stale anyway.
    now += 1;
    assertEquals(DropReason.ADMIN_STALE, auth.admitAdmin(stamped(wall - 30_000, 1, 16), now));
    assertNull(auth.admitAdmin(stamped(wall + 1, 4, 16), now), "a slot again");
    assertEquals(DropReason.ADMIN_NONCES_FULL, auth.admitAdmin(stamped(wall, 5, 16), now));
    // Nonce 2 (stamped at the window's future end) is held for two windows.
    now += 59_999;
    assertEquals(DropReason.ADMIN_REPLAYED, auth.admitAdmin(stamped(wall + 30_000, 2, 16), now));
    now += 1;
    assertEquals(DropReason.ADMIN_STALE, auth.admitAdmin(stamped(wall + 30_000, 2, 16), now));
    assertNull(auth.admitAdmin(stamped(offset + now, 6, 16), now));
    assertEquals(1, auth.noncesHeld(), "the others expired");
  }
}
