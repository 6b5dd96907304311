package io.kvd.core;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import io.kvd.core.cluster.Membership;
import io.kvd.core.cluster.Ring;
import io.kvd.core.codec.ClientCodec;
import io.kvd.core.codec.ClientCodec.DropReason;
import io.kvd.core.replication.Repair;
import io.kvd.core.replication.Replication;
import io.kvd.proto.PeerProtocol.AdminReply;
import io.kvd.proto.PeerProtocol.AdminRequest;
import io.kvd.proto.PeerProtocol.Counter;
import io.kvd.proto.PeerProtocol.LatencyHistogram;
import io.kvd.proto.PeerProtocol.LinkFaults;
import io.kvd.proto.PeerProtocol.MemberView;
import io.kvd.proto.PeerProtocol.PeerMsg;
import io.kvd.proto.PeerProtocol.Update;
import java.util.Arrays;
import java.util.Locale;

/**
 * Answers the operator's admin requests (kvctl): a STATUS snapshot of the node, and fault
 * injection for failure tests: faults on every datagram the node sends (applied by the host's
 * transport through {@link Outbox#faults}) and blocked links to members (applied here, on both
 * directions, so that a partition needs no firewall). Every fault undoes itself at its expiry, so
 * a forgotten failure test cannot leave a cluster broken.
 *
 * <p>Part of the node's core: driven by its thread with the current time; it reads no clock.
 */
final class Admin {
  /** Longest expiry of an injected fault: 24 hours. */
  static final long EXPIRY_MS_MAX = 24L * 3600 * 1000;
  /** Longest mean delay and jitter of injected faults, in ms (the transport's own bound). */
  static final long FAULT_DELAY_MS_MAX = 10_000;

  /** What the core reads of its host to report: heap figures. */
  interface HostGauges {
    long heapUsedBytes();

    long heapMaxBytes();

    HostGauges NONE = new HostGauges() {
      @Override
      public long heapUsedBytes() {
        return 0;
      }

      @Override
      public long heapMaxBytes() {
        return 0;
      }
    };
  }

  private final Node node;
  private final Ring ring;
  private final Membership membership;
  /** Until when traffic with each member is dropped, in ms; 0 when not blocked. */
  private final long[] blockedUntilMs;
  private long blocksEndMs;
  private LinkFaults faults;
  private long faultsUntilMs;
  private long startMs = -1;
  HostGauges gauges = HostGauges.NONE;
  Node.HostCounters hostCounters = Node.HostCounters.NONE;
  NodeEvents events = NodeEvents.NONE;
  private final BlockingOutbox blocking = new BlockingOutbox();

  Admin(Node node, Ring ring, Membership membership) {
    this.node = node;
    this.ring = ring;
    this.membership = membership;
    this.blockedUntilMs = new long[ring.size()];
  }

  /** Expires faults; called on every tick. */
  void onTick(long nowMs, Outbox out) {
    if (startMs < 0) {
      startMs = nowMs;
    }
    if (faults != null && nowMs >= faultsUntilMs) {
      faults = null;
      out.faults(null);
      events.faultsCleared(0, true, nowMs);
    }
    if (blocksEndMs > 0 && nowMs >= blocksEndMs) {
      blocksEndMs = 0;
      events.linksUnblocked(0, new long[0], true, nowMs);
    }
  }

  /** True when datagrams from member {@code member} are to be dropped now. */
  boolean blocked(int member, long nowMs) {
    return member >= 0 && nowMs < blockedUntilMs[member];
  }

  /** True when some link may be blocked now (cheap: checked on every datagram). */
  boolean anyBlocked(long nowMs) {
    return nowMs < blocksEndMs;
  }

  /** {@code out}, or a view of it that drops datagrams to blocked members. */
  Outbox filter(Outbox out, long nowMs) {
    if (!anyBlocked(nowMs)) {
      return out;
    }
    blocking.target = out;
    blocking.nowMs = nowMs;
    return blocking;
  }

  void onRequest(long from, PeerMsg msg, long nowMs, Outbox out) {
    if (startMs < 0) {
      startMs = nowMs;
    }
    AdminRequest request;
    try {
      request = AdminRequest.parseFrom(msg.getPayload());
    } catch (InvalidProtocolBufferException e) {
      node.stats().onDrop(DropReason.MALFORMED);
      return;
    }
    // With a cluster key: only a fresh stamp, once (the tag was checked already).
    DropReason refused = node.auth().admitAdmin(request, nowMs);
    if (refused != null) {
      node.stats().onDrop(refused);
      return;
    }
    AdminReply reply;
    String refusal = check(request);
    if (refusal != null) {
      reply = AdminReply.newBuilder().setErrCode(1).setError(refusal).build();
    } else {
      apply(from, msg.getMessageID(), request, nowMs, out);
      reply = status(nowMs);
    }
    ByteString payload = reply.toByteString();
    out.send(from, node.auth().seal(PeerMsg.newBuilder()
        .setMessageID(msg.getMessageID())
        .setPayload(payload)
        .setCheckSum(ClientCodec.checksum(msg.getMessageID(), payload))
        .setAdmin(true)
        .build()
        .toByteArray()));
    if (refusal == null && request.getKind() == AdminRequest.Kind.SHUTDOWN) {
      out.shutdown(); // after the reply, which the shell sends before it exits
    }
  }

