package io.kvd.server.fault;

import io.kvd.proto.PeerProtocol.LinkFaults;

/**
 * What the transport does to the datagrams a node sends, for tests and operators on machines
 * without netem. Every datagram the node sends (replies, forwards and gossip) is subject to it.
 * The decisions, per datagram, in this order:
 *
 * <ol>
 *   <li>lost with probability {@code lossPct} / 100 (and then nothing else happens);
 *   <li>sent twice with probability {@code duplicatePct} / 100;
 *   <li>each copy is delayed by {@code delayMs} plus a uniform jitter in [-{@code jitterMs},
 *       +{@code jitterMs}], never below 0 (so the mean is {@code delayMs} while {@code jitterMs}
 *       is at most {@code delayMs});
 *   <li>each copy is, with probability {@code reorderPct} / 100, held back a further 1 to
 *       {@link FaultInjector#REORDER_HOLD_MS_MAX} ms (uniform) so that datagrams sent after it
 *       overtake it.
 * </ol>
 *
 * @param lossPct percentage of datagrams dropped, 0 to 100. Default 0.
 * @param duplicatePct percentage of datagrams sent twice, 0 to 100. Default 0.
 * @param reorderPct percentage of datagram copies held back to be overtaken, 0 to 100. Default 0.
 * @param delayMs mean delay of every datagram, in ms, 0 to {@link #DELAY_MS_MAX}. Default 0.
 * @param jitterMs half-width of the uniform jitter around {@code delayMs}, in ms, 0 to
 *     {@link #DELAY_MS_MAX}. Default 0.
 * @param seed seeds the decisions; the same seed and the same sequence of sends give the same
 *     decisions.
 */
public record FaultConfig(double lossPct, double duplicatePct, double reorderPct, long delayMs,
    long jitterMs, long seed) {
  /** Longest mean delay and jitter accepted, in ms: longer would only fill the delay queue. */
  public static final long DELAY_MS_MAX = 10_000;

  /** The faults an operator asked for (kvctl fault set), under {@code seed}; null means none. */
  public static FaultConfig of(LinkFaults faults, long seed) {
    if (faults == null) {
      return NONE.withSeed(seed);
    }
    return new FaultConfig(faults.getLossPct(), faults.getDuplicatePct(),
        faults.getReorderPct(), faults.getDelayMs(), faults.getJitterMs(), seed);
  }

  /** No faults: the transport sends every datagram once, at once. */
  public static final FaultConfig NONE = new FaultConfig(0, 0, 0, 0, 0, 0);

  public FaultConfig {
    checkPct("loss", lossPct);
    checkPct("duplicate", duplicatePct);
    checkPct("reorder", reorderPct);
    if (delayMs < 0 || delayMs > DELAY_MS_MAX || jitterMs < 0 || jitterMs > DELAY_MS_MAX) {
      throw new IllegalArgumentException("fault delay and jitter must be in 0.." + DELAY_MS_MAX
          + " ms, got " + delayMs + " and " + jitterMs);
    }
  }

  private static void checkPct(String name, double pct) {
    if (!(pct >= 0 && pct <= 100)) {
      throw new IllegalArgumentException("fault " + name + " percentage must be in 0..100, got "
          + pct);
    }
  }

  /** True when some datagram may be lost, duplicated, delayed or reordered. */
  public boolean active() {
    return lossPct > 0 || duplicatePct > 0 || reorderPct > 0 || delayMs > 0 || jitterMs > 0;
  }

  /** The same faults under another seed. */
  public FaultConfig withSeed(long value) {
    return new FaultConfig(lossPct, duplicatePct, reorderPct, delayMs, jitterMs, value);
  }

  /** For the start-up line: "loss 1.0%, duplicate 0.0%, ...". */
  public String describe() {
    if (!active()) {
      return "none";
    }
    return String.format("loss %s%%, duplicate %s%%, reorder %s%%, delay %d ms +- %d ms, seed %d",
        lossPct, duplicatePct, reorderPct, delayMs, jitterMs, seed);
  }
}
