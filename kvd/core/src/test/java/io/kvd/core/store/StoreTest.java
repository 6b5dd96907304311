package io.kvd.core.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvd.core.TestSeeds;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Proves that the store keeps exactly what was put (value bytes and version, per key of 1 to 32
 * bytes), that length() is exactly the documented formula (records by Store.recordLength plus a
 * table of 8 bytes per slot that starts at 1,024 slots and doubles past 3/4 full), and that
 * lengthAfterPut predicts the post-put length exactly, or by exactly one old table more when the
 * put grows the table. How: hand-checked cases, then a seeded model test of thousands of
 * operations against a HashMap, replayable with -Dkvd.seed=N.
 */
class StoreTest {
  private static final int CAPACITY_MIN = 1024;

  private static byte[] key(String s) {
    return s.getBytes(StandardCharsets.ISO_8859_1);
  }

  private static byte[] valueOf(byte[] record) {
    return Arrays.copyOfRange(record, Store.valueOffset(record), record.length);
  }

  private static long tableLength(int capacity) {
    return 2L * Store.ARRAY_HEADER_LENGTH + (long) capacity * Store.SLOT_LENGTH;
  }

  private static void put(Store store, byte[] key, byte[] value, int version) {
    store.put(key, value, 0, value.length, version, version + 1L);
  }

  @Test
  void putGetRemoveOverwriteClear() {
    Store store = new Store(42);
    assertNull(store.get(key("a")));
    put(store, key("a"), key("one"), 1);
    put(store, key("b"), key("two"), 2);
    assertEquals(2, store.size());
    assertArrayEquals(key("one"), valueOf(store.get(key("a"))));
    // A different array with the same bytes finds the same key.
    assertArrayEquals(key("two"), valueOf(store.get(new byte[] {'b'})));

    put(store, key("a"), key("uno!"), 11);
    assertEquals(2, store.size(), "an overwrite adds no key");
    assertArrayEquals(key("uno!"), valueOf(store.get(key("a"))));
    assertEquals(11, Store.version(store.get(key("a"))));

    assertTrue(store.remove(key("a")));
    assertFalse(store.remove(key("a")), "second remove");
    assertNull(store.get(key("a")));
    assertEquals(1, store.size());
    assertNotNull(store.get(key("b")));

    store.clear();
    assertEquals(0, store.size());
    assertNull(store.get(key("b")));
    assertEquals(tableLength(CAPACITY_MIN), store.length());
    put(store, key("b"), key("again"), 3);
    assertArrayEquals(key("again"), valueOf(store.get(key("b"))));
  }

  @Test
  void keysThatArePrefixesOrZeroPaddedAreDistinct() {
    Store store = new Store(7);
    byte[][] keys = {{0}, {0, 0}, {0, 0, 0, 0, 0, 0, 0, 0}, {0, 0, 0, 0, 0, 0, 0, 0, 0},
        key("a"), key("ab"), key("abc"), new byte[32]};
    for (int i = 0; i < keys.length; i++) {
      put(store, keys[i], new byte[] {(byte) i}, i);
    }
    assertEquals(keys.length, store.size());
    for (int i = 0; i < keys.length; i++) {
      assertArrayEquals(new byte[] {(byte) i}, valueOf(store.get(keys[i])), "key " + i);
      assertEquals(i, Store.version(store.get(keys[i])));
    }
  }

  @Test
  void versionAndValueRoundTrip() {
    Store store = new Store(1);
    int[] versions = {0, 1, -1, 255, 256, 0x0102_0304, Integer.MAX_VALUE, Integer.MIN_VALUE};
    int[] valueLengths = {0, 1, 7, 8, 9, 2048, 10_000};
    byte[] source = new byte[10_000 + 20];
    new SplittableRandom(99).nextBytes(source);
    for (int v = 0; v < versions.length; v++) {
      for (int l = 0; l < valueLengths.length; l++) {
        byte[] key = new byte[1 + (v * 7 + l) % 32];
        Arrays.fill(key, (byte) (v * 16 + l));
        int offset = (v + l) % 20;
        store.put(key, source, offset, valueLengths[l], versions[v], 7L << 40);
        byte[] record = store.get(key);
        assertEquals(versions[v], Store.version(record), "version " + versions[v]);
        assertArrayEquals(Arrays.copyOfRange(source, offset, offset + valueLengths[l]),
            valueOf(record), "value of " + valueLengths[l] + " bytes at offset " + offset);
        assertEquals(1 + key.length + 13, Store.valueOffset(record));
        assertEquals(7L << 40, Store.stamp(record));
        assertFalse(Store.isTombstone(record));
      }
    }
  }

