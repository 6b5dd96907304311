package io.kvd.core;

import io.kvd.core.cluster.Membership;
import io.kvd.proto.PeerProtocol.LinkFaults;

/**
 * What a node tells its host about events worth a log line: membership changes, completed repair
 * cycles, operator faults, stalls, lost data and internal errors. The core has no logging of its
 * own (no I/O, see CoreArchitectureTest); kvd's shell turns these calls into log lines, the
 * simulator and tests into records. Never called per request: every event here is rare (a handful
 * per failure, one per repair cycle), so an implementation may afford a line each.
 *
 * <p>Called on the node's thread, from inside the node's handlers: an implementation must not
 * block long, must not throw, and must not call back into the node. Addresses are those of
 * {@link Addresses}; times are the node's own milliseconds. Every method does nothing by default.
 */
public interface NodeEvents {
  /** Ignores everything: the default. */
  NodeEvents NONE = new NodeEvents() { };

  /**
   * This node's belief about {@code member} changed from {@code from} to {@code to} (DEAD to
   * ALIVE is a rejoin), at {@code incarnation}; {@code liveCount} of {@code memberCount} members
   * are now believed alive or suspect.
   */
  default void memberStatusChanged(long member, Membership.Status from, Membership.Status to,
      long incarnation, int liveCount, int memberCount, long nowMs) {
  }

  /**
   * This node heard itself {@code heard} (SUSPECT or DEAD) at {@code heardIncarnation} and
   * refutes it: it is alive at {@code newIncarnation}.
   */
  default void selfRefuted(Membership.Status heard, long heardIncarnation, long newIncarnation,
      long nowMs) {
  }

  /** A repair cycle completed: this node compared its keys with every live peer. */
  default void repairCycleCompleted(RepairCycle cycle) {
  }

  /**
   * This node dropped every key it held and catches up from the others by repair ({@code why}:
   * why its data could no longer be trusted).
   */
  default void dataDropped(String why, long keys, long nowMs) {
  }

  /**
   * No event reached the node for {@code gapMs} (its process was suspended, or starved of CPU);
   * in a cluster it now drops client requests read in the next {@link Node#STALE_WINDOW_MS}.
   */
  default void stalled(long gapMs, long nowMs) {
  }

  /**
   * A bug or a broken invariant while handling {@code what} ("datagram" or "tick"): the node's
   * state may be wrong. The exception is rethrown to the host afterwards, which stops the node.
   */
  default void internalError(String what, RuntimeException error, long nowMs) {
  }

  /** An operator set {@code faults} on every datagram this node sends, for {@code expiryMs}. */
  default void faultsSet(long requester, LinkFaults faults, long expiryMs, long nowMs) {
  }

  /** The faults an operator set are gone: cleared by {@code requester}, or {@code expired}. */
  default void faultsCleared(long requester, boolean expired, long nowMs) {
  }

  /**
   * An operator's admin request {@code command} (SHUTDOWN or WIPEOUT) from {@code requester}:
   * the node is about to exit, or has just deleted its keys.
   */
  default void adminCommand(long requester, String command, long nowMs) {
  }

  /** An operator blocked the traffic between this node and {@code peers} for {@code expiryMs}. */
  default void linksBlocked(long requester, long[] peers, long expiryMs, long nowMs) {
  }

  /**
   * Blocks are lifted: for {@code peers} by {@code requester} (for every member when empty), or
   * every block {@code expired}.
   */
  default void linksUnblocked(long requester, long[] peers, boolean expired, long nowMs) {
  }

  /**
   * One completed repair cycle: a round with each of {@code peers} live peers, {@code rounds}
   * rounds in all (a truncated round continues in another), taking {@code durationMs}. Keys and
   * bytes are this node's repair traffic during the cycle: records pulled and stored here, and
   * records pushed to peers (for their pulls and for hand-offs).
   */
  record RepairCycle(int peers, long rounds, long keysPulled, long bytesPulled, long keysPushed,
      long bytesPushed, long durationMs, long nowMs) {
  }
}
