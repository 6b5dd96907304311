package io.kvd.core.store;

import io.kvd.core.Hashing;
import io.kvd.core.Invariants;
import io.kvd.core.NodeConfig;
import java.util.Arrays;

/**
 * The node's key-value data: for each key, a value, the client's version and the replication stamp
 * that orders the key's writes across replicas (see {@code io.kvd.core.replication}); or, after a
 * REMOVE, a tombstone that keeps the remove's stamp so that an older copy cannot come back.
 *
 * <p>Why this shape: the store is what fills the heap, so its per-key overhead decides how much a
 * 64 MiB node holds. Each key lives in one byte array, its record,
 * {@code [key length][key][flags][stamp, 8 bytes][version, 4 bytes][value]} (big-endian; a
 * tombstone's value is the 8-byte time it was stored, in ms), found by an open-addressing table
 * (linear probing, backward-shift deletion) of records and their hashes. That is about 35 bytes of
 * overhead per key against about 150 for a HashMap of key and value objects.
 *
 * <p>The store counts every byte it holds (records with their array headers and alignment, and its
 * table) in {@link #length()}; the node refuses a PUT whose {@link #lengthAfterPut} exceeds the
 * budget, so the store never grows the heap past what was planned.
 */
public final class Store {
  /** Bytes of a Java array header; arrays are also padded to 8 bytes. */
  public static final int ARRAY_HEADER_LENGTH = 16;
  /** Bytes of one reference with compressed oops (heaps below 32 GiB). */
  public static final int REFERENCE_LENGTH = 4;
  /** Bytes the table spends per slot: a reference and an int hash. */
  public static final int SLOT_LENGTH = REFERENCE_LENGTH + 4;

  private static final int CAPACITY_MIN = 1024;
  /** flags, stamp and version between the key and the value. */
  private static final int HEADER_LENGTH = 1 + 8 + 4;
  private static final byte FLAG_TOMBSTONE = 1;
  /** A tombstone's value: the time it was stored, in ms. */
  public static final int TOMBSTONE_VALUE_LENGTH = 8;

  private final long seed;
  private byte[][] records;
  private int[] hashes;
  private int mask;
  private int size;
  private long recordsLength;

  public Store(long seed) {
    this.seed = seed;
    allocate(CAPACITY_MIN);
  }

  public int size() {
    return size;
  }

  /** Bytes held: records (with headers and padding) and the table. */
  public long length() {
    return recordsLength + tableLength(records.length);
  }

  /** Bytes of one stored record for a key and value of these lengths. */
  public static long recordLength(int keyLength, int valueLength) {
    return arrayLength(1 + keyLength + HEADER_LENGTH + valueLength);
  }

  /**
   * The bytes the store would hold after putting a value of {@code valueLength} under {@code key},
   * counting the moment of a table resize, when the old and the new table are both alive.
   */
  public long lengthAfterPut(byte[] key, int valueLength) {
    int slot = find(key);
    long records = recordsLength + recordLength(key.length, valueLength);
    long table = tableLength(this.records.length);
    if (slot >= 0) {
      records -= arrayLength(this.records[slot].length);
    } else if (needsGrowth()) {
      table += tableLength(this.records.length * 2);
    }
    return records + table;
  }

  /** The record of {@code key}, or null. Read it with {@link #version} and {@link #valueOffset}. */
  public byte[] get(byte[] key) {
    int slot = find(key);
    return slot < 0 ? null : records[slot];
  }

  /** Stores {@code value[valueOffset, valueOffset + valueLength)}, {@code version} and {@code stamp}. */
  public void put(byte[] key, byte[] value, int valueOffset, int valueLength, int version,
      long stamp) {
    Invariants.check(valueLength >= 0 && valueLength <= NodeConfig.VALUE_LENGTH_MAX,
        "value length %d outside 0..%d", valueLength, NodeConfig.VALUE_LENGTH_MAX);
    byte[] record = record(key, (byte) 0, stamp, version, valueLength);
    System.arraycopy(value, valueOffset, record, valueOffset(record), valueLength);
    insert(key, record);
  }

