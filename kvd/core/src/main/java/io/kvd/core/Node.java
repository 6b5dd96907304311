package io.kvd.core;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import com.google.protobuf.InvalidProtocolBufferException;
import io.kvd.core.auth.ClusterKey;
import io.kvd.core.auth.PeerAuth;
import io.kvd.core.cluster.ClusterConfig;
import io.kvd.core.cluster.Membership;
import io.kvd.core.cluster.Ring;
import io.kvd.core.codec.ClientCodec;
import io.kvd.core.codec.ClientCodec.DropReason;
import io.kvd.core.codec.ClientCodec.DecodeException;
import io.kvd.core.replication.Replication;
import io.kvd.core.store.Store;
import io.kvd.proto.ClientProtocol.KVRequest;
import io.kvd.proto.ClientProtocol.KVResponse;
import io.kvd.proto.PeerProtocol.AdminReply;
import io.kvd.proto.PeerProtocol.Gossip;
import io.kvd.proto.PeerProtocol.PeerMsg;
import io.kvd.proto.PeerProtocol.Replica;
import java.util.function.LongSupplier;
import java.util.function.ObjLongConsumer;

/**
 * One kvd node's logic, free of I/O: it is fed datagrams and the current time, and writes replies
 * to an {@link Outbox}. A single thread owns it (the Netty event loop in kvd, the simulator's loop
 * in tests); nothing here blocks, starts a thread or reads a clock.
 *
 * <p>Every datagram is parsed as a {@link PeerMsg}, a superset of the client's Msg: a gossip
 * message goes to {@link Membership}; anything else is a client request, direct or forwarded by
 * another member on behalf of the client whose address it carries.
 *
 * <p>Routing: a request for a key whose owner on the ring (among the members believed live) is
 * another member is forwarded to it unchanged, with the client's address; the owner executes it
 * and replies to the client directly. A request is forwarded at most {@link #HOPS_MAX} times;
 * when views disagree beyond that, the client gets OVERLOAD and retries after overloadWaitTime.
 *
 * <p>Request handling at the executing node, in order: dispatch on
 * the command; for a mutating command (PUT, REMOVE, WIPEOUT) answer from the reply cache when the
 * same sender retries the same messageID, else make room in the cache first (OVERLOAD if there is
 * none, before anything executes), execute, remember the reply, send it.
 */
public final class Node {
  /** Forwards of one request at most; beyond it the views of the members disagree. */
  public static final int HOPS_MAX = 2;
  /** A gap this long between a node's events means it was stalled (ticks come every 10 ms). */
  public static final long STALL_GAP_MS = 1_000;
  /** After WIPEOUT, repair waits this long before pulling, so that a sweep of WIPEOUTs sticks. */
  public static final long WIPE_QUIET_MS = 5_000;
  /**
   * A tick this late (ticks come every 10 ms) means the node is starved of CPU. In a cluster it
   * then answers key requests OVERLOAD for {@link #SHED_MS}, so that membership and replication
   * traffic gets through: starved members miss probes, get declared dead, and every view change
   * costs repair and readiness, a spiral that shedding load early avoids.
   */
  public static final long TICK_LATE_MS = 50;
  public static final long SHED_MS = 250;
  public static final int SHED_WAIT_MS = 100;
  /**
   * Client requests read this soon after a stall are dropped, in a cluster (see
   * DropReason.STALE_AFTER_STALL); a node alone has no replicas for a stale write to undo.
   */
  public static final long STALE_WINDOW_MS = 100;

