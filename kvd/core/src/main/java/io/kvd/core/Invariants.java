package io.kvd.core;

/**
 * Always-on invariant checks. Unlike Java's {@code assert}, these run in production: a broken
 * invariant is a bug that must stop the state machine loudly rather than corrupt data quietly.
 * The simulator turns a violation into a seed to replay.
 */
public final class Invariants {
  private Invariants() {}

  /** Throws {@link IllegalStateException} with {@code message} when {@code condition} is false. */
  public static void check(boolean condition, String message) {
    if (!condition) {
      throw new IllegalStateException("invariant violated: " + message);
    }
  }

  /** Like {@link #check(boolean, String)}, formatting the message only when it fails. */
  public static void check(boolean condition, String format, long a) {
    if (!condition) {
      throw new IllegalStateException("invariant violated: " + String.format(format, a));
    }
  }

  /** Like {@link #check(boolean, String)}, formatting the message only when it fails. */
  public static void check(boolean condition, String format, long a, long b) {
    if (!condition) {
      throw new IllegalStateException("invariant violated: " + String.format(format, a, b));
    }
  }
}
