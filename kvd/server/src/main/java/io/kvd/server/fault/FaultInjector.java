package io.kvd.server.fault;

import java.util.SplittableRandom;

/**
 * Decides the fate of each datagram a node sends, as its {@link FaultConfig} says, and hands the
 * surviving copies to a {@link Link}: at once, or after a delay. It knows nothing of sockets or
 * clocks, so tests drive it with a seeded random and a recording link.
 *
 * <p>Delayed copies wait in the link (the event loop's scheduler in kvd). Their number and bytes
 * are bounded by {@code delayedMax} and {@code delayedLengthMax}; a copy that would exceed either
 * is dropped and counted in {@link #overflowed()}, so a long delay under heavy traffic costs lost
 * datagrams, never the heap. The link reports each delayed copy that leaves with
 * {@link #onDelayedSent(int)}.
 *
 * <p>Single-threaded: the node's event loop thread owns it.
 */
public final class FaultInjector {
  /** Where the injector sends the copies it lets through. */
  public interface Link {
    /** Sends {@code datagram} to {@code to} now. */
    void sendNow(long to, byte[] datagram);

    /**
     * Sends {@code datagram} to {@code to} after {@code delayMs}, then calls {@link
     * #onDelayedSent(int)} with its length (also when it is abandoned, for example on close).
     */
    void sendLater(long to, byte[] datagram, long delayMs);
  }

  /** A reordered copy is held back 1 to this many ms beyond its delay (uniform). */
  public static final long REORDER_HOLD_MS_MAX = 20;
  /** Delayed copies waiting at most, by default: 4,096. */
  public static final int DELAYED_MAX_DEFAULT = 4_096;
  /**
   * Bytes of delayed copies waiting at most, by default: 2 MiB. They live on the heap, inside the
   * reserve that {@code MemoryBudget} keeps free of stored data (12 MiB at -Xmx64m), so this
   * must stay well below it.
   */
  public static final long DELAYED_LENGTH_MAX_DEFAULT = 2L << 20;

  private FaultConfig config;
  private final SplittableRandom random;
  private final int delayedMax;
  private final long delayedLengthMax;
  private int delayed;
  private long delayedLength;

  private long sent;
  private long lost;
  private long duplicated;
  private long reordered;
  private long delayedTotal;
  private long overflowed;

  public FaultInjector(FaultConfig config, SplittableRandom random, int delayedMax,
      long delayedLengthMax) {
    if (delayedMax < 1 || delayedLengthMax < 1) {
      throw new IllegalArgumentException("delayed bounds must be >= 1: " + delayedMax + ", "
          + delayedLengthMax);
    }
    this.config = config;
    this.random = random;
    this.delayedMax = delayedMax;
    this.delayedLengthMax = delayedLengthMax;
  }

  /** An injector with the default bounds, seeded by {@code config.seed()}. */
  public static FaultInjector of(FaultConfig config) {
    return new FaultInjector(config, new SplittableRandom(config.seed()), DELAYED_MAX_DEFAULT,
        DELAYED_LENGTH_MAX_DEFAULT);
  }

  public FaultConfig config() {
    return config;
  }

  /**
   * Applies {@code value} to the datagrams sent from now on (an operator's kvctl fault); copies
   * already delayed still leave on time. The decision stream goes on, unseeded again.
   */
  public void setConfig(FaultConfig value) {
    config = value;
  }

  /** Applies the faults to one datagram the node sends to {@code to}. */
  public void send(long to, byte[] datagram, Link link) {
    sent++;
    if (chance(config.lossPct())) {
      lost++;
      return;
    }
    int copies = 1;
    if (chance(config.duplicatePct())) {
      duplicated++;
      copies = 2;
    }
    for (int copy = 0; copy < copies; copy++) {
      long delayMs = nextDelayMs();
      if (delayMs == 0) {
        link.sendNow(to, datagram);
      } else if (delayed >= delayedMax || delayedLength + datagram.length > delayedLengthMax) {
        overflowed++;
      } else {
        delayed++;
        delayedLength += datagram.length;
        delayedTotal++;
        link.sendLater(to, datagram, delayMs);
      }
    }
  }

  /** A delayed copy of {@code length} bytes has left (or was abandoned). */
  public void onDelayedSent(int length) {
    if (delayed <= 0 || delayedLength < length) {
      throw new IllegalStateException("delayed copy reported sent twice: " + delayed + " copies, "
          + delayedLength + " bytes waiting, " + length + " reported");
    }
    delayed--;
    delayedLength -= length;
  }

  private long nextDelayMs() {
    long delayMs = config.delayMs();
    long jitterMs = config.jitterMs();
    if (jitterMs > 0) {
      delayMs = Math.max(0, delayMs + random.nextLong(-jitterMs, jitterMs + 1));
    }
    if (chance(config.reorderPct())) {
      reordered++;
      delayMs += 1 + random.nextLong(REORDER_HOLD_MS_MAX);
    }
    return delayMs;
  }

  private boolean chance(double pct) {
    return pct > 0 && random.nextDouble() * 100 < pct;
  }

  /** Datagrams the node asked to send. */
  public long sent() {
    return sent;
  }

  /** Datagrams dropped by the loss percentage. */
  public long lost() {
    return lost;
  }

  /** Datagrams sent twice. */
  public long duplicated() {
    return duplicated;
  }

  /** Copies held back to be overtaken. */
  public long reordered() {
    return reordered;
  }

  /** Copies handed to the link with a delay. */
  public long delayedTotal() {
    return delayedTotal;
  }

  /** Copies dropped because the delayed ones already filled the bounds. */
  public long overflowed() {
    return overflowed;
  }

  /** Delayed copies waiting now. */
  public int delayedWaiting() {
    return delayed;
  }

  /** Bytes of delayed copies waiting now. */
  public long delayedLengthWaiting() {
    return delayedLength;
  }
}
