package io.kvd.server.log;

import io.kvd.core.Addresses;
import io.kvd.core.NodeEvents;
import io.kvd.core.cluster.Membership.Status;
import io.kvd.proto.PeerProtocol.LinkFaults;
import io.kvd.server.fault.FaultConfig;
import java.util.Arrays;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.event.Level;

/**
 * The node's events as log lines, one per event (see {@link LogSetup} for the loggers). Runs on
 * the node's event loop; every event is rare, and none is per request. Each line starts with
 * {@code kvd SELF:} and, in JSON, carries the event's figures as key-value pairs too.
 *
 * <p>Levels: a suspicion, a rejoin and an operator's faults are INFO; a death verdict, a refuted
 * death, a stall and dropped data are WARN; an internal error is ERROR. A repair cycle is INFO when
 * it moved keys and DEBUG otherwise (a quiet cluster completes one every few seconds).
 */
public final class LoggingNodeEvents implements NodeEvents {
  private static final Logger MEMBERSHIP = LoggerFactory.getLogger(LogSetup.MEMBERSHIP);
  private static final Logger REPAIR = LoggerFactory.getLogger(LogSetup.REPAIR);
  private static final Logger OPERATOR = LoggerFactory.getLogger(LogSetup.OPERATOR);
  private static final Logger NODE = LoggerFactory.getLogger(LogSetup.NODE);

  private final String self;
  private final long faultSeed;
  /** The last error reported, so that the host does not log it a second time. */
  private volatile RuntimeException lastError;

  /** {@code faultSeed}: the seed the transport's fault layer uses, shown with operator faults. */
  public LoggingNodeEvents(long selfAddress, long faultSeed) {
    this.self = "kvd " + Addresses.toString(selfAddress) + ": ";
    this.faultSeed = faultSeed;
  }

  @Override
  public void memberStatusChanged(long member, Status from, Status to, long incarnation,
      int liveCount, int memberCount, long nowMs) {
    // The text keeps the form of kvd's earlier status lines ("member ADDRESS A -> B"), which
    // tests and scripts read.
    Level level = to == Status.DEAD ? Level.WARN : Level.INFO;
    MEMBERSHIP.atLevel(level)
        .addKeyValue("member", Addresses.toString(member))
        .addKeyValue("from", from.name())
        .addKeyValue("to", to.name())
        .addKeyValue("incarnation", incarnation)
        .addKeyValue("live", liveCount)
        .addKeyValue("members", memberCount)
        .log("{}member {} {} -> {} (incarnation {}){}; {} of {} live", self,
            Addresses.toString(member), from, to, incarnation,
            from == Status.DEAD && to == Status.ALIVE ? ", rejoined" : "", liveCount,
            memberCount);
  }

  @Override
  public void selfRefuted(Status heard, long heardIncarnation, long newIncarnation,
      long nowMs) {
    MEMBERSHIP.atLevel(heard == Status.DEAD ? Level.WARN : Level.INFO)
        .addKeyValue("heard", heard.name())
        .addKeyValue("heardIncarnation", heardIncarnation)
        .addKeyValue("incarnation", newIncarnation)
        .log("{}others believe this node {} at incarnation {}; refuted: ALIVE at incarnation {}",
            self, heard, heardIncarnation, newIncarnation);
  }

  @Override
  public void repairCycleCompleted(RepairCycle cycle) {
    boolean moved = cycle.keysPulled() > 0 || cycle.keysPushed() > 0;
    REPAIR.atLevel(moved ? Level.INFO : Level.DEBUG)
        .addKeyValue("peers", cycle.peers())
        .addKeyValue("rounds", cycle.rounds())
        .addKeyValue("keysPulled", cycle.keysPulled())
        .addKeyValue("bytesPulled", cycle.bytesPulled())
        .addKeyValue("keysPushed", cycle.keysPushed())
        .addKeyValue("bytesPushed", cycle.bytesPushed())
        .addKeyValue("durationMs", cycle.durationMs())
        .log("{}repair cycle with {} peers done in {} ms: {} rounds, pulled {} keys ({} bytes),"
            + " pushed {} keys ({} bytes)", self, cycle.peers(), cycle.durationMs(),
            cycle.rounds(), cycle.keysPulled(), cycle.bytesPulled(), cycle.keysPushed(),
            cycle.bytesPushed());
  }

  @Override
  public void dataDropped(String why, long keys, long nowMs) {
    REPAIR.atWarn()
        .addKeyValue("keys", keys)
        .log("{}dropped all {} keys ({}); catching up from the other replicas", self, keys,
            why);
  }

  @Override
  public void stalled(long gapMs, long nowMs) {
    NODE.atWarn()
        .addKeyValue("gapMs", gapMs)
        .log("{}stalled: no event for {} ms (process suspended, or starved of CPU)", self,
            gapMs);
  }

  @Override
  public void internalError(String what, RuntimeException error, long nowMs) {
    lastError = error;
    NODE.error("{}internal error handling a {} at {} ms, stopping: {}", self, what, nowMs,
        error.toString(), error);
  }

  /** The last error {@link #internalError} logged, or null. */
  public RuntimeException lastError() {
    return lastError;
  }

  @Override
  public void faultsSet(long requester, LinkFaults faults, long expiryMs, long nowMs) {
    OPERATOR.atInfo()
        .addKeyValue("requester", Addresses.toString(requester))
        .addKeyValue("expiryMs", expiryMs)
        .log("{}faults on sent datagrams now: {}, for {} ms (set by {})", self,
            FaultConfig.of(faults, faultSeed).describe(), expiryMs,
            Addresses.toString(requester));
  }

  @Override
  public void faultsCleared(long requester, boolean expired, long nowMs) {
    OPERATOR.info("{}faults on sent datagrams now: none ({})", self,
        expired ? "expired" : "cleared by " + Addresses.toString(requester));
  }

  @Override
  public void linksBlocked(long requester, long[] peers, long expiryMs, long nowMs) {
    OPERATOR.atInfo()
        .addKeyValue("requester", Addresses.toString(requester))
        .addKeyValue("expiryMs", expiryMs)
        .log("{}traffic with {} blocked for {} ms (by {})", self, addresses(peers), expiryMs,
            Addresses.toString(requester));
  }

  @Override
  public void linksUnblocked(long requester, long[] peers, boolean expired, long nowMs) {
    OPERATOR.info("{}traffic with {} unblocked ({})", self,
        peers.length == 0 ? "every member" : addresses(peers),
        expired ? "every block expired" : "by " + Addresses.toString(requester));
  }

  @Override
  public void adminCommand(long requester, String command, long nowMs) {
    OPERATOR.atWarn()
        .addKeyValue("requester", Addresses.toString(requester))
        .log("{}{} by admin request from {}", self, command, Addresses.toString(requester));
  }

  private static String addresses(long[] peers) {
    return Arrays.stream(peers).mapToObj(Addresses::toString)
        .collect(Collectors.joining(", "));
  }
}