  /** Replaces {@code key}'s value with a tombstone of {@code stamp}, stored at {@code nowMs}. */
  public void putTombstone(byte[] key, long stamp, long nowMs) {
    byte[] record = record(key, FLAG_TOMBSTONE, stamp, 0, TOMBSTONE_VALUE_LENGTH);
    writeLong(record, valueOffset(record), nowMs);
    insert(key, record);
  }

  /**
   * Stores a record as another replica sent it (see {@link #isTombstone}, {@link #stamp}): its
   * bytes are copied from {@code source[offset, offset + length)}, which must hold a whole record
   * of {@code key}; a tombstone's time is reset to {@code nowMs}.
   */
  public void putRecord(byte[] key, byte[] source, int offset, int length, long nowMs) {
    checkKey(key);
    Invariants.check(length >= 1 + key.length + HEADER_LENGTH
        && length <= 1 + key.length + HEADER_LENGTH + NodeConfig.VALUE_LENGTH_MAX
        && source[offset] == key.length, "record of %d bytes for a key of %d", length,
        key.length);
    byte[] record = Arrays.copyOfRange(source, offset, offset + length);
    Invariants.check(Arrays.equals(record, 1, 1 + key.length, key, 0, key.length),
        "record of another key");
    if (isTombstone(record)) {
      Invariants.check(record.length == valueOffset(record) + TOMBSTONE_VALUE_LENGTH,
          "tombstone of %d bytes", record.length);
      writeLong(record, valueOffset(record), nowMs);
    }
    insert(key, record);
  }

  private static byte[] record(byte[] key, byte flags, long stamp, int version,
      int valueLength) {
    checkKey(key);
    byte[] record = new byte[1 + key.length + HEADER_LENGTH + valueLength];
    record[0] = (byte) key.length;
    System.arraycopy(key, 0, record, 1, key.length);
    int at = 1 + key.length;
    record[at] = flags;
    writeLong(record, at + 1, stamp);
    writeInt(record, at + 9, version);
    return record;
  }

  private void insert(byte[] key, byte[] record) {
    int hash = hash(key);
    int pos = hash & mask;
    while (records[pos] != null) {
      if (hashes[pos] == hash && keyEquals(records[pos], key)) {
        recordsLength += arrayLength(record.length) - arrayLength(records[pos].length);
        records[pos] = record;
        return;
      }
      pos = (pos + 1) & mask;
    }
    if (needsGrowth()) {
      grow();
      pos = hash & mask;
      while (records[pos] != null) {
        pos = (pos + 1) & mask;
      }
    }
    records[pos] = record;
    hashes[pos] = hash;
    recordsLength += arrayLength(record.length);
    size++;
  }

  /** Removes {@code key}; false when it was absent. */
  public boolean remove(byte[] key) {
    int slot = find(key);
    if (slot < 0) {
      return false;
    }
    recordsLength -= arrayLength(records[slot].length);
    size--;
    // Backward-shift deletion (see ReplyCache): no tombstones, short probes.
    int hole = slot;
    int next = (hole + 1) & mask;
    while (records[next] != null) {
      int nextHome = hashes[next] & mask;
      boolean homeBetween = hole <= next
          ? nextHome > hole && nextHome <= next
          : nextHome > hole || nextHome <= next;
      if (!homeBetween) {
        records[hole] = records[next];
        hashes[hole] = hashes[next];
        hole = next;
      }
      next = (next + 1) & mask;
    }
    records[hole] = null;
    hashes[hole] = 0;
    Invariants.check(size >= 0 && recordsLength >= 0, "store size %d, records length %d",
        size, recordsLength);
    return true;
  }

  /** Deletes every key and returns the table to its smallest size. */
  public void clear() {
    allocate(CAPACITY_MIN);
    size = 0;
    recordsLength = 0;
  }

  /** The client's version in a record returned by {@link #get}. */
  public static int version(byte[] record) {
    return readInt(record, 1 + (record[0] & 0xFF) + 9);
  }

  /** The replication stamp of a record: higher stamps are newer writes of the key. */
  public static long stamp(byte[] record) {
    return readLong(record, 2 + (record[0] & 0xFF));
  }

