package io.kvd.core.fuzz;

import java.util.Locale;

/**
 * Counts a fuzz target's executions and prints their rate when the test class ends, so that each
 * run records its executions per second. The rate is taken from the {@value #WARM}th execution
 * on: the first ones run while Jazzer still instruments the classes they load. libFuzzer prints
 * its own figures too: "exec/s" on its status lines and stat::average_exec_per_sec at the end.
 */
final class FuzzStats {
  private static final long WARM = 1_000;

  private final String target;
  private long executions;
  private long firstNanos;
  private long warmNanos;

  FuzzStats(String target) {
    this.target = target;
  }

  /** Called at the start of every execution. */
  void onExecution() {
    executions++;
    if (executions == 1) {
      firstNanos = System.nanoTime();
    } else if (executions == WARM) {
      warmNanos = System.nanoTime();
    }
  }

  /** Prints "kvd-fuzz TARGET: N executions in S s, R exec/s". */
  void print() {
    long now = System.nanoTime();
    double seconds = executions == 0 ? 0 : (now - firstNanos) / 1e9;
    String rate = "";
    if (executions > WARM) {
      double warmSeconds = (now - warmNanos) / 1e9;
      rate = String.format(Locale.ROOT, ", %.0f exec/s", (executions - WARM) / warmSeconds);
    }
    System.out.println(String.format(Locale.ROOT, "kvd-fuzz %s: %d executions in %.1f s%s",
        target, executions, seconds, rate));
  }
}