  private final NodeConfig config;
  private final Store store;
  private final ReplyCache replies;
  private final NodeStats stats = new NodeStats();
  /**
   * Where replies are encoded before the outbox copies them out (sendCopy): the largest reply, a
   * GET of a 10,000-byte value, is about 10,040 bytes; a larger one gets its own array.
   */
  private final byte[] replyScratch = new byte[16 * 1024];
  private final Ring ring;
  private final Membership membership;
  private final int self;
  private long lastNowMs;
  private Outbox gossipOut;
  private final Membership.Sender gossipSender = this::sendGossip;
  private final Replication replication;
  private long declaredDeadSeen;
  private long staleUntilMs = -1;
  private long shedUntilMs = -1;
  private long lastTickMs = -1;
  private final Admin admin;
  private final ClientGate gate;
  private NodeEvents events = NodeEvents.NONE;
  // The client request being handled by onDatagram: its command, and when it arrived.
  private int requestCommand;
  private long requestArrivedMs;

  /** A node alone: it owns every key. */
  public Node(NodeConfig config) {
    this(config, ClusterConfig.alone(0));
  }

  public Node(NodeConfig config, ClusterConfig cluster) {
    this.config = config.validate();
    this.ring = new Ring(cluster.members(), cluster.virtualNodesPerMember());
    this.membership = new Membership(ring, cluster.self(), cluster.incarnationInitial(),
        cluster.membership(), cluster.seed());
    this.self = ring.indexOf(cluster.self());
    this.store = new Store(config.hashSeed());
    this.replies = new ReplyCache(config.replyCacheLengthMax(), config.replyRetentionMs(),
        Hashing.mix64(config.hashSeed() + 1));
    this.replication = new Replication(ring, membership, store, replies, this.config,
        cluster.replication(), this::sendReply);
    this.admin = new Admin(this, ring, membership);
    this.gate = new ClientGate(this.config, ring, stats, this::send);
  }

  /** Where STATUS reads the heap figures from (the JVM's in kvd; none in the simulator). */
  public void setHeapGauges(LongSupplier usedBytes, LongSupplier maxBytes) {
    admin.gauges = new Admin.HostGauges() {
      @Override
      public long heapUsedBytes() {
        return usedBytes.getAsLong();
      }

      @Override
      public long heapMaxBytes() {
        return maxBytes.getAsLong();
      }
    };
  }

  /**
   * Where the node reports membership changes, repair cycles, operator faults and errors (see
   * {@link NodeEvents}); {@link NodeEvents#NONE} by default. Set before the first event.
   */
  public void setEvents(NodeEvents value) {
    events = value == null ? NodeEvents.NONE : value;
    membership.setEvents(events);
    replication.setEvents(events);
    admin.events = events;
  }

  /** Where the node reports its events. */
  public NodeEvents events() {
    return events;
  }

  // Cluster key (io.kvd.core.auth): tags on internal messages, stamps on admin requests.
  private final PeerAuth auth = new PeerAuth();

  /**
   * The cluster key (null: none, the default): with one, the node tags every internal message it
   * sends and drops internal messages without a valid tag and admin requests with a stale or
   * replayed stamp (see {@link PeerAuth}); client requests need no tag. Set before the first
   * datagram.
   */
  public void setClusterKey(ClusterKey key) {
    auth.setKey(key);
    replication.setAuth(auth);
  }

  /**
   * The node's wall clock, as data: wall-clock ms since the epoch minus the node's own ms (its
   * nowMs), which the host keeps current (0 by default: the wall clock is nowMs). Admin stamps are
   * checked against it.
   */
  public void setWallClockOffsetMs(long offsetMs) {
    auth.setWallClockOffsetMs(offsetMs);
  }

  PeerAuth auth() {
    return auth;
  }

  /** The host's own counters, read on the node's thread when a STATUS snapshot is taken. */
  public interface HostCounters {
    HostCounters NONE = counter -> { };

    /** Reports each counter, by name and value, to {@code counter}. */
    void report(ObjLongConsumer<String> counter);
  }

  /** The host's own counters (its transport's drops, say), added to every STATUS snapshot. */
  public void setHostCounters(HostCounters counters) {
    admin.hostCounters = counters == null ? HostCounters.NONE : counters;
  }

  /** What an admin STATUS request would answer now. */
  public AdminReply status(long nowMs) {
    return admin.status(nowMs);
  }