  /** True when the record is a REMOVE's tombstone rather than a value. */
  public static boolean isTombstone(byte[] record) {
    return (record[1 + (record[0] & 0xFF)] & FLAG_TOMBSTONE) != 0;
  }

  /** When a tombstone was stored at this node, in ms. */
  public static long tombstoneAtMs(byte[] record) {
    return readLong(record, valueOffset(record));
  }

  /** Where the value starts in a record; it runs to the record's end. */
  public static int valueOffset(byte[] record) {
    return 1 + (record[0] & 0xFF) + HEADER_LENGTH;
  }

  /** The key of a record (a copy). */
  public static byte[] key(byte[] record) {
    return Arrays.copyOfRange(record, 1, 1 + (record[0] & 0xFF));
  }

  /** Slots of the table, for a scan with {@link #recordAt}. */
  public int slots() {
    return records.length;
  }

  /** The record in {@code slot}, or null. A scan must not change the store. */
  public byte[] recordAt(int slot) {
    return records[slot];
  }

  private static void writeLong(byte[] b, int at, long v) {
    for (int i = 7; i >= 0; i--) {
      b[at + i] = (byte) v;
      v >>>= 8;
    }
  }

  private static long readLong(byte[] b, int at) {
    long v = 0;
    for (int i = 0; i < 8; i++) {
      v = (v << 8) | (b[at + i] & 0xFF);
    }
    return v;
  }

  private static void writeInt(byte[] b, int at, int v) {
    b[at] = (byte) (v >>> 24);
    b[at + 1] = (byte) (v >>> 16);
    b[at + 2] = (byte) (v >>> 8);
    b[at + 3] = (byte) v;
  }

  private static int readInt(byte[] b, int at) {
    return ((b[at] & 0xFF) << 24) | ((b[at + 1] & 0xFF) << 16) | ((b[at + 2] & 0xFF) << 8)
        | (b[at + 3] & 0xFF);
  }

  private int find(byte[] key) {
    int hash = hash(key);
    int pos = hash & mask;
    while (records[pos] != null) {
      if (hashes[pos] == hash && keyEquals(records[pos], key)) {
        return pos;
      }
      pos = (pos + 1) & mask;
    }
    return -1;
  }

  private boolean needsGrowth() {
    // Keep the table at most 3/4 full so probe runs stay short.
    return (size + 1) * 4L > records.length * 3L;
  }

  private void grow() {
    byte[][] oldRecords = records;
    int[] oldHashes = hashes;
    allocate(oldRecords.length * 2);
    for (int i = 0; i < oldRecords.length; i++) {
      if (oldRecords[i] != null) {
        int pos = oldHashes[i] & mask;
        while (records[pos] != null) {
          pos = (pos + 1) & mask;
        }
        records[pos] = oldRecords[i];
        hashes[pos] = oldHashes[i];
      }
    }
  }

  private void allocate(int capacity) {
    Invariants.check(Integer.bitCount(capacity) == 1, "capacity %d is not a power of %d",
        capacity, 2);
    records = new byte[capacity][];
    hashes = new int[capacity];
    mask = capacity - 1;
  }

  private int hash(byte[] key) {
    return (int) Hashing.hashBytes(key, 0, key.length, seed);
  }

  private static boolean keyEquals(byte[] record, byte[] key) {
    return (record[0] & 0xFF) == key.length
        && Arrays.equals(record, 1, 1 + key.length, key, 0, key.length);
  }

  private static void checkKey(byte[] key) {
    Invariants.check(key.length >= 1 && key.length <= NodeConfig.KEY_LENGTH_MAX,
        "key length %d outside 1..%d", key.length, NodeConfig.KEY_LENGTH_MAX);
  }

  private static long tableLength(int capacity) {
    return 2L * ARRAY_HEADER_LENGTH + (long) capacity * SLOT_LENGTH;
  }

  private static long arrayLength(int length) {
    return (ARRAY_HEADER_LENGTH + length + 7L) & ~7L;
  }
}
