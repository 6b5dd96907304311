package io.kvd.core;

import com.google.protobuf.ByteString;
import io.kvd.core.cluster.Ring;
import io.kvd.proto.ClientProtocol.KVResponse;

/**
 * Decides whether the node handles a client request at all, before anything else is done with
 * it (routing, the reply cache, the store), by {@link ClientLimits}:
 *
 * <ol>
 *   <li>A request whose reply would go to a member of the cluster (itself included) is dropped and
 *       counted ({@code dropped.reply_to_member}). Members never send client requests of their
 *       own (a forwarded one carries its client's address), so such a datagram is a reply that a
 *       spoofed request made some node send to a member, or a spoofed request itself; answering
 *       it would start an endless exchange, each node parsing the other's reply as a request (a
 *       KVResponse parses as a KVRequest: errCode 5 reads as command 5, WIPEOUT).
 *   <li>With source limits on ({@link SourceLimits}): a request from an address over its request
 *       budget, or whose reply would go to an address over its reply-bytes budget, is answered
 *       OVERLOAD, with overloadWaitTime the ms until both budgets admit it again (at least the
 *       node's overloadWaitTimeMsMin), and counted; when that address has had its share of
 *       OVERLOAD replies too, the request is dropped without a reply and counted. Requests
 *       forwarded by a member were charged to their client where the client sent them: here
 *       only the client's reply bytes count. Datagrams from members' own endpoints are never
 *       limited. While a source is past both its request budget and its OVERLOAD
 *       replies, its datagrams are dropped before they are parsed ({@link #dropsUnparsed}), so
 *       that a flood costs the node little more than reading it.
 *   <li>With client admin off: SHUTDOWN and WIPEOUT are answered UNRECOGNIZED_COMMAND and
 *       counted, forwarded or not (a member never forwards them). Admin requests and internal
 *       messages do not come through here.
 * </ol>
 *
 * <p>With source limits on, every reply the node sends to a client is reported ({@link
 * #onReplySent}) and its bytes charged to the destination's reply-bytes budget, except the gate's own OVERLOAD replies, which
 * have their own bucket. So everything a node sends to an address in answer to client requests,
 * whoever asked, is bounded by that address's buckets.
 */
final class ClientGate {
  /** Sends a reply to the client request being handled (the node's own send). */
  interface Replier {
    void send(long to, ByteString id, KVResponse response, Outbox out);
  }

  private final ClientLimits limits;
  private final SourceLimits sources; // null when source limits are off
  private final Ring ring;
  private final NodeStats stats;
  private final int overloadWaitMsMin;
  private final Replier replier;
  /** True while the gate sends its own OVERLOAD, which is not charged to reply bytes. */
  private boolean sendingOverload;

  ClientGate(NodeConfig config, Ring ring, NodeStats stats, Replier replier) {
    this.limits = config.clientLimits();
    this.sources = limits.sourceLimits()
        ? new SourceLimits(limits, Hashing.mix64(config.hashSeed() + 2)) : null;
    this.ring = ring;
    this.stats = stats;
    this.overloadWaitMsMin = config.overloadWaitTimeMsMin();
    this.replier = replier;
  }

  /** The source table, or null when source limits are off. */
  SourceLimits sources() {
    return sources;
  }

  /**
   * Whether the node handles the client request {@code id} with {@code command} that {@code
   * sender} sent at {@code nowMs} and whose reply goes to {@code client} ({@code sender} unless a
   * member forwarded it). When false the request has been answered or dropped here.
   */
  boolean admit(long sender, long client, ByteString id, int command, long nowMs, Outbox out) {
    if (ring.indexOf(client) >= 0) {
      stats.onReplyToMemberDropped();
      return false;
    }
    if (sources != null && !admitBySource(sender, client, id, nowMs, out)) {
      return false;
    }
    if (!limits.clientAdmin() && (command == Command.SHUTDOWN || command == Command.WIPEOUT)) {
      stats.onClientAdminRefused();
      replier.send(client, id, KVResponse.newBuilder()
          .setErrCode(ErrorCode.UNRECOGNIZED_COMMAND).build(), out);
      return false;
    }
    return true;
  }

  /**
   * Whether a datagram from {@code sender} is dropped before it is even parsed: when the sender,
   * not a member, is past its request budget and has had its share of OVERLOAD replies, any
   * client request from it would be dropped anyway (counted the same), so a flood costs the
   * node a hash and a slot per datagram rather than a parse. Other datagrams from that address
   * (admin requests, garbage) go the same way while it floods.
   */
  boolean dropsUnparsed(long sender, long nowMs) {
    if (sources == null || ring.indexOf(sender) >= 0) {
      return false;
    }
    int slot = sources.slot(Addresses.ipv4(sender), nowMs);
    if (sources.requestWaitMs(slot) == 0 || sources.hasOverloadReply(slot)) {
      return false;
    }
    stats.onSourceLimitedRequests();
    stats.onSourceLimitDropped();
    return true;
  }

  private boolean admitBySource(long sender, long client, ByteString id, long nowMs, Outbox out) {
    int replySlot = sources.slot(Addresses.ipv4(client), nowMs);
    long replyWaitMs = sources.replyWaitMs(replySlot);
    int requestSlot = -1;
    long requestWaitMs = 0;
    if (ring.indexOf(sender) < 0) {
      requestSlot = Addresses.ipv4(sender) == Addresses.ipv4(client) ? replySlot
          : sources.slot(Addresses.ipv4(sender), nowMs);
      requestWaitMs = sources.requestWaitMs(requestSlot);
    }
    if (requestWaitMs == 0 && replyWaitMs == 0) {
      if (requestSlot >= 0) {
        sources.chargeRequest(requestSlot);
      }
      return true;
    }
    if (requestWaitMs > 0) {
      stats.onSourceLimitedRequests();
    } else {
      stats.onSourceLimitedReplyBytes();
    }
    if (!sources.takeOverloadReply(replySlot)) {
      stats.onSourceLimitDropped();
      return false;
    }
    long waitMs = Math.max(overloadWaitMsMin, Math.max(requestWaitMs, replyWaitMs));
    sendingOverload = true;
    try {
      replier.send(client, id, KVResponse.newBuilder().setErrCode(ErrorCode.OVERLOAD)
          .setOverloadWaitTime((int) Math.min(Integer.MAX_VALUE, waitMs)).build(), out);
    } finally {
      sendingOverload = false;
    }
    return false;
  }

  /** A reply of {@code length} bytes was sent to client {@code to} at {@code nowMs}. */
  void onReplySent(long to, int length, long nowMs) {
    if (sources != null && !sendingOverload && ring.indexOf(to) < 0) {
      sources.chargeReply(sources.slot(Addresses.ipv4(to), nowMs), length);
    }
  }
}
