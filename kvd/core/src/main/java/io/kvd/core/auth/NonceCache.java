package io.kvd.core.auth;

import java.util.HashSet;
import java.util.PriorityQueue;

/**
 * The nonces of the admin requests a node accepted, each kept until its request's stamp has left
 * the acceptance window (so a replay inside the window is recognised), at most {@code capacity}
 * at a time. When every slot holds a nonce still inside its window the cache refuses new ones
 * ({@link Result#FULL}) rather than forget one early: forgetting would let its request be
 * replayed. Times are the node's own milliseconds (its nowMs); the caller converts a stamp's
 * expiry to them.
 */
public final class NonceCache {
  /** What {@link #add} did. */
  public enum Result {
    /** A new nonce, now remembered. */
    ACCEPTED,
    /** Remembered already: a replay. */
    REPLAYED,
    /** New, but every slot is taken by a nonce that has not expired yet. */
    FULL
  }

  private record Nonce(long high, long low) {}

  private record Entry(long expiresAtMs, Nonce nonce) {}

  private final int capacity;
  private final HashSet<Nonce> held = new HashSet<>();
  private final PriorityQueue<Entry> byExpiry =
      new PriorityQueue<>((a, b) -> Long.compare(a.expiresAtMs(), b.expiresAtMs()));

  public NonceCache(int capacity) {
    if (capacity < 1) {
      throw new IllegalArgumentException("capacity must be >= 1");
    }
    this.capacity = capacity;
  }

  /**
   * Remembers the nonce ({@code high}, {@code low}: its 16 bytes as two big-endian longs) until
   * {@code expiresAtMs}, unless it is held already or the cache is full; expired nonces go first.
   */
  public Result add(long high, long low, long expiresAtMs, long nowMs) {
    expire(nowMs);
    Nonce nonce = new Nonce(high, low);
    if (held.contains(nonce)) {
      return Result.REPLAYED;
    }
    if (held.size() >= capacity) {
      return Result.FULL;
    }
    held.add(nonce);
    byExpiry.add(new Entry(expiresAtMs, nonce));
    return Result.ACCEPTED;
  }

  /** Forgets the nonces whose expiry is at or before {@code nowMs}. */
  public void expire(long nowMs) {
    while (!byExpiry.isEmpty() && byExpiry.peek().expiresAtMs() <= nowMs) {
      held.remove(byExpiry.poll().nonce());
    }
  }

  public int size() {
    return held.size();
  }

  public int capacity() {
    return capacity;
  }
}
