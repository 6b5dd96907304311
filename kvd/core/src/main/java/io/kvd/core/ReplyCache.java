package io.kvd.core;

import com.google.protobuf.ByteString;

/**
 * The at-most-once reply cache: for each mutating request, keyed by (sender, messageID), the error
 * code it was answered with, kept for {@code retentionMs} so that a retry gets the same answer and
 * is not executed again.
 *
 * <p>Why this shape: every entry has the same retention, so entries expire in insertion order and a
 * ring buffer replaces a map of objects. An entry is two longs in one preallocated array, found by
 * an open-addressing index of ints with linear probing and backward-shift deletion: about 24 bytes
 * per entry and no allocation per request, against about 150 for a HashMap of records. At the
 * default 6 MiB that is 262,142 entries, 26,000 writes per second for 10 s each.
 *
 * <p>The key (sender address and port, both halves of the messageID and its length, 30 bytes) is
 * not stored: its 88-bit fingerprint is, from two chains of {@link Hashing#mix64} seeded by the
 * node's secret hash seed. Two keys that are equal give equal fingerprints; two that differ match
 * with a chance of about 2^-88 per entry compared, so at a full cache of 262,142 entries about one
 * lookup in 10^21 answers a new request as if it were a retry (and does not execute it). A client
 * cannot aim for that: it knows neither the seed nor other clients' IDs, and the sender is part of
 * the key. The second long packs the fingerprint's last 24 bits, the expiry time's low 32 bits
 * and the error code; the expiry is compared modulo 2^32 ms, which is exact because every entry
 * in the ring expires within {@code retentionMs} (at most an hour, see NodeConfig) of the newest
 * insertion, and the ring empties once that has passed.
 *
 * <p>The cache never evicts an entry before it expires: when the ring is full, {@link #hasRoom}
 * is false and the node answers OVERLOAD, because evicting early would let a late retry execute
 * twice. Replies to mutating commands carry only an error code, so the code is all we store.
 */
public final class ReplyCache {
  /** Nominal bytes per entry: 16 in the ring and about 8 in the index. */
  public static final int ENTRY_LENGTH = 24;
  /** Largest number of entries, whatever the byte limit (the index must fit an int array). */
  public static final int ENTRIES_MAX = 1 << 26;
  /** Returned by {@link #lookup} when there is no entry. */
  public static final int MISS = -1;
  /** The longest retention the 32-bit expiry times allow with a wide margin: one day. */
  public static final long RETENTION_MS_MAX = 86_400_000;

  private static final int LONGS_PER_ENTRY = 2;
  private static final int ARRAY_HEADER_LENGTH = 16;
  private static final int ENTRIES_MIN = 16;
  private static final int INDEX_LENGTH_MIN = 32;
  /** Bits of the fingerprint's second half kept in an entry's second long. */
  private static final int TAIL_BITS = 24;
  private static final long TAIL_MASK = (1L << TAIL_BITS) - 1;

  /**
   * The smallest byte limit that yields a cache: {@code ENTRIES_MIN} ring entries of 16 bytes, an
   * index of {@code INDEX_LENGTH_MIN} ints and the two array headers, 416 bytes.
   */
  public static final long LENGTH_MIN = (long) ENTRIES_MIN * LONGS_PER_ENTRY * 8
      + INDEX_LENGTH_MIN * 4L + 2L * ARRAY_HEADER_LENGTH;

  private final long retentionMs;
  private final long seedHead;
  private final long seedTail;
  private final int capacity;
  private final long[] ring;
  private final int[] index; // slot + 1, 0 when empty
  private final int indexMask;
  private int head; // oldest slot
  private int size;
  /** When the newest entry was inserted; every entry expires within retentionMs of it. */
  private long newestInsertMs = Long.MIN_VALUE / 2;
  /** The fingerprint of the key last given to {@link #fingerprint}: head, then packed tail. */
  private long keyHead;
  private long keyTail;