  public Replication replication() {
    return replication;
  }

  public NodeConfig config() {
    return config;
  }

  public NodeStats stats() {
    return stats;
  }

  public Store store() {
    return store;
  }

  public ReplyCache replyCache() {
    return replies;
  }

  public Ring ring() {
    return ring;
  }

  public Membership membership() {
    return membership;
  }

  /** The per-source limits' table, or null when they are off (see {@link ClientLimits}). */
  public SourceLimits sourceLimits() {
    return gate.sources();
  }

  /**
   * Handles one datagram from {@code from} (see {@link Addresses}) at {@code nowMs}. An exception
   * means a bug or a broken invariant: it is reported to the events, then thrown to the host.
   * The datagram is parsed in place (its fields are views of {@code datagram}, so a PUT's value
   * is not copied until it is stored); nothing keeps a view past this call, so the host may
   * reuse the array at once.
   */
  public void onDatagram(long from, byte[] datagram, int length, long nowMs, Outbox out) {
    try {
      handleDatagram(from, datagram, length, nowMs, out);
    } catch (RuntimeException e) {
      events.internalError("datagram", e, nowMs);
      throw e;
    }
  }

  private void handleDatagram(long from, byte[] datagram, int length, long nowMs, Outbox out) {
    advanceTime(nowMs);
    stats.onDatagram();
    if (gate.dropsUnparsed(from, nowMs)) {
      return; // a source past its request budget and its OVERLOAD replies (ClientGate)
    }
    PeerMsg msg;
    try {
      msg = ClientCodec.decodePeerMsgAliased(datagram, length, NodeConfig.DATAGRAM_LENGTH_MAX,
          NodeConfig.MESSAGE_ID_LENGTH_MAX);
    } catch (DecodeException e) {
      stats.onDrop(e.reason());
      return;
    }
    DropReason unauthenticated = auth.check(msg, datagram, length);
    if (unauthenticated != null) {
      stats.onDrop(unauthenticated);
      return;
    }
    if (msg.getAdmin()) {
      if (ring.indexOf(from) >= 0) {
        // Members send no admin requests; one "from" a member is spoofed, or is a member's admin
        // reply (which parses as a STATUS request without a key): answering it would set two
        // members trading replies.
        stats.onReplyToMemberDropped();
        return;
      }
      admin.onRequest(from, msg, nowMs, out);
      return;
    }
    if (admin.anyBlocked(nowMs)) {
      if (admin.blocked(ring.indexOf(from), nowMs)) {
        stats.onDrop(DropReason.BLOCKED);
        return;
      }
      out = admin.filter(out, nowMs);
    }
    if (msg.getGossip()) {
      onGossip(from, msg, nowMs, out);
      return;
    }
    if (msg.getReplica()) {
      onReplica(from, msg, nowMs, out);
      return;
    }
    KVRequest request;
    try {
      request = ClientCodec.decodeRequest(msg.getPayload());
    } catch (DecodeException e) {
      stats.onDrop(e.reason());
      return;
    }
    if (nowMs < staleUntilMs) {
      stats.onDrop(DropReason.STALE_AFTER_STALL);
      return;
    }
    long sender = from;
    if (msg.hasClientAddress()) {
      stats.onForwardReceived();
      from = msg.getClientAddress();
    }
    ByteString id = msg.getMessageID();
    int command = request.getCommand();
    stats.onRequest(command);
    requestCommand = command;
    requestArrivedMs = nowMs;
    if (!gate.admit(sender, from, id, command, nowMs, out)) {
      return; // refused by client admin or per-source limits: answered or dropped (ClientGate)
    }
    // The key is copied out of the request once, for routing and the store; null if invalid.
    byte[] key = null;
    if (command == Command.PUT || command == Command.GET || command == Command.REMOVE) {
      if (nowMs < shedUntilMs) {
        stats.onShed();
        send(from, id, KVResponse.newBuilder().setErrCode(ErrorCode.OVERLOAD)
            .setOverloadWaitTime(SHED_WAIT_MS).build(), out);
        return;
      }
      key = validKey(request) ? request.getKey().toByteArray() : null;
      if (key != null && routeElsewhere(from, msg, key, out)) {
        return;
      }
    }
    switch (command) {
      case Command.PUT:
        onPut(from, id, key, request, nowMs, out);
        break;
      case Command.GET:
        onGet(from, id, key, nowMs, out);
        break;
      case Command.REMOVE:
        onRemove(from, id, key, nowMs, out);
        break;
      case Command.SHUTDOWN:
        onShutdown(from, id, out);
        break;
      case Command.WIPEOUT:
        onWipeout(from, id, nowMs, out);
        break;
      case Command.IS_ALIVE:
        reply(from, id, ErrorCode.SUCCESS, out);
        break;
      case Command.GET_PID:
        send(from, id, KVResponse.newBuilder().setErrCode(ErrorCode.SUCCESS)
            .setPid((int) config.pid()).build(), out);
        break;
      case Command.GET_MEMBERSHIP_COUNT:
        send(from, id, KVResponse.newBuilder().setErrCode(ErrorCode.SUCCESS)
            .setMembershipCount(membership.liveCount()).build(), out);
        break;
      default:
        reply(from, id, ErrorCode.UNRECOGNIZED_COMMAND, out);
        break;
    }
  }

