package io.kvd.server;

import io.kvd.core.ClientLimits;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Locale;
import picocli.CommandLine.Option;

/**
 * What a node accepts from clients (see {@link ClientLimits}), as a picocli mixin: whether any
 * client may SHUTDOWN or WIPEOUT it, and per-source-address limits. The core applies them; here
 * they are only read, and {@code --source-limits auto} resolved against the address the node
 * binds.
 */
public final class ClientOptions {
  /** {@code --client-admin}. */
  public enum ClientAdmin {
    OPEN, OFF;

    @Override
    public String toString() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /** {@code --source-limits}. */
  public enum Mode {
    ON, OFF, AUTO;

    @Override
    public String toString() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  @Option(names = "--client-admin", defaultValue = "open", paramLabel = "open|off",
      description = "Whether SHUTDOWN and WIPEOUT are accepted from any client over the client"
          + " protocol: open (the default, which the course's test harnesses need) or off. With"
          + " off they are answered UNRECOGNIZED_COMMAND (5), what a node that does not offer"
          + " the commands would answer, so clients take them as unsupported rather than retry;"
          + " they are counted (clientAdmin.refused), the node keeps running and keeps its data,"
          + " and every other command works.")
  ClientAdmin clientAdmin = ClientAdmin.OPEN;

  @Option(names = "--source-limits", defaultValue = "auto", paramLabel = "on|off|auto",
      description = "Limit client requests per source IPv4 address (any port): on, off, or auto"
          + " (the default): on when the node binds a non-loopback address, off on loopback so"
          + " that local benchmarks run unlimited. A request over its source's budget is answered"
          + " OVERLOAD with overloadWaitTime the ms until the budget admits it; beyond"
          + " --source-overload-replies-per-sec such requests are dropped unanswered. Members of"
          + " the cluster are exempt.")
  Mode sourceLimits = Mode.AUTO;

  @Option(names = "--source-requests-per-sec", paramLabel = "N",
      defaultValue = "" + ClientLimits.REQUESTS_PER_SEC_DEFAULT,
      description = "Requests per second one source address may send, sustained (default:"
          + " ${DEFAULT-VALUE}).")
  long requestsPerSec = ClientLimits.REQUESTS_PER_SEC_DEFAULT;

  @Option(names = "--source-requests-burst", paramLabel = "N",
      defaultValue = "" + ClientLimits.REQUESTS_BURST_DEFAULT,
      description = "Requests one source address may send at once after a quiet time (default:"
          + " ${DEFAULT-VALUE}).")
  long requestsBurst = ClientLimits.REQUESTS_BURST_DEFAULT;

  @Option(names = "--source-reply-bytes-per-sec", paramLabel = "BYTES",
      defaultValue = "" + ClientLimits.REPLY_BYTES_PER_SEC_DEFAULT,
      description = "Reply bytes per second the node sends to one address, sustained: bounds"
          + " what a request with a forged source can make the node send elsewhere (default:"
          + " ${DEFAULT-VALUE}).")
  long replyBytesPerSec = ClientLimits.REPLY_BYTES_PER_SEC_DEFAULT;

  @Option(names = "--source-reply-bytes-burst", paramLabel = "BYTES",
      defaultValue = "" + ClientLimits.REPLY_BYTES_BURST_DEFAULT,
      description = "Reply bytes the node sends to one address at once (default:"
          + " ${DEFAULT-VALUE}).")
  long replyBytesBurst = ClientLimits.REPLY_BYTES_BURST_DEFAULT;

  @Option(names = "--source-overload-replies-per-sec", paramLabel = "N",
      defaultValue = "" + ClientLimits.OVERLOAD_REPLIES_PER_SEC_DEFAULT,
      description = "OVERLOAD replies per second (and at once) to one address for requests over"
          + " its budget; requests beyond that are dropped unanswered and counted (default:"
          + " ${DEFAULT-VALUE}).")
  long overloadRepliesPerSec = ClientLimits.OVERLOAD_REPLIES_PER_SEC_DEFAULT;

  @Option(names = "--source-table-slots", paramLabel = "N",
      defaultValue = "" + ClientLimits.SOURCE_SLOTS_DEFAULT,
      description = "Slots of the table of per-source budgets, a power of two, 32 bytes of heap"
          + " each, allocated at start-up and taken from the store's budget; addresses that"
          + " hash to the same slot share its budget (default: ${DEFAULT-VALUE}).")
  int tableSlots = ClientLimits.SOURCE_SLOTS_DEFAULT;

  /**
   * The limits for a node that binds {@code bindHost}: auto is on unless that address is a
   * loopback address. Throws IllegalArgumentException for an out-of-range value.
   */
  ClientLimits limits(String bindHost) {
    boolean on = switch (sourceLimits) {
      case ON -> true;
      case OFF -> false;
      case AUTO -> !isLoopback(bindHost);
    };
    check(requestsPerSec, ClientLimits.REQUESTS_MAX, "--source-requests-per-sec");
    check(requestsBurst, ClientLimits.REQUESTS_MAX, "--source-requests-burst");
    check(replyBytesPerSec, ClientLimits.REPLY_BYTES_MAX, "--source-reply-bytes-per-sec");
    check(replyBytesBurst, ClientLimits.REPLY_BYTES_MAX, "--source-reply-bytes-burst");
    check(overloadRepliesPerSec, ClientLimits.REQUESTS_MAX, "--source-overload-replies-per-sec");
    if (tableSlots < ClientLimits.SOURCE_SLOTS_MIN || tableSlots > ClientLimits.SOURCE_SLOTS_MAX
        || Integer.bitCount(tableSlots) != 1) {
      throw new IllegalArgumentException("--source-table-slots must be a power of two in "
          + ClientLimits.SOURCE_SLOTS_MIN + ".." + ClientLimits.SOURCE_SLOTS_MAX + ", got "
          + tableSlots);
    }
    return ClientLimits.OPEN
        .withClientAdmin(clientAdmin == ClientAdmin.OPEN)
        .withSourceLimits(on)
        .withRequests(requestsPerSec, requestsBurst)
        .withReplyBytes(replyBytesPerSec, replyBytesBurst)
        .withOverloadRepliesPerSec(overloadRepliesPerSec)
        .withSourceSlots(tableSlots)
        .validate();
  }

  private static void check(long value, long max, String option) {
    if (value < 1 || value > max) {
      throw new IllegalArgumentException(option + " must be in 1.." + max + ", got " + value);
    }
  }

  /** A one-line summary for the start-up log. */
  static String describe(ClientLimits limits) {
    String admin = "client admin " + (limits.clientAdmin() ? "open" : "off");
    if (!limits.sourceLimits()) {
      return admin + "; source limits off";
    }
    return String.format("%s; source limits on: %d requests/s (burst %d), %d reply bytes/s"
            + " (burst %d), %d OVERLOAD replies/s per address, table of %d slots (%.1f KiB)",
        admin, limits.requestsPerSec(), limits.requestsBurst(), limits.replyBytesPerSec(),
        limits.replyBytesBurst(), limits.overloadRepliesPerSec(), limits.sourceSlots(),
        limits.tableLength() / 1024.0);
  }

  private static boolean isLoopback(String host) {
    try {
      return InetAddress.getByName(host).isLoopbackAddress();
    } catch (UnknownHostException e) {
      return false;
    }
  }
}
