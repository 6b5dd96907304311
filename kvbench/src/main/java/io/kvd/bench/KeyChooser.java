package io.kvd.bench;

import org.apache.commons.rng.UniformRandomProvider;
import org.apache.commons.rng.sampling.distribution.DiscreteSampler;
import org.apache.commons.rng.sampling.distribution.RejectionInversionZipfSampler;

/**
 * Picks the key of each operation, as YCSB's request distributions do: uniform over the key
 * space, zipfian (a few keys are hot: rank r is drawn with probability proportional to
 * 1 / r^{@link #ZIPF_EXPONENT}, hot ranks scattered over the key space by a fixed permutation),
 * or latest (zipfian over recency: the most recently inserted keys are the hottest).
 */
public abstract class KeyChooser {
  /** YCSB's zipfian constant. */
  public static final double ZIPF_EXPONENT = 0.99;

  /** The request distributions. */
  public enum Distribution { UNIFORM, ZIPFIAN, LATEST }

  /** The index of the next key, in [0, keys) for a key space of {@code keys} keys. */
  public abstract long next(long keys);

  public static KeyChooser of(Distribution distribution, long keysMax,
      UniformRandomProvider random) {
    switch (distribution) {
      case UNIFORM:
        return new KeyChooser() {
          @Override
          public long next(long keys) {
            return random.nextLong(keys);
          }
        };
      case ZIPFIAN: {
        DiscreteSampler zipf = RejectionInversionZipfSampler.of(random,
            (int) Math.min(Integer.MAX_VALUE, keysMax), ZIPF_EXPONENT);
        return new KeyChooser() {
          @Override
          public long next(long keys) {
            // Rank 1 is the hottest; scatter ranks so that hot keys are not neighbours (and so
            // not on one node of the ring by accident of their names).
            long rank = zipf.sample() - 1;
            return Long.remainderUnsigned(scatter(rank), keys);
          }
        };
      }
      default: {
        DiscreteSampler zipf = RejectionInversionZipfSampler.of(random,
            (int) Math.min(Integer.MAX_VALUE, keysMax), ZIPF_EXPONENT);
        return new KeyChooser() {
          @Override
          public long next(long keys) {
            long age = Math.min(keys - 1, zipf.sample() - 1);
            return keys - 1 - age;
          }
        };
      }
    }
  }

  /** A fixed bijection of 64-bit values (SplitMix64's finaliser). */
  static long scatter(long x) {
    long z = x + 0x9E3779B97F4A7C15L;
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }
}