  /**
   * @param lengthMax bytes the ring and index may take together
   * @param retentionMs how long each entry is kept, in ms, 1 to {@link #RETENTION_MS_MAX}
   * @param seed hash seed (see {@link Hashing}); secret, as it keeps fingerprints unguessable
   */
  public ReplyCache(long lengthMax, long retentionMs, long seed) {
    Invariants.check(retentionMs > 0 && retentionMs <= RETENTION_MS_MAX,
        "retentionMs %d outside 1..%d", retentionMs, RETENTION_MS_MAX);
    // The index takes 4 bytes per slot and is kept at most 3/4 full (2 index slots per entry at the
    // nominal size), so each entry costs about 16 + 2 * 4 bytes; round the index down to a power of
    // two.
    long indexLength = Long.highestOneBit(Math.max(INDEX_LENGTH_MIN, lengthMax / (ENTRY_LENGTH / 2)));
    indexLength = Math.min(indexLength, (long) ENTRIES_MAX * 2);
    // The array headers count too (see length()), so that length() <= lengthMax.
    long ringEntries = (lengthMax - indexLength * 4 - 2L * ARRAY_HEADER_LENGTH)
        / (LONGS_PER_ENTRY * 8);
    int entries = (int) Math.min(ringEntries, indexLength / 2 + indexLength / 4);
    Invariants.check(entries >= ENTRIES_MIN, "reply cache too small: %d entries, need at least %d",
        entries, ENTRIES_MIN);
    this.retentionMs = retentionMs;
    this.seedHead = seed;
    this.seedTail = Hashing.mix64(seed ^ 0x6A09E667F3BCC909L);
    this.capacity = entries;
    this.ring = new long[entries * LONGS_PER_ENTRY];
    this.index = new int[(int) indexLength];
    this.indexMask = (int) indexLength - 1;
  }

  public int capacity() {
    return capacity;
  }

  public int size() {
    return size;
  }

  /** Bytes the cache holds, all preallocated: the ring, the index and their array headers. */
  public long length() {
    return (long) ring.length * 8 + (long) index.length * 4 + 2 * ARRAY_HEADER_LENGTH;
  }

  public long retentionMs() {
    return retentionMs;
  }

  /** The cached error code of (sender, ID), or {@link #MISS}. */
  public int lookup(long sender, long idHigh, long idLow, int idLength) {
    fingerprint(sender, idHigh, idLow, idLength);
    int pos = home(keyHead);
    while (true) {
      int ref = index[pos];
      if (ref == 0) {
        return MISS;
      }
      int base = (ref - 1) * LONGS_PER_ENTRY;
      long meta = ring[base + 1];
      if (ring[base] == keyHead && metaTail(meta) == keyTail) {
        return metaErrCode(meta);
      }
      pos = (pos + 1) & indexMask;
    }
  }

  /** Drops the entries whose retention has passed; then reports whether one more fits. */
  public boolean hasRoom(long nowMs) {
    expire(nowMs);
    return size < capacity;
  }

  /** When the cache is full, ms until its oldest entry expires and frees a place; else 0. */
  public long waitMsUntilRoom(long nowMs) {
    if (size < capacity) {
      return 0;
    }
    if (nowMs - newestInsertMs >= retentionMs) {
      return 0; // everything has expired; the next expire() empties the ring
    }
    return Math.max(0, msUntilExpiry(ring[head * LONGS_PER_ENTRY + 1], nowMs));
  }

  /** Records a reply. The caller has checked {@link #hasRoom} and that there is no entry. */
  public void insert(long sender, long idHigh, long idLow, int idLength, int errCode,
      long nowMs) {
    expire(nowMs);
    Invariants.check(size < capacity, "reply cache full: %d of %d", size, capacity);
    Invariants.check(idLength >= 0 && idLength <= NodeConfig.MESSAGE_ID_LENGTH_MAX,
        "messageID length %d outside 0..%d", idLength, NodeConfig.MESSAGE_ID_LENGTH_MAX);
    Invariants.check(errCode >= 0 && errCode <= 0xFF, "errCode %d outside 0..%d", errCode, 0xFF);
    Invariants.check(nowMs >= newestInsertMs, "time went back: %d after %d", nowMs,
        newestInsertMs);
    int slot = wrap(head + size);
    fingerprint(sender, idHigh, idLow, idLength);
    int base = slot * LONGS_PER_ENTRY;
    long expiresAtMs = nowMs + retentionMs;
    ring[base] = keyHead;
    ring[base + 1] = (keyTail << 40) | ((expiresAtMs & 0xFFFF_FFFFL) << 8) | errCode;
    int pos = home(keyHead);
    while (index[pos] != 0) {
      pos = (pos + 1) & indexMask;
    }
    index[pos] = slot + 1;
    size++;
    newestInsertMs = nowMs;
  }

