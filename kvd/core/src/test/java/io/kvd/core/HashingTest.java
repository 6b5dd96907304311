package io.kvd.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Proves the properties the open-addressing tables rely on: the hash depends on the seed, on every
 * byte and on the length (so zero-padded keys differ), only on the bytes in range, and mixes well
 * enough that one flipped input bit changes about half the output bits. How: fixed cases and a
 * seeded avalanche measurement (replayable with -Dkvd.seed=N).
 */
class HashingTest {
  @Test
  void readLongIsBigEndian() {
    byte[] b = {0, 1, 2, 3, 4, 5, 6, 7, 8, (byte) 0xFF};
    assertEquals(0x0001_0203_0405_0607L, Hashing.readLong(b, 0));
    assertEquals(0x0203_0405_0607_08FFL, Hashing.readLong(b, 2));
  }

  @Test
  void hashDependsOnSeedEveryByteAndLength() {
    byte[] key = new byte[32];
    for (int i = 0; i < key.length; i++) {
      key[i] = (byte) (i * 7);
    }
    long base = Hashing.hashBytes(key, 0, key.length, 1);
    assertNotEquals(base, Hashing.hashBytes(key, 0, key.length, 2), "seed");
    for (int i = 0; i < key.length; i++) {
      byte[] changed = key.clone();
      changed[i] ^= 1;
      assertNotEquals(base, Hashing.hashBytes(changed, 0, changed.length, 1), "byte " + i);
    }
    Set<Long> zeros = new HashSet<>();
    for (int length = 0; length <= 33; length++) {
      assertTrue(zeros.add(Hashing.hashBytes(new byte[length], 0, length, 1)),
          "zero keys of different lengths collide at " + length);
    }
  }

  @Test
  void hashReadsOnlyItsRange() {
    byte[] a = {9, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 9};
    byte[] b = {5, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 5};
    assertEquals(Hashing.hashBytes(a, 1, 10, 3), Hashing.hashBytes(b, 1, 10, 3));
  }

  @Test
  void oneFlippedBitChangesAboutHalfTheOutput() {
    long seed = TestSeeds.seed("HashingTest.oneFlippedBitChangesAboutHalfTheOutput");
    SplittableRandom random = new SplittableRandom(seed);
    long changedBits = 0;
    long trials = 0;
    for (int i = 0; i < 2_000; i++) {
      long x = random.nextLong();
      int bit = random.nextInt(64);
      changedBits += Long.bitCount(Hashing.mix64(x) ^ Hashing.mix64(x ^ (1L << bit)));
      byte[] key = new byte[1 + random.nextInt(32)];
      random.nextBytes(key);
      long h = Hashing.hashBytes(key, 0, key.length, seed);
      int flip = random.nextInt(key.length * 8);
      key[flip / 8] ^= (byte) (1 << (flip % 8));
      changedBits += Long.bitCount(h ^ Hashing.hashBytes(key, 0, key.length, seed));
      trials += 2;
    }
    double mean = (double) changedBits / trials;
    assertTrue(mean > 30 && mean < 34, "mean " + mean + " bits changed, "
        + TestSeeds.describe(seed));
  }
}
