package io.kvd.core.cluster;

/**
 * Timings and bounds of the SWIM membership protocol. Detection time is about
 * {@code protocolPeriodMs} (until someone probes the failed member) + {@code probeTimeoutMs} +
 * {@code suspicionTimeoutMs} + a few periods to spread the verdict; a longer suspicion timeout
 * gives a suspected member more time to refute over a lossy network.
 *
 * @param protocolPeriodMs each member probes one other member per period. Default 200 ms.
 * @param probeTimeoutMs wait for a direct ACK before asking others to probe. Default 80 ms.
 * @param indirectProbes members asked to probe on our behalf (PING_REQ). Default 4: with 10% loss a probe then
 *     fails falsely about 1 time in 400 (3 gave 3 times more suspicions in the simulator).
 * @param suspicionTimeoutMs a suspect not refuted by then is declared dead. Default 2,000 ms:
 *     in the simulator, 20 nodes with 10% loss on every link for 10 minutes made no false dead
 *     declaration at 1,500 ms on 6 seeds and one at 1,000 ms; 2,000 keeps a margin for real
 *     processes, whose pauses (GC, a busy CPU) the simulator does not model.
 * @param updatesPerMessageMax membership updates piggybacked on one message. Default 8, so a
 *     gossip datagram stays under about 300 bytes and traffic per node stays constant.
 * @param retransmitMultiplier each update is piggybacked {@code multiplier * ceil(log2(n + 1))}
 *     times. Default 4.
 * @param deadProbeIntervalMs how often a member probes one member it believes dead, so that a
 *     resumed or restarted member is noticed even if it stays silent. Default 500 ms.
 * @param relaysMax PING_REQs relayed at once; more are refused. Default 64.
 */
public record MembershipConfig(long protocolPeriodMs, long probeTimeoutMs, int indirectProbes,
    long suspicionTimeoutMs, int updatesPerMessageMax, int retransmitMultiplier,
    long deadProbeIntervalMs, int relaysMax) {

  public static final MembershipConfig DEFAULT =
      new MembershipConfig(200, 80, 4, 2_000, 8, 4, 500, 64);

  public MembershipConfig {
    if (protocolPeriodMs < 1 || probeTimeoutMs < 1 || probeTimeoutMs >= protocolPeriodMs
        || indirectProbes < 0 || suspicionTimeoutMs < protocolPeriodMs
        || updatesPerMessageMax < 1 || updatesPerMessageMax > 64 || retransmitMultiplier < 1
        || deadProbeIntervalMs < 1 || relaysMax < 1) {
      throw new IllegalArgumentException("invalid membership config: probeTimeoutMs must be in"
          + " 1..protocolPeriodMs-1, suspicionTimeoutMs >= protocolPeriodMs, updates 1..64: "
          + protocolPeriodMs + "/" + probeTimeoutMs + "/" + indirectProbes + "/"
          + suspicionTimeoutMs + "/" + updatesPerMessageMax);
    }
  }
}
