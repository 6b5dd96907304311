package io.kvd.core;

/**
 * Seeded hashing for the open-addressing tables. The seed comes from the node's configuration, so
 * a client cannot precompute keys or message IDs that collide into one long probe chain.
 */
public final class Hashing {
  private Hashing() {}

  private static final long K1 = 0x9E37_79B9_7F4A_7C15L;
  private static final long K2 = 0xBF58_476D_1CE4_E5B9L;
  private static final long K3 = 0x94D0_49BB_1331_11EBL;

  /** A strong 64-bit finaliser (splitmix64). */
  public static long mix64(long z) {
    z = (z ^ (z >>> 30)) * K2;
    z = (z ^ (z >>> 27)) * K3;
    return z ^ (z >>> 31);
  }

  /** Hash of {@code length} bytes at {@code offset}, mixed with {@code seed}. */
  public static long hashBytes(byte[] bytes, int offset, int length, long seed) {
    long h = seed ^ (length * K1);
    int i = offset;
    int end = offset + length;
    while (end - i >= 8) {
      h = mix64(h ^ readLong(bytes, i)) + K1;
      i += 8;
    }
    long tail = 0;
    int shift = 0;
    while (i < end) {
      tail |= (bytes[i] & 0xFFL) << shift;
      shift += 8;
      i++;
    }
    return mix64(h ^ tail ^ (shift * K3));
  }

  /** Reads 8 bytes big-endian. */
  public static long readLong(byte[] b, int i) {
    return ((b[i] & 0xFFL) << 56) | ((b[i + 1] & 0xFFL) << 48) | ((b[i + 2] & 0xFFL) << 40)
        | ((b[i + 3] & 0xFFL) << 32) | ((b[i + 4] & 0xFFL) << 24) | ((b[i + 5] & 0xFFL) << 16)
        | ((b[i + 6] & 0xFFL) << 8) | (b[i + 7] & 0xFFL);
  }
}
