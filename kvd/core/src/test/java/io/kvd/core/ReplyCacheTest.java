package io.kvd.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Proves that the reply cache answers exactly for the (sender, messageID, ID length) it was given,
 * sizes itself within its byte budget, keeps every entry for exactly retentionMs (no less, no
 * more), reports OVERLOAD waits to the millisecond, and never diverges from a HashMap-plus-deque
 * model while its ring wraps thousands of times over a tiny, crowded index that forces constant
 * backward-shift deletions. How: direct calls with explicit times; the model test draws its
 * operations from a printed seed, replayable with -Dkvd.seed=N.
 */
class ReplyCacheTest {
  private static final long RETENTION_MS = 1_000;
  private static final long HASH_SEED = 0x5EED_CAFEL;
  private static final long SENDER_A = Addresses.of(new byte[] {127, 0, 0, 1}, 40_000);
  private static final long SENDER_B = Addresses.of(new byte[] {127, 0, 0, 1}, 40_001);

  private static ReplyCache cache(long lengthMax) {
    return new ReplyCache(lengthMax, RETENTION_MS, HASH_SEED);
  }

  @Test
  void missesUntilInsertedThenHitsWithTheStoredErrCode() {
    ReplyCache cache = cache(4096);
    assertEquals(ReplyCache.MISS, cache.lookup(SENDER_A, 11, 22, 16));
    cache.insert(SENDER_A, 11, 22, 16, ErrorCode.NOT_FOUND, 5_000);
    assertEquals(ErrorCode.NOT_FOUND, cache.lookup(SENDER_A, 11, 22, 16));
    assertEquals(1, cache.size());
    // Every error code fits, including 0, which must not be confused with an empty slot.
    cache.insert(SENDER_A, 11, 23, 16, ErrorCode.SUCCESS, 5_000);
    cache.insert(SENDER_A, 11, 24, 16, 0xFF, 5_000);
    assertEquals(ErrorCode.SUCCESS, cache.lookup(SENDER_A, 11, 23, 16));
    assertEquals(0xFF, cache.lookup(SENDER_A, 11, 24, 16));
    assertEquals(ErrorCode.NOT_FOUND, cache.lookup(SENDER_A, 11, 22, 16));
  }

  @Test
  void keyIsSenderAndBothIdHalvesAndIdLength() {
    ReplyCache cache = cache(4096);
    // IDs {0,0} and {0,0,0,0} pack to the same halves (zero-padded); only the length differs.
    assertEquals(ReplyCache.idHigh(com.google.protobuf.ByteString.copyFrom(new byte[2])),
        ReplyCache.idHigh(com.google.protobuf.ByteString.copyFrom(new byte[4])));
    cache.insert(SENDER_A, 0, 0, 2, 1, 0);
    assertEquals(1, cache.lookup(SENDER_A, 0, 0, 2));
    assertEquals(ReplyCache.MISS, cache.lookup(SENDER_A, 0, 0, 4), "same halves, other length");
    assertEquals(ReplyCache.MISS, cache.lookup(SENDER_B, 0, 0, 2), "same ID, other sender");
    assertEquals(ReplyCache.MISS, cache.lookup(SENDER_A, 1, 0, 2), "other high half");
    assertEquals(ReplyCache.MISS, cache.lookup(SENDER_A, 0, 1, 2), "other low half");

    cache.insert(SENDER_A, 0, 0, 4, 2, 0);
    cache.insert(SENDER_B, 0, 0, 2, 3, 0);
    cache.insert(SENDER_A, 0, 0, 0, 4, 0);
    assertEquals(1, cache.lookup(SENDER_A, 0, 0, 2));
    assertEquals(2, cache.lookup(SENDER_A, 0, 0, 4));
    assertEquals(3, cache.lookup(SENDER_B, 0, 0, 2));
    assertEquals(4, cache.lookup(SENDER_A, 0, 0, 0));
  }

  @Test
  void capacityComesFromTheByteBound() {
    long seed = TestSeeds.seed("ReplyCacheTest.capacityComesFromTheByteBound");
    SplittableRandom random = new SplittableRandom(seed);
    List<Long> bounds = new ArrayList<>(List.of(ReplyCache.LENGTH_MIN, ReplyCache.LENGTH_MIN + 1,
        700L, 1_000L, 1_279L, 1_280L, 1_281L, 4_096L, 10_000L, 65_536L, 1L << 20,
        NodeConfig.REPLY_CACHE_LENGTH_MAX_DEFAULT, NodeConfig.REPLY_CACHE_LENGTH_MAX_DEFAULT + 7));
    for (int i = 0; i < 40; i++) {
      bounds.add(ReplyCache.LENGTH_MIN + random.nextLong(8L << 20));
    }
    for (long lengthMax : bounds) {
      String context = "lengthMax=" + lengthMax + ", " + TestSeeds.describe(seed);
      ReplyCache cache = cache(lengthMax);
      assertTrue(cache.length() <= lengthMax, "length " + cache.length() + " > " + context);
      assertTrue(cache.capacity() >= 16, context);
      // The budget is not squandered either: rounding the index down costs at most about half.
      assertTrue(cache.length() >= lengthMax / 2, "length " + cache.length() + ", " + context);
      assertTrue(cache.capacity() >= lengthMax / (2 * ReplyCache.ENTRY_LENGTH),
          "capacity " + cache.capacity() + ", " + context);
    }
    assertEquals(16, cache(ReplyCache.LENGTH_MIN).capacity());
    assertThrows(IllegalStateException.class, () -> cache(ReplyCache.LENGTH_MIN - 1));
  }