  /** Removes entries whose retention has passed, oldest first. */
  public void expire(long nowMs) {
    // Once the newest entry has expired all have, whatever their 32-bit times would say.
    boolean all = nowMs - newestInsertMs >= retentionMs;
    while (size > 0) {
      if (!all && msUntilExpiry(ring[head * LONGS_PER_ENTRY + 1], nowMs) > 0) {
        return;
      }
      removeFromIndex(head);
      head = wrap(head + 1);
      size--;
    }
  }

  /**
   * {@code slot} (below twice the capacity) as a place in the ring, without a branch. The ring
   * wraps once per pass, every 262,142 writes at the default size: as a branch, C2 compiled the
   * wrap as a trap that had never been taken, and each wrap deoptimised the whole request path
   * that inlines it (Node.handleDatagram, seen with -XX:+LogCompilation); kvbench saw a second
   * with a third of the throughput and p99 at 10 x p50 every 15 s or so.
   */
  private int wrap(int slot) {
    return slot - (capacity & ~((slot - capacity) >> 31));
  }

  private void removeFromIndex(int slot) {
    int pos = home(ring[slot * LONGS_PER_ENTRY]);
    while (index[pos] != slot + 1) {
      Invariants.check(index[pos] != 0, "slot %d missing from index at %d", slot, pos);
      pos = (pos + 1) & indexMask;
    }
    // Backward-shift deletion: pull later members of the probe run into the hole, so that no
    // tombstones accumulate and lookups stay short.
    int hole = pos;
    int next = (hole + 1) & indexMask;
    while (index[next] != 0) {
      int nextHome = home(ring[(index[next] - 1) * LONGS_PER_ENTRY]);
      // The entry at next may move to hole unless its home lies cyclically in (hole, next].
      boolean homeBetween = hole <= next
          ? nextHome > hole && nextHome <= next
          : nextHome > hole || nextHome <= next;
      if (!homeBetween) {
        index[hole] = index[next];
        hole = next;
      }
      next = (next + 1) & indexMask;
    }
    index[hole] = 0;
  }

  /**
   * Sets {@link #keyHead} and {@link #keyTail}: the key's fingerprint, two independent keyed
   * chains over every field of the key, the length on its own so that no two keys share an input.
   */
  private void fingerprint(long sender, long idHigh, long idLow, int idLength) {
    keyHead = chain(seedHead, sender, idHigh, idLow, idLength);
    keyTail = chain(seedTail, sender, idHigh, idLow, idLength) & TAIL_MASK;
  }

  private static long chain(long seed, long sender, long idHigh, long idLow, int idLength) {
    long h = Hashing.mix64(seed ^ sender);
    h = Hashing.mix64(h ^ idHigh);
    h = Hashing.mix64(h ^ idLow);
    return Hashing.mix64(h ^ idLength);
  }

  private int home(long head) {
    return (int) (head >>> 32) & indexMask;
  }

  /** ms from now until the entry whose second long is {@code meta} expires (negative: past). */
  private static long msUntilExpiry(long meta, long nowMs) {
    return (int) ((meta >>> 8) - nowMs);
  }

  private static long metaTail(long meta) {
    return meta >>> 40;
  }

  private static int metaErrCode(long meta) {
    return (int) meta & 0xFF;
  }

  /** The first 8 bytes of a messageID (zero-padded), big-endian: its key's high word. */
  public static long idHigh(ByteString id) {
    return idWord(id, 0);
  }

  /** Bytes 8 to 15 of a messageID (zero-padded), big-endian: its key's low word. */
  public static long idLow(ByteString id) {
    return idWord(id, 8);
  }

  private static long idWord(ByteString id, int from) {
    long word = 0;
    for (int i = from; i < from + 8; i++) {
      word = (word << 8) | (i < id.size() ? id.byteAt(i) & 0xFF : 0);
    }
    return word;
  }
}
