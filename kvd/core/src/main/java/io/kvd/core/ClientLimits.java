package io.kvd.core;

/**
 * What a node accepts from clients over the client protocol: whether SHUTDOWN and WIPEOUT may be
 * sent by any client, and the per-source-address budgets of {@link SourceLimits}. Part of {@link
 * NodeConfig}; the core applies it (see {@link ClientGate}), the shell only fills it in.
 *
 * @param clientAdmin true (kvd's {@code --client-admin open}, the default, which the course's
 *     harnesses need): SHUTDOWN and WIPEOUT over the client protocol execute. False ({@code off}):
 *     they are answered UNRECOGNIZED_COMMAND, what a node that does not offer the commands would
 *     answer, and counted; every other command works as before
 * @param sourceLimits true: client requests are limited per source IPv4 address (ports do not
 *     matter) by the budgets below; members of the node's cluster are exempt
 * @param requestsPerSec requests a source may send per second, sustained
 * @param requestsBurst requests a source may send at once, after a quiet time
 * @param replyBytesPerSec reply bytes the node sends to one address per second, sustained
 * @param replyBytesBurst reply bytes the node sends to one address at once
 * @param overloadRepliesPerSec OVERLOAD replies to one source per second (and at once) for requests
 *     over its budget; requests beyond that are dropped without a reply
 * @param sourceSlots slots of the source table, a power of two; each costs {@link
 *     SourceLimits#SLOT_LENGTH} bytes of heap, allocated once (none when sourceLimits is off)
 */
public record ClientLimits(
    boolean clientAdmin,
    boolean sourceLimits,
    long requestsPerSec,
    long requestsBurst,
    long replyBytesPerSec,
    long replyBytesBurst,
    long overloadRepliesPerSec,
    int sourceSlots) {

  public static final long REQUESTS_PER_SEC_DEFAULT = 20_000;
  public static final long REQUESTS_BURST_DEFAULT = 20_000;
  public static final long REPLY_BYTES_PER_SEC_DEFAULT = 32L << 20;
  public static final long REPLY_BYTES_BURST_DEFAULT = 4L << 20;
  public static final long OVERLOAD_REPLIES_PER_SEC_DEFAULT = 1_000;
  public static final int SOURCE_SLOTS_DEFAULT = 1 << 14;

  /** Largest rate or burst of requests (and of OVERLOAD replies). */
  public static final long REQUESTS_MAX = 100_000_000;
  /** Largest rate or burst of reply bytes: 1 TiB. */
  public static final long REPLY_BYTES_MAX = 1L << 40;
  public static final int SOURCE_SLOTS_MIN = 1;
  public static final int SOURCE_SLOTS_MAX = 1 << 24;

  /** Client admin open, no per-source limits: the course protocol as it always was. */
  public static final ClientLimits OPEN = new ClientLimits(true, false, REQUESTS_PER_SEC_DEFAULT,
      REQUESTS_BURST_DEFAULT, REPLY_BYTES_PER_SEC_DEFAULT, REPLY_BYTES_BURST_DEFAULT,
      OVERLOAD_REPLIES_PER_SEC_DEFAULT, SOURCE_SLOTS_DEFAULT);

  public ClientLimits withClientAdmin(boolean value) {
    return new ClientLimits(value, sourceLimits, requestsPerSec, requestsBurst, replyBytesPerSec,
        replyBytesBurst, overloadRepliesPerSec, sourceSlots);
  }

  public ClientLimits withSourceLimits(boolean value) {
    return new ClientLimits(clientAdmin, value, requestsPerSec, requestsBurst, replyBytesPerSec,
        replyBytesBurst, overloadRepliesPerSec, sourceSlots);
  }

  public ClientLimits withRequests(long perSec, long burst) {
    return new ClientLimits(clientAdmin, sourceLimits, perSec, burst, replyBytesPerSec,
        replyBytesBurst, overloadRepliesPerSec, sourceSlots);
  }

  public ClientLimits withReplyBytes(long perSec, long burst) {
    return new ClientLimits(clientAdmin, sourceLimits, requestsPerSec, requestsBurst, perSec,
        burst, overloadRepliesPerSec, sourceSlots);
  }

  public ClientLimits withOverloadRepliesPerSec(long value) {
    return new ClientLimits(clientAdmin, sourceLimits, requestsPerSec, requestsBurst,
        replyBytesPerSec, replyBytesBurst, value, sourceSlots);
  }

  public ClientLimits withSourceSlots(int value) {
    return new ClientLimits(clientAdmin, sourceLimits, requestsPerSec, requestsBurst,
        replyBytesPerSec, replyBytesBurst, overloadRepliesPerSec, value);
  }

  /** Heap bytes the source table takes: 0 when source limits are off. */
  public long tableLength() {
    return sourceLimits ? SourceLimits.lengthOf(sourceSlots) : 0;
  }

  /** Throws IllegalArgumentException naming the first limit that is out of range. */
  public ClientLimits validate() {
    require(requestsPerSec >= 1 && requestsPerSec <= REQUESTS_MAX,
        "source requests per second must be in 1.." + REQUESTS_MAX);
    require(requestsBurst >= 1 && requestsBurst <= REQUESTS_MAX,
        "source requests burst must be in 1.." + REQUESTS_MAX);
    require(replyBytesPerSec >= 1 && replyBytesPerSec <= REPLY_BYTES_MAX,
        "source reply bytes per second must be in 1.." + REPLY_BYTES_MAX);
    require(replyBytesBurst >= 1 && replyBytesBurst <= REPLY_BYTES_MAX,
        "source reply bytes burst must be in 1.." + REPLY_BYTES_MAX);
    require(overloadRepliesPerSec >= 1 && overloadRepliesPerSec <= REQUESTS_MAX,
        "OVERLOAD replies per source per second must be in 1.." + REQUESTS_MAX);
    require(sourceSlots >= SOURCE_SLOTS_MIN && sourceSlots <= SOURCE_SLOTS_MAX
            && Integer.bitCount(sourceSlots) == 1,
        "source table slots must be a power of two in " + SOURCE_SLOTS_MIN + ".."
            + SOURCE_SLOTS_MAX);
    return this;
  }

  private static void require(boolean ok, String message) {
    if (!ok) {
      throw new IllegalArgumentException(message);
    }
  }
}
