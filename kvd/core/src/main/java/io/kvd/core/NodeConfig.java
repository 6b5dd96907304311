package io.kvd.core;

/**
 * The limits and identity of one node. Every field states its unit; {@link #validate()} checks the
 * relations between them once, at start-up.
 *
 * @param pid the process id GET_PID answers (the shell reads it; the simulator invents one)
 * @param replyRetentionMs how long a reply to a mutating request is kept for retries. Default
 *     10,000 ms: real clients retry for up to about 6 s. Longer is safer against late retries and
 *     costs reply-cache space in proportion (see {@link #replyCacheLengthMax}).
 * @param replyCacheLengthMax bytes reserved for the reply cache. Default 6 MiB, that is 262,142
 *     entries of about {@link io.kvd.core.ReplyCache#ENTRY_LENGTH} bytes: at a 10 s retention it
 *     sustains about 26,000 mutating requests per second before the node answers OVERLOAD. More costs store
 *     space one for one, because both share the heap.
 * @param storeLengthMax bytes the store may hold, records and table included. The shell derives it
 *     from the maximum heap (see DESIGN.md, "Memory budget").
 * @param hashSeed seeds the store's key hash so that a client cannot choose colliding keys
 *     offline; the shell draws it from SecureRandom, the simulator from its seed
 * @param overloadWaitTimeMsMin the smallest overloadWaitTime the node asks for, in ms. Default 20.
 * @param clientLimits client admin (SHUTDOWN and WIPEOUT from clients) and per-source limits;
 *     default {@link ClientLimits#OPEN}: admin open, no limits (see {@link ClientGate})
 */
public record NodeConfig(
    long pid,
    long replyRetentionMs,
    long replyCacheLengthMax,
    long storeLengthMax,
    long hashSeed,
    int overloadWaitTimeMsMin,
    ClientLimits clientLimits) {

  /** With {@link ClientLimits#OPEN}. */
  public NodeConfig(long pid, long replyRetentionMs, long replyCacheLengthMax,
      long storeLengthMax, long hashSeed, int overloadWaitTimeMsMin) {
    this(pid, replyRetentionMs, replyCacheLengthMax, storeLengthMax, hashSeed,
        overloadWaitTimeMsMin, ClientLimits.OPEN);
  }

  /** Largest key in bytes (protocol: 1 to 32, else INVALID_KEY). */
  public static final int KEY_LENGTH_MAX = 32;
  /** Largest value in bytes (protocol: at most 10,000, else INVALID_VALUE). */
  public static final int VALUE_LENGTH_MAX = 10_000;
  /** Largest UDP payload over IPv4; longer datagrams cannot arrive and are dropped if they do. */
  public static final int DATAGRAM_LENGTH_MAX = 65_507;
  /** Largest messageID in bytes. The protocol's IDs are 16 bytes; longer ones are dropped. */
  public static final int MESSAGE_ID_LENGTH_MAX = 16;

  public static final long REPLY_RETENTION_MS_DEFAULT = 10_000;
  public static final long REPLY_CACHE_LENGTH_MAX_DEFAULT = 6L << 20;
  public static final int OVERLOAD_WAIT_TIME_MS_MIN_DEFAULT = 20;

  /** Defaults for everything but the store's budget, which depends on the heap. */
  public static NodeConfig defaults(long pid, long storeLengthMax, long hashSeed) {
    return new NodeConfig(pid, REPLY_RETENTION_MS_DEFAULT, REPLY_CACHE_LENGTH_MAX_DEFAULT,
        storeLengthMax, hashSeed, OVERLOAD_WAIT_TIME_MS_MIN_DEFAULT);
  }

  public NodeConfig withReplyRetentionMs(long value) {
    return new NodeConfig(pid, value, replyCacheLengthMax, storeLengthMax, hashSeed,
        overloadWaitTimeMsMin, clientLimits);
  }

  public NodeConfig withReplyCacheLengthMax(long value) {
    return new NodeConfig(pid, replyRetentionMs, value, storeLengthMax, hashSeed,
        overloadWaitTimeMsMin, clientLimits);
  }

  public NodeConfig withStoreLengthMax(long value) {
    return new NodeConfig(pid, replyRetentionMs, replyCacheLengthMax, value, hashSeed,
        overloadWaitTimeMsMin, clientLimits);
  }

  public NodeConfig withClientLimits(ClientLimits value) {
    return new NodeConfig(pid, replyRetentionMs, replyCacheLengthMax, storeLengthMax, hashSeed,
        overloadWaitTimeMsMin, value);
  }

  /** Throws IllegalArgumentException naming the first limit that is out of range. */
  public NodeConfig validate() {
    require(pid >= 0, "pid must be >= 0");
    require(replyRetentionMs >= 1 && replyRetentionMs <= 3_600_000,
        "replyRetentionMs must be in 1..3,600,000");
    require(replyCacheLengthMax >= ReplyCache.LENGTH_MIN,
        "replyCacheLengthMax must be at least " + ReplyCache.LENGTH_MIN + " bytes (16 entries)");
    require(replyCacheLengthMax <= (long) ReplyCache.ENTRIES_MAX * ReplyCache.ENTRY_LENGTH,
        "replyCacheLengthMax must be at most " + (long) ReplyCache.ENTRIES_MAX * ReplyCache.ENTRY_LENGTH);
    require(storeLengthMax >= 0, "storeLengthMax must be >= 0");
    require(overloadWaitTimeMsMin >= 1 && overloadWaitTimeMsMin <= replyRetentionMs,
        "overloadWaitTimeMsMin must be in 1..replyRetentionMs");
    require(clientLimits != null, "clientLimits must be given");
    clientLimits.validate();
    return this;
  }

  private static void require(boolean ok, String message) {
    if (!ok) {
      throw new IllegalArgumentException(message);
    }
  }
}
