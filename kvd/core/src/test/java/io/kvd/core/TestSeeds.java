package io.kvd.core;

import java.util.SplittableRandom;

/**
 * Seeds for the randomized tests. Each run draws a fresh seed, unless -Dkvd.seed=N replays one; the
 * seed is printed when a test starts and belongs in every assertion message, so that any failure
 * names the exact command that reruns it.
 */
public final class TestSeeds {
  /** The system property that replays a seed: mvn -B -q test -pl kvd/core -Dkvd.seed=N. */
  public static final String PROPERTY = "kvd.seed";

  private TestSeeds() {}

  /** The seed for {@code testName}: -Dkvd.seed when set, else a fresh one; printed either way. */
  public static long seed(String testName) {
    String replay = System.getProperty(PROPERTY, "").trim();
    long seed = replay.isEmpty() ? new SplittableRandom().nextLong() : Long.parseLong(replay);
    System.out.println(testName + ": " + describe(seed));
    return seed;
  }

  /** "seed=N (replay with -Dkvd.seed=N)", for assertion messages. */
  public static String describe(long seed) {
    return "seed=" + seed + " (replay with -D" + PROPERTY + "=" + seed + ")";
  }
}