  /**
   * Periodic work: expire the reply cache; run membership's timers. An exception is reported to
   * the events, then thrown, as in {@link #onDatagram}.
   */
  public void onTick(long nowMs, Outbox out) {
    try {
      handleTick(nowMs, out);
    } catch (RuntimeException e) {
      events.internalError("tick", e, nowMs);
      throw e;
    }
  }

  private void handleTick(long nowMs, Outbox out) {
    advanceTime(nowMs);
    if (lastTickMs >= 0 && nowMs - lastTickMs > TICK_LATE_MS && ring.size() > 1) {
      shedUntilMs = nowMs + SHED_MS;
    }
    lastTickMs = nowMs;
    stats.roll(nowMs);
    admin.onTick(nowMs, out);
    out = admin.filter(out, nowMs);
    replies.expire(nowMs);
    gossipOut = out;
    membership.onTick(nowMs, gossipSender);
    replication.onTick(nowMs, out);
  }

  private void onReplica(long from, PeerMsg msg, long nowMs, Outbox out) {
    int member = ring.indexOf(from);
    stats.onReplicaReceived();
    if (member < 0 || member == membership.selfIndex()) {
      stats.onDrop(DropReason.NOT_A_MEMBER);
      return;
    }
    Replica replica;
    try {
      replica = Replica.parseFrom(msg.getPayload());
    } catch (InvalidProtocolBufferException e) {
      replica = null;
    }
    if (replica == null || replica.getStamp() < 0) {
      // Stamps are (counter << 16) | writer, below 2^63 (the counter cannot reach 2^47), and
      // compared signed; a fixed64 at or above 2^63 is forged or corrupt.
      stats.onDrop(DropReason.MALFORMED);
      return;
    }
    replication.onMessage(member, replica, nowMs, out);
  }

  /**
   * Forwards a request whose key another live member owns; returns false when this node owns it
   * and must execute it.
   */
  private boolean routeElsewhere(long client, PeerMsg msg, byte[] key, Outbox out) {
    int owner = ring.owner(Ring.keyToken(key, 0, key.length), membership.live());
    if (owner == self || owner < 0) {
      return false;
    }
    if (msg.getHops() >= HOPS_MAX) {
      stats.onRoutingConflict();
      send(client, msg.getMessageID(), KVResponse.newBuilder().setErrCode(ErrorCode.OVERLOAD)
          .setOverloadWaitTime(config.overloadWaitTimeMsMin()).build(), out);
      return true;
    }
    stats.onForwardSent();
    out.send(ring.member(owner), auth.seal(PeerMsg.newBuilder()
        .setMessageID(msg.getMessageID())
        .setPayload(msg.getPayload())
        .setCheckSum(msg.getCheckSum())
        .setClientAddress(client)
        .setHops(msg.getHops() + 1)
        .build()
        .toByteArray()));
    return true;
  }

