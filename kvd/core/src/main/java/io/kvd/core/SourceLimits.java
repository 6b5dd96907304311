package io.kvd.core;

/**
 * Per-source-address token buckets, so that no one client address can take more than its share
 * of the node or turn the node into an amplifier: requests per second from an address, reply
 * bytes per second to it, and OVERLOAD replies per second to it (see {@link ClientLimits}). Time
 * is the {@code nowMs} the node is given; nothing here reads a clock.
 *
 * <p>Why this shape: the table is one preallocated {@code long[]} of {@code slots} power-of-two
 * slots, four longs each (when the slot was last refilled, and the debt of each of its three
 * buckets), indexed by a seeded hash of the IPv4 address alone, port excluded. Its memory is
 * fixed, allocated once at start-up and counted in the node's budget ({@code MemoryBudget}):
 * {@link #lengthOf} bytes, 512 KiB for the default 16,384 slots. Looking up a source allocates
 * nothing and costs one hash and one slot, whatever traffic arrives; a flood from any number of
 * addresses or ports cannot grow it. Addresses that hash to the same slot share its buckets: an
 * LRU-bounded map of exact addresses would instead give every new address a fresh, full budget
 * once the map is full, so a sender with more addresses than entries would get unbounded
 * service in bursts, and it would allocate per source. Sharing caps the total any number of
 * addresses can get at slots times the rates; the hash is seeded (from the node's hashSeed), so
 * a sender cannot pick offline addresses that land on a given client's slot, and at the default
 * size a client shares its slot with another active source only when thousands are active.
 *
 * <p>A bucket is kept as its debt (capacity minus tokens) in thousandths, so that a zeroed slot
 * is a full bucket (no initialization, and a slot idle long enough is as good as new), and a
 * rate of N per second refills exactly N thousandths per millisecond. A request costs one
 * token, taken only when every bucket admits it, so a source that ignores OVERLOAD still gets
 * exactly its rate. Reply bytes are charged after the reply is sent, its real length: a source
 * may be answered while it has any reply tokens left, so over any interval T the bytes sent to
 * it are at most burst + rate * T plus the replies of the requests admitted but not yet answered
 * (one datagram each, and those are bounded by the request bucket).
 */
public final class SourceLimits {
  /** Longs per slot: last refill time (ms), then the debts of requests, reply bytes, OVERLOADs. */
  private static final int LONGS_PER_SLOT = 4;
  /** Heap bytes per slot. */
  public static final int SLOT_LENGTH = LONGS_PER_SLOT * 8;
  private static final int ARRAY_HEADER_LENGTH = 16;
  /** Tokens are kept in thousandths, so that a rate per second is a rate per ms in them. */
  private static final long MILLI = 1_000;

  private static final int LAST_MS = 0;
  private static final int REQUESTS = 1;
  private static final int REPLY_BYTES = 2;
  private static final int OVERLOADS = 3;

  private final long[] table;
  private final int mask;
  private final long seed;
  private final long requestRate;
  private final long requestCapacity;
  private final long byteRate;
  private final long byteCapacity;
  private final long overloadRate;
  private final long overloadCapacity;

  /** A table of {@code limits.sourceSlots()} slots; {@code seed} seeds the address hash. */
  public SourceLimits(ClientLimits limits, long seed) {
    limits.validate();
    this.table = new long[limits.sourceSlots() * LONGS_PER_SLOT];
    this.mask = limits.sourceSlots() - 1;
    this.seed = seed;
    this.requestRate = limits.requestsPerSec();
    this.requestCapacity = limits.requestsBurst() * MILLI;
    this.byteRate = limits.replyBytesPerSec();
    this.byteCapacity = limits.replyBytesBurst() * MILLI;
    this.overloadRate = limits.overloadRepliesPerSec();
    this.overloadCapacity = limits.overloadRepliesPerSec() * MILLI;
  }

  /** Heap bytes of a table of {@code slots} slots: the array and its header. */
  public static long lengthOf(int slots) {
    return (long) slots * SLOT_LENGTH + ARRAY_HEADER_LENGTH;
  }

  /** Heap bytes of this table; fixed from construction on. */
  public long length() {
    return (long) table.length * 8 + ARRAY_HEADER_LENGTH;
  }

  public int slots() {
    return mask + 1;
  }

  /**
   * The slot of the source with IPv4 address {@code ipv4} (see {@link Addresses#ipv4}), its
   * buckets refilled to {@code nowMs}. Valid until the next call with a later time.
   */
  public int slot(int ipv4, long nowMs) {
    int base = (int) (Hashing.mix64((ipv4 & 0xFFFF_FFFFL) ^ seed) & mask) * LONGS_PER_SLOT;
    long elapsedMs = nowMs - table[base + LAST_MS];
    if (elapsedMs > 0) {
      table[base + LAST_MS] = nowMs;
      table[base + REQUESTS] = repay(table[base + REQUESTS], elapsedMs, requestRate);
      table[base + REPLY_BYTES] = repay(table[base + REPLY_BYTES], elapsedMs, byteRate);
      table[base + OVERLOADS] = repay(table[base + OVERLOADS], elapsedMs, overloadRate);
    }
    return base;
  }

  /** 0 when the slot has a request token now; else the ms until it will have one. */
  public long requestWaitMs(int slot) {
    long excess = table[slot + REQUESTS] + MILLI - requestCapacity;
    return excess <= 0 ? 0 : ceilDiv(excess, requestRate);
  }

  /** 0 when the slot may be sent replies now; else the ms until it may. */
  public long replyWaitMs(int slot) {
    long excess = table[slot + REPLY_BYTES] - byteCapacity;
    return excess < 0 ? 0 : excess / byteRate + 1;
  }

  /** Takes one request token (the caller checked {@link #requestWaitMs}). */
  public void chargeRequest(int slot) {
    table[slot + REQUESTS] += MILLI;
  }

  /**
   * Charges {@code bytes} of a reply sent to the slot's address. Replies that complete later
   * (replication) are charged then, and may take the debt further past the capacity: the source
   * then waits longer, so that the long-run bound holds.
   */
  public void chargeReply(int slot, int bytes) {
    table[slot + REPLY_BYTES] += bytes * MILLI;
  }

  /** Whether the slot has an OVERLOAD-reply token now (taking none). */
  public boolean hasOverloadReply(int slot) {
    return table[slot + OVERLOADS] + MILLI <= overloadCapacity;
  }

  /** Takes an OVERLOAD-reply token when there is one; false when the reply must be dropped. */
  public boolean takeOverloadReply(int slot) {
    if (table[slot + OVERLOADS] + MILLI > overloadCapacity) {
      return false;
    }
    table[slot + OVERLOADS] += MILLI;
    return true;
  }

  /** {@code debt} less what {@code elapsedMs} at {@code rate} repays, never below 0. */
  private static long repay(long debt, long elapsedMs, long rate) {
    if (debt == 0 || elapsedMs > debt / rate) {
      return 0; // elapsedMs * rate > debt; also avoids overflowing the product
    }
    return debt - elapsedMs * rate;
  }

  private static long ceilDiv(long a, long b) {
    return (a + b - 1) / b;
  }
}
