package io.kvd.server;

import io.kvd.core.Hashing;
import io.kvd.server.fault.FaultConfig;
import picocli.CommandLine.Option;

/**
 * The fault-injection options of a member (see {@link FaultConfig}), as a picocli mixin. They
 * apply to every datagram the node sends. Each node draws from its own stream, derived from
 * {@code --fault-seed} and its own address, so members given the same seed still fail
 * independently, and a rerun with the same seed and address replays the same decisions for the
 * same sequence of sends.
 */
public final class FaultOptions {
  @Option(names = "--fault-loss-pct", defaultValue = "0", paramLabel = "PCT",
      description = "Drop this percentage of sent datagrams (default: ${DEFAULT-VALUE}).")
  double lossPct;

  @Option(names = "--fault-duplicate-pct", defaultValue = "0", paramLabel = "PCT",
      description = "Send this percentage of datagrams twice (default: ${DEFAULT-VALUE}).")
  double duplicatePct;

  @Option(names = "--fault-reorder-pct", defaultValue = "0", paramLabel = "PCT",
      description = "Hold back this percentage of datagrams 1 to 20 ms more, so later ones"
          + " overtake them (default: ${DEFAULT-VALUE}).")
  double reorderPct;

  @Option(names = "--fault-delay-ms", defaultValue = "0", paramLabel = "MS",
      description = "Mean delay of every sent datagram (default: ${DEFAULT-VALUE}).")
  long delayMs;

  @Option(names = "--fault-jitter-ms", defaultValue = "0", paramLabel = "MS",
      description = "Uniform jitter of the delay, +- this (default: ${DEFAULT-VALUE}).")
  long jitterMs;

  @Option(names = "--fault-seed", paramLabel = "SEED",
      description = "Seed of the fault decisions, mixed with the node's address (default:"
          + " random, printed at start-up).")
  Long seed;

  /**
   * The faults for the node at {@code selfAddress}; {@code randomSeed} is used when no seed was
   * given. The config's seed is the one the user gives to replay; the injector's stream is seeded
   * by {@link #streamSeed}.
   */
  FaultConfig config(long randomSeed) {
    return new FaultConfig(lossPct, duplicatePct, reorderPct, delayMs, jitterMs,
        seed != null ? seed : randomSeed);
  }

  /** The seed of one node's decision stream: the user's seed mixed with the node's address. */
  static long streamSeed(long seed, long selfAddress) {
    return Hashing.mix64(seed ^ Hashing.mix64(selfAddress));
  }
}