  @Test
  void tombstonesKeepTheirStampAndTimeAndCopiesKeepTheirBytes() {
    Store store = new Store(5);
    byte[] key = key("gone");
    store.putTombstone(key, 99L << 16 | 3, 1_234);
    byte[] record = store.get(key);
    assertTrue(Store.isTombstone(record));
    assertEquals(99L << 16 | 3, Store.stamp(record));
    assertEquals(1_234, Store.tombstoneAtMs(record));
    assertEquals(Store.recordLength(4, Store.TOMBSTONE_VALUE_LENGTH), store.length()
        - tableLength(CAPACITY_MIN));
    Store copy = new Store(6);
    copy.putRecord(key, record, 0, record.length, 5_000);
    assertEquals(5_000, Store.tombstoneAtMs(copy.get(key)), "a copy is dated when stored");
    assertEquals(Store.stamp(record), Store.stamp(copy.get(key)));
    put(store, key, key("back"), 4);
    assertFalse(Store.isTombstone(store.get(key)));
    copy.putRecord(key, store.get(key), 0, store.get(key).length, 6_000);
    assertArrayEquals(store.get(key), copy.get(key));
    assertArrayEquals(key, Store.key(copy.get(key)));
    assertThrows(IllegalStateException.class,
        () -> copy.putRecord(key("othr"), record, 0, record.length, 0));
  }

  @Test
  void recordLengthIsHeaderPlusContentRoundedUpToEightBytes() {
    // 16 header + 1 key length + key + 1 flags + 8 stamp + 4 version + value, padded to 8.
    assertEquals(32, Store.recordLength(1, 0));   // 31 -> 32
    assertEquals(32, Store.recordLength(2, 0));   // 32
    assertEquals(40, Store.recordLength(3, 0));   // 33 -> 40
    assertEquals(64, Store.recordLength(32, 0));  // 62 -> 64
    assertEquals(1032, Store.recordLength(2, 1000));  // 1032
    assertEquals(10_064, Store.recordLength(32, 10_000));  // 10,062 -> 10,064
  }

  @Test
  void rejectsKeysAndValuesOutsideTheProtocolLimits() {
    Store store = new Store(3);
    byte[] value = new byte[10_001];
    assertThrows(IllegalStateException.class, () -> store.put(new byte[0], value, 0, 1, 0, 1));
    assertThrows(IllegalStateException.class, () -> store.put(new byte[33], value, 0, 1, 0, 1));
    assertThrows(IllegalStateException.class, () -> store.put(new byte[1], value, 0, 10_001, 0, 1));
    assertEquals(0, store.size());
    assertEquals(tableLength(CAPACITY_MIN), store.length(), "nothing was counted");
    store.put(new byte[32], value, 0, 10_000, 0, 1);
    assertEquals(1, store.size());
  }

  @Test
  void lengthAfterPutCountsBothTablesAtTheMomentOfGrowth() {
    Store store = new Store(5);
    int growAt = CAPACITY_MIN * 3 / 4 + 1; // the 769th key doubles the table
    for (int i = 0; i < growAt - 1; i++) {
      put(store, key(String.format("k%04d", i)), new byte[0], 0);
    }
    long records = (long) (growAt - 1) * Store.recordLength(5, 0);
    long before = store.length();
    assertEquals(records + tableLength(CAPACITY_MIN), before);
    byte[] next = key(String.format("k%04d", growAt - 1));
    // An overwrite never grows the table, even when the table is due to grow on a new key.
    assertEquals(before, store.lengthAfterPut(key("k0000"), 0));
    assertEquals(before - Store.recordLength(5, 0) + Store.recordLength(5, 9),
        store.lengthAfterPut(key("k0000"), 9));
    long predicted = store.lengthAfterPut(next, 100);
    long expectedAfter = records + Store.recordLength(next.length, 100)
        + tableLength(2 * CAPACITY_MIN);
    assertEquals(expectedAfter + tableLength(CAPACITY_MIN), predicted);
    put(store, next, new byte[100], 0);
    assertEquals(expectedAfter, store.length());
    assertTrue(before < store.length());
  }