  private void onGossip(long from, PeerMsg msg, long nowMs, Outbox out) {
    if (!fromOtherMember(from)) {
      stats.onDrop(DropReason.NOT_A_MEMBER);
      return;
    }
    Gossip gossip;
    try {
      gossip = Gossip.parseFrom(msg.getPayload());
    } catch (InvalidProtocolBufferException e) {
      stats.onDrop(DropReason.MALFORMED);
      return;
    }
    stats.onGossipReceived();
    gossipOut = out;
    membership.onGossip(from, gossip, nowMs, gossipSender);
    if (membership.declaredDeadCount() != declaredDeadSeen) {
      // Others declared this node dead and may have written its keys elsewhere meanwhile: it
      // must not vouch for any key until repair has caught it up. Its data stays (stamps keep
      // stale copies from winning); only a long absence makes it forget the data too.
      declaredDeadSeen = membership.declaredDeadCount();
      replication.onDeclaredDead(nowMs);
      stats.onForgotten();
    }
  }

  /** Whether {@code from} is the address of a member of the cluster other than this node. */
  private boolean fromOtherMember(long from) {
    int member = ring.indexOf(from);
    return member >= 0 && member != membership.selfIndex();
  }

  private void sendGossip(long to, Gossip gossip) {
    ByteString payload = gossip.toByteString();
    stats.onGossipSent();
    gossipOut.send(to, auth.seal(PeerMsg.newBuilder()
        .setMessageID(ByteString.EMPTY)
        .setPayload(payload)
        .setCheckSum(ClientCodec.checksum(ByteString.EMPTY, payload))
        .setGossip(true)
        .build()
        .toByteArray()));
  }

  private void onPut(long from, ByteString id, byte[] key, KVRequest request, long nowMs,
      Outbox out) {
    if (key == null) {
      reply(from, id, ErrorCode.INVALID_KEY, out);
      return;
    }
    ByteString value = request.getValue();
    if (value.size() > NodeConfig.VALUE_LENGTH_MAX) {
      reply(from, id, ErrorCode.INVALID_VALUE, out);
      return;
    }
    if (answeredFromCache(from, id, out) || !reserveReply(from, id, nowMs, out)) {
      return;
    }
    replication.submit(from, id, Command.PUT, key, value.toByteArray(), request.getVersion(),
        nowMs, out);
  }

  private void onGet(long from, ByteString id, byte[] key, long nowMs, Outbox out) {
    if (key == null) {
      reply(from, id, ErrorCode.INVALID_KEY, out);
      return;
    }
    replication.submit(from, id, Command.GET, key, null, 0, nowMs, out);
  }

  private void onRemove(long from, ByteString id, byte[] key, long nowMs, Outbox out) {
    if (key == null) {
      reply(from, id, ErrorCode.INVALID_KEY, out);
      return;
    }
    if (answeredFromCache(from, id, out) || !reserveReply(from, id, nowMs, out)) {
      return;
    }
    replication.submit(from, id, Command.REMOVE, key, null, 0, nowMs, out);
  }

  private void onWipeout(long from, ByteString id, long nowMs, Outbox out) {
    if (answeredFromCache(from, id, out) || !reserveReply(from, id, nowMs, out)) {
      return;
    }
    wipe(nowMs);
    remember(from, id, ErrorCode.SUCCESS, nowMs, out);
  }