  /** Why {@code request} cannot be done, or null. */
  private String check(AdminRequest request) {
    switch (request.getKind()) {
      case FAULT_SET: {
        if (!request.hasFaults()) {
          return "FAULT_SET needs faults";
        }
        LinkFaults f = request.getFaults();
        if (!pct(f.getLossPct()) || !pct(f.getDuplicatePct()) || !pct(f.getReorderPct())) {
          return "fault percentages must be in 0..100";
        }
        if (f.getDelayMs() > FAULT_DELAY_MS_MAX || f.getJitterMs() > FAULT_DELAY_MS_MAX) {
          return "fault delay and jitter must be in 0.." + FAULT_DELAY_MS_MAX + " ms";
        }
        return checkExpiry(request);
      }
      case BLOCK:
        if (request.getPeersCount() == 0) {
          return "BLOCK needs peers";
        }
        for (long peer : request.getPeersList()) {
          if (ring.indexOf(peer) < 0 || ring.indexOf(peer) == membership.selfIndex()) {
            return "not another member of this node's cluster: " + Addresses.toString(peer);
          }
        }
        return checkExpiry(request);
      case UNBLOCK:
        for (long peer : request.getPeersList()) {
          if (ring.indexOf(peer) < 0) {
            return "not a member of this node's cluster: " + Addresses.toString(peer);
          }
        }
        return null;
      default:
        return null;
    }
  }

  private static String checkExpiry(AdminRequest request) {
    if (request.getExpiryMs() < 1 || request.getExpiryMs() > EXPIRY_MS_MAX) {
      return "expiry must be 1 ms to 24 h, got " + request.getExpiryMs() + " ms";
    }
    return null;
  }

  private static boolean pct(double value) {
    return value >= 0 && value <= 100;
  }

  private void apply(long from, ByteString id, AdminRequest request, long nowMs, Outbox out) {
    switch (request.getKind()) {
      case SHUTDOWN:
        events.adminCommand(from, "SHUTDOWN", nowMs);
        break;
      case WIPEOUT:
        if (node.wipeOnce(from, id, nowMs)) {
          events.adminCommand(from, "WIPEOUT", nowMs);
        }
        break;
      case FAULT_SET:
        faults = request.getFaults();
        faultsUntilMs = nowMs + request.getExpiryMs();
        out.faults(faults);
        events.faultsSet(from, faults, request.getExpiryMs(), nowMs);
        break;
      case FAULT_CLEAR:
        if (faults != null) {
          faults = null;
          out.faults(null);
          events.faultsCleared(from, false, nowMs);
        }
        break;
      case BLOCK:
        for (long peer : request.getPeersList()) {
          blockedUntilMs[ring.indexOf(peer)] = nowMs + request.getExpiryMs();
        }
        blocksEndMs = Arrays.stream(blockedUntilMs).max().orElse(0);
        events.linksBlocked(from, peers(request), request.getExpiryMs(), nowMs);
        break;
      case UNBLOCK:
        if (request.getPeersCount() == 0) {
          Arrays.fill(blockedUntilMs, 0);
        }
        for (long peer : request.getPeersList()) {
          blockedUntilMs[ring.indexOf(peer)] = 0;
        }
        blocksEndMs = Arrays.stream(blockedUntilMs).max().orElse(0);
        events.linksUnblocked(from, peers(request), false, nowMs);
        break;
      default:
        break;
    }
  }

  private static long[] peers(AdminRequest request) {
    long[] peers = new long[request.getPeersCount()];
    for (int i = 0; i < peers.length; i++) {
      peers[i] = request.getPeers(i);
    }
    return peers;
  }