  private record Stored(byte[] value, int version) {}

  @Test
  void matchesHashMapModelAndLengthFormula() {
    long seed = TestSeeds.seed("StoreTest.matchesHashMapModelAndLengthFormula");
    SplittableRandom random = new SplittableRandom(seed);
    Store store = new Store(random.nextLong());
    Map<String, Stored> model = new HashMap<>();
    int modelCapacity = CAPACITY_MIN;
    long modelRecords = 0;

    List<byte[]> keyPool = new ArrayList<>();
    for (int i = 0; i < 4_000; i++) {
      byte[] k = new byte[1 + random.nextInt(32)];
      random.nextBytes(k);
      keyPool.add(k);
    }
    int capacityMaxSeen = CAPACITY_MIN;
    int growths = 0;
    int clears = 0;
    int operations = 40_000;
    for (int op = 0; op < operations; op++) {
      String context = "op " + op + ", " + TestSeeds.describe(seed);
      byte[] k = random.nextInt(50) == 0 ? randomKey(random) : keyPool.get(
          random.nextInt(keyPool.size()));
      String modelKey = new String(k, StandardCharsets.ISO_8859_1);
      int action = random.nextInt(10_000);
      if (action < 6_000) {
        int valueLength = random.nextInt(100) == 0 ? random.nextInt(10_001) : random.nextInt(65);
        byte[] value = new byte[valueLength];
        random.nextBytes(value);
        int version = random.nextInt();
        Stored old = model.get(modelKey);
        int capacityBefore = modelCapacity;
        if (old == null && (model.size() + 1) * 4L > modelCapacity * 3L) {
          modelCapacity *= 2;
          growths++;
        }
        modelRecords += Store.recordLength(k.length, valueLength)
            - (old == null ? 0 : Store.recordLength(k.length, old.value().length));
        long predicted = store.lengthAfterPut(k, valueLength);
        put(store, k, value, version);
        model.put(modelKey, new Stored(value, version));
        long expected = modelRecords + tableLength(modelCapacity);
        assertEquals(expected, store.length(), context);
        if (modelCapacity == capacityBefore) {
          assertEquals(store.length(), predicted, "lengthAfterPut, " + context);
        } else {
          assertEquals(store.length() + tableLength(capacityBefore), predicted,
              "lengthAfterPut across growth, " + context);
        }
      } else if (action < 7_500) {
        Stored old = model.remove(modelKey);
        assertEquals(old != null, store.remove(k), context);
        if (old != null) {
          modelRecords -= Store.recordLength(k.length, old.value().length);
        }
      } else if (action < 9_998) {
        Stored expected = model.get(modelKey);
        byte[] record = store.get(k);
        if (expected == null) {
          assertNull(record, context);
        } else {
          assertNotNull(record, context);
          assertArrayEquals(expected.value(), valueOf(record), context);
          assertEquals(expected.version(), Store.version(record), context);
        }
      } else {
        store.clear();
        model.clear();
        modelRecords = 0;
        modelCapacity = CAPACITY_MIN;
        clears++;
      }
      capacityMaxSeen = Math.max(capacityMaxSeen, modelCapacity);
      assertEquals(model.size(), store.size(), context);
      assertEquals(modelRecords + tableLength(modelCapacity), store.length(), context);
      if (op % 2_000 == 0 || op == operations - 1) {
        for (Map.Entry<String, Stored> e : model.entrySet()) {
          byte[] record = store.get(key(e.getKey()));
          assertNotNull(record, context);
          assertArrayEquals(e.getValue().value(), valueOf(record), context);
          assertEquals(e.getValue().version(), Store.version(record), context);
        }
      }
    }
    String context = TestSeeds.describe(seed);
    // Not vacuous: the table grew more than once, so rehashing and growth accounting ran.
    assertTrue(growths >= 2 && capacityMaxSeen >= 4 * CAPACITY_MIN,
        growths + " growths to " + capacityMaxSeen + ", " + context);
    System.out.println("StoreTest: " + growths + " growths, " + clears + " clears, capacity up to "
        + capacityMaxSeen);
  }

  private static byte[] randomKey(SplittableRandom random) {
    byte[] k = new byte[1 + random.nextInt(32)];
    random.nextBytes(k);
    return k;
  }
}
