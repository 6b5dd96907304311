package io.kvd.core.replication;

/**
 * Limits and timers of replication and repair. Every field states its unit.
 *
 * @param replicationFactor copies of each key: its primary and the next distinct live members
 * @param resendMs how long a coordinator waits for a replica's answer before sending again
 * @param readTimeoutMs how long a coordinator tries to gather a read quorum; then it refuses the
 *     request (OVERLOAD), having changed nothing
 * @param writeTimeoutMs how long a coordinator keeps sending a write to replicas that have not
 *     acknowledged it; then it gives up without answering (the client's outcome is unknown: some
 *     replicas may hold the write, and repair will spread it)
 * @param opsMax client operations in progress or queued at a coordinator at most; beyond, OVERLOAD
 * @param unavailableWaitMs the overloadWaitTime of a refusal for want of replicas
 * @param repairIntervalMs how often a repair cycle starts (digest exchange with every live peer)
 * @param roundTimeoutMs how long a repair round with one peer may go without hearing from it
 *     before it starts again (a lost DIGEST, KEYS, PULL or PUSH)
 * @param keysPerRoundMax keys one repair round lists at most; the next round lists the rest
 * @param repairBytesPerSecondMax repair and hand-off pushes sent per second at most, in bytes
 * @param pushQueueMax pushes waiting for the byte budget at most; more are dropped (a later round
 *     asks again)
 * @param handoffsMax keys held for hand-off (this node no longer replicates them) in flight at most
 * @param tombstoneRetentionMs how long a tombstone outlives its REMOVE. It must exceed the time a
 *     replica can miss the tombstone without being declared dead (suspicion plus a repair round):
 *     a replica declared dead forgets all it holds, so it cannot bring the old value back.
 * @param digestCacheMs how long a node reuses its per-peer digests when answering peers' rounds
 */
public record ReplicationConfig(
    int replicationFactor,
    long resendMs,
    long readTimeoutMs,
    long writeTimeoutMs,
    int opsMax,
    int unavailableWaitMs,
    long repairIntervalMs,
    long roundTimeoutMs,
    int keysPerRoundMax,
    long repairBytesPerSecondMax,
    int pushQueueMax,
    int handoffsMax,
    long tombstoneRetentionMs,
    long digestCacheMs) {

  public static final int REPLICATION_FACTOR_MAX = 7;
  /** Repair ranges: the ring is cut into this many equal arcs by the top bits of a key's token. */
  public static final int RANGES = 64;

  public static final ReplicationConfig DEFAULT = new ReplicationConfig(4, 60, 1_000, 5_000,
      8_192, 100, 1_000, 250, 2_000, 8L << 20, 8_192, 1_024, 60_000, 250);

  public ReplicationConfig withRepairIntervalMs(long value) {
    return new ReplicationConfig(replicationFactor, resendMs, readTimeoutMs, writeTimeoutMs,
        opsMax, unavailableWaitMs, value, roundTimeoutMs, keysPerRoundMax,
        repairBytesPerSecondMax, pushQueueMax, handoffsMax, tombstoneRetentionMs, digestCacheMs);
  }

  public ReplicationConfig withTombstoneRetentionMs(long value) {
    return new ReplicationConfig(replicationFactor, resendMs, readTimeoutMs, writeTimeoutMs,
        opsMax, unavailableWaitMs, repairIntervalMs, roundTimeoutMs, keysPerRoundMax,
        repairBytesPerSecondMax, pushQueueMax, handoffsMax, value, digestCacheMs);
  }

  public ReplicationConfig withOpsMax(int value) {
    return new ReplicationConfig(replicationFactor, resendMs, readTimeoutMs, writeTimeoutMs,
        value, unavailableWaitMs, repairIntervalMs, roundTimeoutMs, keysPerRoundMax,
        repairBytesPerSecondMax, pushQueueMax, handoffsMax, tombstoneRetentionMs, digestCacheMs);
  }

  public ReplicationConfig withKeysPerRoundMax(int value) {
    return new ReplicationConfig(replicationFactor, resendMs, readTimeoutMs, writeTimeoutMs,
        opsMax, unavailableWaitMs, repairIntervalMs, roundTimeoutMs, value,
        repairBytesPerSecondMax, pushQueueMax, handoffsMax, tombstoneRetentionMs, digestCacheMs);
  }

  /** Throws IllegalArgumentException naming the first limit that is out of range. */
  public ReplicationConfig validate() {
    require(replicationFactor >= 1 && replicationFactor <= REPLICATION_FACTOR_MAX,
        "replicationFactor must be in 1.." + REPLICATION_FACTOR_MAX);
    require(resendMs >= 1 && resendMs <= readTimeoutMs, "resendMs must be in 1..readTimeoutMs");
    require(readTimeoutMs <= writeTimeoutMs, "readTimeoutMs must be <= writeTimeoutMs");
    require(writeTimeoutMs <= 60_000, "writeTimeoutMs must be <= 60,000");
    require(opsMax >= 1 && opsMax <= 1 << 20, "opsMax must be in 1..1,048,576");
    require(unavailableWaitMs >= 1, "unavailableWaitMs must be >= 1");
    require(repairIntervalMs >= 10, "repairIntervalMs must be >= 10");
    require(roundTimeoutMs >= 10, "roundTimeoutMs must be >= 10");
    require(keysPerRoundMax >= 1 && keysPerRoundMax <= 64 * Repair.KEYS_PER_CHUNK_MAX,
        "keysPerRoundMax must be in 1.." + 64 * Repair.KEYS_PER_CHUNK_MAX);
    require(repairBytesPerSecondMax >= 64 * 1024, "repairBytesPerSecondMax must be >= 64 KiB");
    require(pushQueueMax >= 1 && handoffsMax >= 1, "pushQueueMax and handoffsMax must be >= 1");
    require(tombstoneRetentionMs >= 1_000, "tombstoneRetentionMs must be >= 1,000");
    require(digestCacheMs >= 0 && digestCacheMs < repairIntervalMs,
        "digestCacheMs must be in 0..repairIntervalMs");
    return this;
  }

  private static void require(boolean ok, String message) {
    if (!ok) {
      throw new IllegalArgumentException(message);
    }
  }
}
