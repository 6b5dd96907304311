package io.kvd.sim;

/**
 * The simulated network's behaviour on every link, changeable during a run.
 *
 * @param lossPct chance in percent that a datagram is dropped
 * @param duplicatePct chance in percent that a datagram is delivered twice
 * @param reorderPct chance in percent that a datagram gets an extra delay of up to
 *     {@code 4 * delayMsMean}, overtaking later ones
 * @param delayMsMean mean one-way delay
 * @param jitterMs delay varies uniformly by up to this much either way
 */
public record NetworkConfig(double lossPct, double duplicatePct, double reorderPct,
    long delayMsMean, long jitterMs) {

  /** The course's cluster runs: 5 ms delay, no loss. */
  public static final NetworkConfig CALM = new NetworkConfig(0, 0, 0, 5, 2);

  public NetworkConfig withLossPct(double value) {
    return new NetworkConfig(value, duplicatePct, reorderPct, delayMsMean, jitterMs);
  }

  public NetworkConfig withDuplicatePct(double value) {
    return new NetworkConfig(lossPct, value, reorderPct, delayMsMean, jitterMs);
  }

  public NetworkConfig withReorderPct(double value) {
    return new NetworkConfig(lossPct, duplicatePct, value, delayMsMean, jitterMs);
  }
}