  AdminReply status(long nowMs) {
    NodeStats stats = node.stats();
    AdminReply.Builder reply = AdminReply.newBuilder()
        .setErrCode(0)
        .setSelf(ring.member(membership.selfIndex()))
        .setPid(node.config().pid())
        .setUptimeMs(Math.max(0, nowMs - Math.max(0, startMs)))
        .setVirtualNodes(ring.virtualNodesPerMember())
        .setStoreKeys(node.store().size())
        .setStoreBytes(node.store().length())
        .setStoreBytesMax(node.config().storeLengthMax())
        .setReplyCacheEntries(node.replyCache().size())
        .setReplyCacheCapacity(node.replyCache().capacity())
        .setHeapUsedBytes(gauges.heapUsedBytes())
        .setHeapMaxBytes(gauges.heapMaxBytes());
    for (int m = 0; m < ring.size(); m++) {
      MemberView.Builder view = MemberView.newBuilder()
          .setAddress(ring.member(m))
          .setStatus(Update.Status.valueOf(membership.status(m).name()))
          .setIncarnation(membership.incarnation(m));
      long heardMs = membership.lastHeardMs(m);
      if (heardMs >= 0 && m != membership.selfIndex()) {
        view.setLastHeardAgoMs(Math.max(0, nowMs - heardMs));
      }
      if (blocked(m, nowMs)) {
        view.setBlockedRemainingMs(blockedUntilMs[m] - nowMs);
      }
      reply.addMembers(view);
    }
    for (int c = 0; c <= Command.COUNT; c++) {
      reply.addRequests(stats.requests(c));
      reply.addRequestsLastSecond(stats.requestsLastSecond(c));
    }
    for (int e = 0; e < ErrorCode.COUNT; e++) {
      reply.addReplies(stats.replies(e));
      reply.addRepliesLastSecond(stats.repliesLastSecond(e));
    }
    for (DropReason reason : DropReason.values()) {
      counter(reply, "dropped." + reason.name().toLowerCase(Locale.ROOT),
          stats.dropped(reason));
    }
    counter(reply, "datagrams.received", stats.datagramsReceived());
    counter(reply, "replyCache.hits", stats.replyCacheHits());
    counter(reply, "requests.shed", stats.shed());
    counter(reply, "forwards.sent", stats.forwardsSent());
    counter(reply, "forwards.received", stats.forwardsReceived());
    counter(reply, "forwards.routingConflicts", stats.routingConflicts());
    counter(reply, "gossip.sent", stats.gossipSent());
    counter(reply, "gossip.received", stats.gossipReceived());
    counter(reply, "membership.declaredDeadSelf", membership.declaredDeadCount());
    counter(reply, "membership.viewVersion", membership.viewVersion());
    Replication replication = node.replication();
    counter(reply, "replication.sent", replication.messagesSent());
    counter(reply, "replication.sentBytes", replication.bytesSent());
    counter(reply, "replication.received", stats.replicaReceived());
    counter(reply, "replication.operationsInFlight", replication.operations());
    counter(reply, "replication.refusedNoMajority", replication.refusedNoMajority());
    counter(reply, "replication.refusedNoQuorum", replication.refusedNoQuorum());
    counter(reply, "replication.writesAbandoned", replication.writesAbandoned());
    counter(reply, "replication.writeBacks", replication.writeBacks());
    counter(reply, "replication.dataForgotten", replication.dataForgotten());
    Repair repair = replication.repair();
    counter(reply, "repair.cyclesCompleted", repair.cyclesCompleted());
    counter(reply, "repair.lastCycleMs", Math.max(0, repair.lastCycleMs()));
    counter(reply, "repair.roundsCompleted", repair.roundsCompleted());
    counter(reply, "repair.keysPulled", repair.keysPulled());
    counter(reply, "repair.bytesPulled", repair.bytesPulled());
    counter(reply, "repair.keysPushed", repair.keysPushed());
    counter(reply, "repair.bytesPushed", repair.bytesPushed());
    counter(reply, "repair.pushesQueued", repair.pushesQueued());
    counter(reply, "repair.pushesDropped", repair.pushesDropped());
    counter(reply, "repair.handedOff", repair.handedOff());
    counter(reply, "repair.tombstonesExpired", repair.tombstonesExpired());
    counter(reply, "faults.blockedSends", stats.blockedSends());
    counter(reply, "dropped.source_limit", stats.sourceLimitDropped());
    counter(reply, "dropped.reply_to_member", stats.replyToMemberDropped());
    counter(reply, "sourceLimits.limitedRequests", stats.sourceLimitedRequests());
    counter(reply, "sourceLimits.limitedReplyBytes", stats.sourceLimitedReplyBytes());
    counter(reply, "sourceLimits.tableBytes",
        node.sourceLimits() == null ? 0 : node.sourceLimits().length());
    counter(reply, "clientAdmin.refused", stats.clientAdminRefused());
    hostCounters.report((name, value) -> counter(reply, name, value));
    Latencies latencies = stats.latencies();
    for (int i = 0; i < Latencies.boundsCount(); i++) {
      reply.addLatencyBoundsMs(Latencies.boundMs(i));
    }
    for (int c = 0; c <= Command.COUNT; c++) {
      LatencyHistogram.Builder histogram = LatencyHistogram.newBuilder().setCommand(c)
          .setSumMs(latencies.sumMs(c));
      for (int b = 0; b < Latencies.buckets(); b++) {
        histogram.addCounts(latencies.count(c, b));
      }
      reply.addLatency(histogram);
    }
    if (faults != null) {
      reply.setFaults(faults).setFaultsRemainingMs(Math.max(0, faultsUntilMs - nowMs));
    }
    return reply.build();
  }

  private static void counter(AdminReply.Builder reply, String name, long value) {
    reply.addCounters(Counter.newBuilder().setName(name).setValue(Math.max(0, value)));
  }

  /** Drops datagrams to blocked members; everything else goes to the target outbox. */
  private final class BlockingOutbox implements Outbox {
    Outbox target;
    long nowMs;

    @Override
    public void send(long address, byte[] datagram) {
      if (blocked(ring.indexOf(address), nowMs)) {
        node.stats().onBlockedSend();
        return;
      }
      target.send(address, datagram);
    }

    @Override
    public void shutdown() {
      target.shutdown();
    }

    @Override
    public void faults(LinkFaults value) {
      target.faults(value);
    }
  }
}