  @Test
  void hasRoomIsFalseExactlyWhenFull() {
    for (long lengthMax : new long[] {ReplyCache.LENGTH_MIN, 1_281, 65_536,
        NodeConfig.REPLY_CACHE_LENGTH_MAX_DEFAULT}) {
      ReplyCache cache = cache(lengthMax);
      long nowMs = 10;
      for (int i = 0; i < cache.capacity(); i++) {
        assertTrue(cache.hasRoom(nowMs), "lengthMax=" + lengthMax + " size=" + cache.size());
        cache.insert(SENDER_A, i, ~i, 16, i & 7, nowMs);
        assertEquals(i + 1, cache.size());
      }
      assertFalse(cache.hasRoom(nowMs), "lengthMax=" + lengthMax);
      assertFalse(cache.hasRoom(nowMs + RETENTION_MS - 1), "lengthMax=" + lengthMax);
      assertThrows(IllegalStateException.class,
          () -> cache.insert(SENDER_B, 1, 1, 16, 0, 10), "insert into a full cache");
      for (int i = 0; i < cache.capacity(); i++) {
        assertEquals(i & 7, cache.lookup(SENDER_A, i, ~i, 16), "lengthMax=" + lengthMax);
      }
    }
  }

  @Test
  void atTheByteBoundWaitIsTheTimeUntilTheOldestExpires() {
    ReplyCache cache = cache(ReplyCache.LENGTH_MIN);
    long startMs = 50_000;
    for (int i = 0; i < cache.capacity(); i++) {
      assertEquals(0, cache.waitMsUntilRoom(startMs + 10L * i), "not full yet");
      assertTrue(cache.hasRoom(startMs + 10L * i));
      cache.insert(SENDER_A, i, i, 16, 0, startMs + 10L * i);
    }
    long nowMs = startMs + 10L * cache.capacity();
    assertFalse(cache.hasRoom(nowMs));
    assertEquals(startMs + RETENTION_MS - nowMs, cache.waitMsUntilRoom(nowMs));
    assertFalse(cache.hasRoom(startMs + RETENTION_MS - 1));
    assertEquals(1, cache.waitMsUntilRoom(startMs + RETENTION_MS - 1));

    assertTrue(cache.hasRoom(startMs + RETENTION_MS), "the oldest has expired");
    assertEquals(cache.capacity() - 1, cache.size());
    assertEquals(0, cache.waitMsUntilRoom(startMs + RETENTION_MS));
    assertEquals(ReplyCache.MISS, cache.lookup(SENDER_A, 0, 0, 16));
    assertEquals(0, cache.lookup(SENDER_A, 1, 1, 16));

    cache.insert(SENDER_B, 7, 7, 16, 5, startMs + RETENTION_MS);
    assertFalse(cache.hasRoom(startMs + RETENTION_MS));
    // The second oldest (inserted 10 ms after the first) is now the one to wait for.
    assertEquals(10, cache.waitMsUntilRoom(startMs + RETENTION_MS));
  }

  @Test
  void entryLivesExactlyRetentionMs() {
    ReplyCache cache = cache(4096);
    long insertedAtMs = 123_456;
    cache.insert(SENDER_A, 9, 9, 16, ErrorCode.NOT_FOUND, insertedAtMs);
    cache.expire(insertedAtMs + RETENTION_MS - 1);
    assertEquals(ErrorCode.NOT_FOUND, cache.lookup(SENDER_A, 9, 9, 16));
    assertEquals(1, cache.size());
    cache.expire(insertedAtMs + RETENTION_MS);
    assertEquals(ReplyCache.MISS, cache.lookup(SENDER_A, 9, 9, 16));
    assertEquals(0, cache.size());
    // After expiry the same key can be inserted again, with a new retention.
    cache.insert(SENDER_A, 9, 9, 16, ErrorCode.SUCCESS, insertedAtMs + RETENTION_MS);
    assertEquals(ErrorCode.SUCCESS, cache.lookup(SENDER_A, 9, 9, 16));
  }