  /**
   * An admin WIPEOUT: wipes unless request {@code id} from {@code from} was done before (the
   * reply cache remembers it, as for a client's WIPEOUT, when it has room). True when it wiped.
   */
  boolean wipeOnce(long from, ByteString id, long nowMs) {
    boolean remembered = id.size() <= NodeConfig.MESSAGE_ID_LENGTH_MAX;
    if (remembered && replies.lookup(from, ReplyCache.idHigh(id), ReplyCache.idLow(id),
        id.size()) != ReplyCache.MISS) {
      return false;
    }
    wipe(nowMs);
    if (remembered && replies.hasRoom(nowMs)) {
      replies.insert(from, ReplyCache.idHigh(id), ReplyCache.idLow(id), id.size(),
          ErrorCode.SUCCESS, nowMs);
    }
    return true;
  }

  private void wipe(long nowMs) {
    // This node only. It no longer vouches for any key until repair has caught it up, which
    // refills it from the other replicas unless they are wiped too.
    store.clear();
    replication.onWiped(nowMs, WIPE_QUIET_MS);
  }

  private void onShutdown(long from, ByteString id, Outbox out) {
    reply(from, id, ErrorCode.SUCCESS, out);
    out.shutdown();
  }

  private static boolean validKey(KVRequest request) {
    int length = request.getKey().size();
    return request.hasKey() && length >= 1 && length <= NodeConfig.KEY_LENGTH_MAX;
  }

  private boolean answeredFromCache(long from, ByteString id, Outbox out) {
    int cached = replies.lookup(from, ReplyCache.idHigh(id), ReplyCache.idLow(id), id.size());
    if (cached == ReplyCache.MISS) {
      return false;
    }
    stats.onReplyCacheHit();
    reply(from, id, cached, out);
    return true;
  }

  /** True when the reply cache can take this request's reply; else answers OVERLOAD. */
  private boolean reserveReply(long from, ByteString id, long nowMs, Outbox out) {
    // Room for this reply and for those of the writes still in progress, which are remembered
    // when they complete.
    if (replies.hasRoom(nowMs) && replies.size() + replication.operations() < replies.capacity()) {
      return true;
    }
    long waitMs = Math.max(config.overloadWaitTimeMsMin(), replies.waitMsUntilRoom(nowMs));
    send(from, id, KVResponse.newBuilder()
        .setErrCode(ErrorCode.OVERLOAD)
        .setOverloadWaitTime((int) Math.min(Integer.MAX_VALUE, waitMs))
        .build(), out);
    return false;
  }

  private void remember(long from, ByteString id, int errCode, long nowMs, Outbox out) {
    replies.insert(from, ReplyCache.idHigh(id), ReplyCache.idLow(id), id.size(), errCode, nowMs);
    reply(from, id, errCode, out);
  }

  private void reply(long from, ByteString id, int errCode, Outbox out) {
    send(from, id, KVResponse.newBuilder().setErrCode(errCode).build(), out);
  }

  /** Answers the client request being handled. */
  private void send(long to, ByteString id, KVResponse response, Outbox out) {
    sendReply(to, id, requestCommand, requestArrivedMs, response, out);
  }

  /** Answers a client's {@code command} request that arrived at {@code arrivedMs}. */
  private void sendReply(long to, ByteString id, int command, long arrivedMs,
      KVResponse response, Outbox out) {
    stats.onReply(command, response.getErrCode(), lastNowMs - arrivedMs);
    int length = out.sendMsg(to, id, response, replyScratch);
    gate.onReplySent(to, length, lastNowMs);
  }

  private void advanceTime(long nowMs) {
    Invariants.check(nowMs >= lastNowMs, "time went back from %d to %d ms", lastNowMs, nowMs);
    if (lastNowMs > 0 && nowMs - lastNowMs >= STALL_GAP_MS) {
      events.stalled(nowMs - lastNowMs, nowMs);
      if (ring.size() > 1) {
        staleUntilMs = nowMs + STALE_WINDOW_MS;
        replication.noteGap(nowMs - lastNowMs, nowMs);
      }
    }
    lastNowMs = nowMs;
  }


}
