package io.kvd.core;

import io.kvd.core.codec.ClientCodec.DropReason;

/**
 * Counters of one node, owned and written by the node's thread only. Readers on other threads
 * (metrics, admin requests) must go through the node's thread, as everything else does.
 */
public final class NodeStats {
  private long forgotten;
  private long shed;
  private final long[] requestsByCommand = new long[Command.COUNT + 1];
  private final long[] repliesByErrCode = new long[ErrorCode.COUNT];
  private final long[] droppedByReason = new long[DropReason.values().length];
  private long datagramsReceived;
  private long replyCacheHits;
  private long forwardsSent;
  private long forwardsReceived;
  private long routingConflicts;
  private long gossipSent;
  private long gossipReceived;
  private long replicaReceived;
  private long blockedSends;
  private final Latencies latencies = new Latencies();
  // The counts of the last whole second (see roll), and the totals when it began.
  private final long[] requestsLastSecond = new long[Command.COUNT + 1];
  private final long[] repliesLastSecond = new long[ErrorCode.COUNT];
  private final long[] requestsAtSecond = new long[Command.COUNT + 1];
  private final long[] repliesAtSecond = new long[ErrorCode.COUNT];
  private long secondEndsAtMs = -1;

  /**
   * Closes the current second once {@code nowMs} reaches its end: its counts become the last
   * second's. A second in which roll was not called (a stall) counts into the next one.
   */
  void roll(long nowMs) {
    if (secondEndsAtMs < 0) {
      secondEndsAtMs = nowMs + 1_000;
      return;
    }
    if (nowMs < secondEndsAtMs) {
      return;
    }
    for (int i = 0; i < requestsByCommand.length; i++) {
      requestsLastSecond[i] = requestsByCommand[i] - requestsAtSecond[i];
      requestsAtSecond[i] = requestsByCommand[i];
    }
    for (int i = 0; i < repliesByErrCode.length; i++) {
      repliesLastSecond[i] = repliesByErrCode[i] - repliesAtSecond[i];
      repliesAtSecond[i] = repliesByErrCode[i];
    }
    secondEndsAtMs = Math.max(secondEndsAtMs + 1_000, nowMs + 1);
  }

  /** Requests with this command code in the last whole second (codes outside 0..8 under 9). */
  public long requestsLastSecond(int command) {
    return requestsLastSecond[command];
  }

  public long repliesLastSecond(int errCode) {
    return repliesLastSecond[errCode];
  }

  void onReplicaReceived() {
    replicaReceived++;
  }

  /** Replication and repair messages received. */
  public long replicaReceived() {
    return replicaReceived;
  }

  void onBlockedSend() {
    blockedSends++;
  }

  /** Datagrams not sent because an operator blocked the link to their member. */
  public long blockedSends() {
    return blockedSends;
  }

  void onForwardSent() {
    forwardsSent++;
  }

  void onForwardReceived() {
    forwardsReceived++;
  }

  void onRoutingConflict() {
    routingConflicts++;
  }

  void onGossipSent() {
    gossipSent++;
  }

  void onGossipReceived() {
    gossipReceived++;
  }

  /** Client requests this node forwarded to the key's owner. */
  public long forwardsSent() {
    return forwardsSent;
  }

  /** Requests other members forwarded here to execute. */
  public long forwardsReceived() {
    return forwardsReceived;
  }

  /** Requests refused with OVERLOAD because they were forwarded {@code HOPS_MAX} times. */
  public long routingConflicts() {
    return routingConflicts;
  }

  public long gossipSent() {
    return gossipSent;
  }

  public long gossipReceived() {
    return gossipReceived;
  }

  void onDatagram() {
    datagramsReceived++;
  }

  void onDrop(DropReason reason) {
    droppedByReason[reason.ordinal()]++;
  }

  void onRequest(int command) {
    requestsByCommand[command >= 0 && command < Command.COUNT ? command : Command.COUNT]++;
  }

  /** A reply with {@code errCode} to a {@code command} request that arrived latencyMs ago. */
  void onReply(int command, int errCode, long latencyMs) {
    if (errCode >= 0 && errCode < ErrorCode.COUNT) {
      repliesByErrCode[errCode]++;
    }
    latencies.record(command, latencyMs);
  }

  /** Request latencies by command, from arrival to reply. */
  public Latencies latencies() {
    return latencies;
  }

  void onShed() {
    shed++;
  }

  /** Key requests answered OVERLOAD because the node's ticks ran late (starved of CPU). */
  public long shed() {
    return shed;
  }

  void onForgotten() {
    forgotten++;
  }

  /** Times this node forgot its data because the others had declared it dead. */
  public long forgotten() {
    return forgotten;
  }

  void onReplyCacheHit() {
    replyCacheHits++;
  }

  public long datagramsReceived() {
    return datagramsReceived;
  }

  public long dropped(DropReason reason) {
    return droppedByReason[reason.ordinal()];
  }

  public long droppedTotal() {
    long total = 0;
    for (long n : droppedByReason) {
      total += n;
    }
    return total;
  }

  /** Requests with this command code; codes outside 0..8 are counted together under 9. */
  public long requests(int command) {
    return requestsByCommand[command >= 0 && command < Command.COUNT ? command : Command.COUNT];
  }

  public long replies(int errCode) {
    return repliesByErrCode[errCode];
  }

  public long replyCacheHits() {
    return replyCacheHits;
  }

  // Client admin and per-source limits (ClientGate).
  private long sourceLimitedRequests;
  private long sourceLimitedReplyBytes;
  private long sourceLimitDropped;
  private long clientAdminRefused;
  private long replyToMemberDropped;

  void onSourceLimitedRequests() {
    sourceLimitedRequests++;
  }

  void onSourceLimitedReplyBytes() {
    sourceLimitedReplyBytes++;
  }

  void onSourceLimitDropped() {
    sourceLimitDropped++;
  }

  void onClientAdminRefused() {
    clientAdminRefused++;
  }

  void onReplyToMemberDropped() {
    replyToMemberDropped++;
  }

  /** Client requests refused because their source address was over its request budget. */
  public long sourceLimitedRequests() {
    return sourceLimitedRequests;
  }

  /** Client requests refused because their reply's address was over its reply-bytes budget. */
  public long sourceLimitedReplyBytes() {
    return sourceLimitedReplyBytes;
  }

  /**
   * Client requests over their source's budget dropped without a reply, because the source had
   * had its share of OVERLOAD replies.
   */
  public long sourceLimitDropped() {
    return sourceLimitDropped;
  }

  /** SHUTDOWN and WIPEOUT requests refused because client admin is off. */
  public long clientAdminRefused() {
    return clientAdminRefused;
  }

  /** Client requests dropped because their reply would have gone to a member of the cluster. */
  public long replyToMemberDropped() {
    return replyToMemberDropped;
  }
}