  @Test
  void theDefaultSixMibHold262142Entries() {
    ReplyCache cache = new ReplyCache(NodeConfig.REPLY_CACHE_LENGTH_MAX_DEFAULT, 10_000, HASH_SEED);
    assertEquals(262_142, cache.capacity());
    assertTrue(cache.length() <= NodeConfig.REPLY_CACHE_LENGTH_MAX_DEFAULT);
  }

  @Test
  void expiryTimesAreExactAcrossTheWrapOf32BitMilliseconds() {
    ReplyCache cache = cache(4096);
    long wrap = 1L << 32;
    cache.insert(SENDER_A, 1, 1, 16, 7, wrap - 5);
    cache.expire(wrap + RETENTION_MS - 6);
    assertEquals(7, cache.lookup(SENDER_A, 1, 1, 16));
    cache.expire(wrap + RETENTION_MS - 5);
    assertEquals(ReplyCache.MISS, cache.lookup(SENDER_A, 1, 1, 16));
    // Left alone for exactly 2^32 ms, an entry's 32-bit expiry reads as retentionMs ahead again;
    // it must still be gone, and a full cache must not report a wait of that length.
    cache = cache(4096);
    for (int i = 0; i < cache.capacity(); i++) {
      cache.insert(SENDER_A, 2, i, 16, 1, 1_000);
    }
    assertEquals(RETENTION_MS, cache.waitMsUntilRoom(1_000));
    assertEquals(0, cache.waitMsUntilRoom(1_000 + wrap));
    assertTrue(cache.hasRoom(1_000 + wrap));
    assertEquals(0, cache.size());
    assertEquals(ReplyCache.MISS, cache.lookup(SENDER_A, 2, 0, 16));
  }

  @Test
  void fullCacheAnswersOnlyItsOwnKeysAmongNeighboursDifferingInOneBit() {
    ReplyCache cache = new ReplyCache(1 << 20, RETENTION_MS, HASH_SEED);
    SplittableRandom random = new SplittableRandom(
        TestSeeds.seed("ReplyCacheTest.fullCacheAnswersOnlyItsOwnKeys"));
    List<Key> stored = new ArrayList<>();
    for (int i = 0; i < cache.capacity(); i++) {
      Key key = new Key(Addresses.of(new byte[] {10, 0, 0, (byte) i}, random.nextInt(65_536)),
          random.nextLong(), random.nextLong(), 16);
      stored.add(key);
      cache.insert(key.sender(), key.idHigh(), key.idLow(), key.idLength(), i & 0xFF, 0);
    }
    int neighbours = 0;
    for (int i = 0; i < stored.size(); i++) {
      Key key = stored.get(i);
      assertEquals(i & 0xFF, cache.lookup(key.sender(), key.idHigh(), key.idLow(),
          key.idLength()), "stored key " + i);
      // Every single-bit change of the ID, the sender, and every other length: a miss.
      int bit = i % 64;
      assertEquals(ReplyCache.MISS, cache.lookup(key.sender(), key.idHigh() ^ (1L << bit),
          key.idLow(), key.idLength()));
      assertEquals(ReplyCache.MISS, cache.lookup(key.sender(), key.idHigh(),
          key.idLow() ^ (1L << bit), key.idLength()));
      assertEquals(ReplyCache.MISS, cache.lookup(key.sender() ^ (1L << (bit % 48)),
          key.idHigh(), key.idLow(), key.idLength()));
      assertEquals(ReplyCache.MISS, cache.lookup(key.sender(), key.idHigh(), key.idLow(),
          i % 16));
      neighbours += 4;
    }
    assertTrue(neighbours > 150_000, neighbours + " neighbours looked up");
  }

  private record Key(long sender, long idHigh, long idLow, int idLength) {}

  private record Entry(Key key, long expiresAtMs) {}

  /** The obvious implementation: a map for lookups and a FIFO queue for expiry. */
  private static final class Model {
    final int capacity;
    final Map<Key, Integer> errCodes = new HashMap<>();
    final ArrayDeque<Entry> byAge = new ArrayDeque<>();

    Model(int capacity) {
      this.capacity = capacity;
    }

    void expire(long nowMs) {
      while (!byAge.isEmpty() && byAge.peekFirst().expiresAtMs() <= nowMs) {
        errCodes.remove(byAge.pollFirst().key());
      }
    }

    boolean hasRoom(long nowMs) {
      expire(nowMs);
      return errCodes.size() < capacity;
    }

    long waitMsUntilRoom(long nowMs) {
      return errCodes.size() < capacity ? 0
          : Math.max(0, byAge.peekFirst().expiresAtMs() - nowMs);
    }

    int lookup(Key key) {
      return errCodes.getOrDefault(key, ReplyCache.MISS);
    }

