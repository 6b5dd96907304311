package io.kvd.core;

/**
 * Request latencies by command, counted in fixed buckets of the node's millisecond clock: the
 * time from a request's arrival at this node to its reply from this node. A request answered in
 * the handler that read it takes 0 ms; one that waits for replicas takes as long as they do.
 *
 * <p>Bucket {@code i} counts latencies in {@code (bound(i - 1), bound(i)]} (bucket 0: up to
 * {@code bound(0)}, that is 0 ms); bucket {@link #buckets()}{@code - 1} those above the last bound.
 * Commands are indexed as in {@link NodeStats#requests}: 0 to 8 by code, 9 for unknown codes.
 * Owned by the node's thread, like the rest of {@link NodeStats}.
 */
public final class Latencies {
  private static final long[] BOUNDS_MS = {
      0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000};

  private final long[][] counts = new long[Command.COUNT + 1][BOUNDS_MS.length + 1];
  private final long[] sumMs = new long[Command.COUNT + 1];

  /** Upper bounds, in ms, of the buckets before the last (which has none). */
  public static int boundsCount() {
    return BOUNDS_MS.length;
  }

  public static long boundMs(int i) {
    return BOUNDS_MS[i];
  }

  /** Buckets per command: one per bound, and one above the last bound. */
  public static int buckets() {
    return BOUNDS_MS.length + 1;
  }

  /** The bucket that counts {@code latencyMs}. */
  public static int bucketOf(long latencyMs) {
    int i = 0;
    while (i < BOUNDS_MS.length && latencyMs > BOUNDS_MS[i]) {
      i++;
    }
    return i;
  }

  /** Counts one reply to {@code command} (any code; unknown ones under 9) after latencyMs. */
  void record(int command, long latencyMs) {
    int c = command >= 0 && command < Command.COUNT ? command : Command.COUNT;
    long ms = Math.max(0, latencyMs);
    counts[c][bucketOf(ms)]++;
    sumMs[c] += ms;
  }

  /** Replies to command index {@code command} (0..9) whose latency fell in {@code bucket}. */
  public long count(int command, int bucket) {
    return counts[command][bucket];
  }

  /** Replies to command index {@code command} (0..9), over every bucket. */
  public long total(int command) {
    long total = 0;
    for (long n : counts[command]) {
      total += n;
    }
    return total;
  }

  /** The sum of the latencies of command index {@code command} (0..9), in ms. */
  public long sumMs(int command) {
    return sumMs[command];
  }
}
