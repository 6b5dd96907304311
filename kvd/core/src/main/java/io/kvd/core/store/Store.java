package io.kvd.core.store;

import io.kvd.core.Hashing;
import io.kvd.core.Invariants;
import io.kvd.core.NodeConfig;
import java.util.Arrays;

/**
 * The node's key-value data: for each key, a value and a version.
 *
 * <p>Why this shape: the store is what fills the heap, so its per-key overhead decides how much a
 * 64 MiB node holds. Each key lives in one byte array, its record,
 * {@code [key length][key][version, 4 bytes big-endian][value]}, found by an open-addressing table
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
  private static final int VERSION_LENGTH = 4;

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
    return arrayLength(1 + keyLength + VERSION_LENGTH + valueLength);
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

  /** Stores {@code value[valueOffset, valueOffset + valueLength)} and {@code version}. */
  public void put(byte[] key, byte[] value, int valueOffset, int valueLength, int version) {
    checkKey(key);
    Invariants.check(valueLength >= 0 && valueLength <= NodeConfig.VALUE_LENGTH_MAX,
        "value length %d outside 0..%d", valueLength, NodeConfig.VALUE_LENGTH_MAX);
    byte[] record = new byte[1 + key.length + VERSION_LENGTH + valueLength];
    record[0] = (byte) key.length;
    System.arraycopy(key, 0, record, 1, key.length);
    int at = 1 + key.length;
    record[at] = (byte) (version >>> 24);
    record[at + 1] = (byte) (version >>> 16);
    record[at + 2] = (byte) (version >>> 8);
    record[at + 3] = (byte) version;
    System.arraycopy(value, valueOffset, record, at + VERSION_LENGTH, valueLength);

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

  /** The version in a record returned by {@link #get}. */
  public static int version(byte[] record) {
    int at = 1 + (record[0] & 0xFF);
    return ((record[at] & 0xFF) << 24) | ((record[at + 1] & 0xFF) << 16)
        | ((record[at + 2] & 0xFF) << 8) | (record[at + 3] & 0xFF);
  }

  /** Where the value starts in a record; it runs to the record's end. */
  public static int valueOffset(byte[] record) {
    return 1 + (record[0] & 0xFF) + VERSION_LENGTH;
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