    void insert(Key key, int errCode, long nowMs) {
      errCodes.put(key, errCode);
      byAge.addLast(new Entry(key, nowMs + RETENTION_MS));
    }
  }

  @Test
  void matchesModelThroughManyWrapsOfACrowdedRing() {
    long seed = TestSeeds.seed("ReplyCacheTest.matchesModelThroughManyWrapsOfACrowdedRing");
    SplittableRandom random = new SplittableRandom(seed);
    // A small key space: senders, ID halves and lengths that collide in every combination,
    // including keys that differ only in ID length or only in sender.
    long[] senders = {0, SENDER_A, SENDER_B, random.nextLong() >>> 16};
    long[] highs = {0, 1, random.nextLong(), random.nextLong()};
    long[] lows = {0, random.nextLong(), random.nextLong()};
    int[] lengths = {0, 1, 2, 4, 8, 9, 16};
    List<Key> keys = new ArrayList<>();
    for (long sender : senders) {
      for (long high : highs) {
        for (long low : lows) {
          for (int length : lengths) {
            keys.add(new Key(sender, high, low, length));
          }
        }
      }
    }
    long[] lengthMaxes = {ReplyCache.LENGTH_MIN, ReplyCache.LENGTH_MIN, ReplyCache.LENGTH_MIN,
        ReplyCache.LENGTH_MIN, 1_281, 2_048};
    for (int round = 0; round < lengthMaxes.length; round++) {
      ReplyCache cache = new ReplyCache(lengthMaxes[round], RETENTION_MS, random.nextLong());
      Model model = new Model(cache.capacity());
      long nowMs = random.nextLong(1L << 40);
      long inserts = 0;
      long hits = 0;
      long refusals = 0;
      int stepMsMax = 1;
      int operations = 40_000;
      for (int op = 0; op < operations; op++) {
        String context = "round " + round + ", op " + op + ", " + TestSeeds.describe(seed);
        if (op % 1_000 == 0) {
          // Phases of different request rates: from a cache that overflows to one that drains.
          stepMsMax = 1 + random.nextInt((int) (4 * RETENTION_MS / cache.capacity()));
        }
        nowMs += random.nextInt(100) < 1 ? random.nextLong(3 * RETENTION_MS)
            : random.nextInt(stepMsMax);
        Key key = keys.get(random.nextInt(keys.size()));
        int action = random.nextInt(100);
        if (action < 50) {
          // What the node does for a mutating request: look up, else reserve and insert.
          int expected = model.lookup(key);
          assertEquals(expected, cache.lookup(key.sender(), key.idHigh(), key.idLow(),
              key.idLength()), context);
          if (expected == ReplyCache.MISS) {
            boolean room = cache.hasRoom(nowMs);
            assertEquals(model.hasRoom(nowMs), room, context);
            if (!room) {
              refusals++;
            } else {
              int errCode = random.nextInt(256);
              cache.insert(key.sender(), key.idHigh(), key.idLow(), key.idLength(), errCode, nowMs);
              model.insert(key, errCode, nowMs);
              inserts++;
            }
          } else {
            hits++;
          }
        } else if (action < 75) {
          assertEquals(model.lookup(key), cache.lookup(key.sender(), key.idHigh(), key.idLow(),
              key.idLength()), context);
        } else if (action < 90) {
          cache.expire(nowMs);
          model.expire(nowMs);
        } else {
          assertEquals(model.waitMsUntilRoom(nowMs), cache.waitMsUntilRoom(nowMs), context);
        }
        assertEquals(model.errCodes.size(), cache.size(), context);
        if (op % 50 == 0 || op == operations - 1) {
          for (Key k : keys) {
            assertEquals(model.lookup(k), cache.lookup(k.sender(), k.idHigh(), k.idLow(),
                k.idLength()), context + ", full sweep at " + k);
          }
        }
      }
      // Not vacuous: the ring wrapped many times, and retries found their entries.
      String context = "round " + round + ", " + TestSeeds.describe(seed);
      assertTrue(inserts > 50L * cache.capacity(), "only " + inserts + " inserts, " + context);
      assertTrue(hits > 100, "only " + hits + " hits, " + context);
      // How often the cache fills depends on the drawn request-rate phases; a larger cache fills
      // less (60 times was seen at 4,096 bytes of 40-byte entries, 96 of them; 2,048 bytes hold 94 now), so the bound only proves it did fill, often.
      assertTrue(refusals > 10, "only " + refusals + " times full, " + context);
      cache.expire(nowMs + RETENTION_MS);
      assertEquals(0, cache.size(), context);
      for (Key k : keys) {
        assertEquals(ReplyCache.MISS, cache.lookup(k.sender(), k.idHigh(), k.idLow(),
            k.idLength()), context);
      }
    }
  }
}
