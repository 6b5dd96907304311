package io.kvd.core.replication;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import io.kvd.core.Command;
import io.kvd.core.ErrorCode;
import io.kvd.core.Invariants;
import io.kvd.core.NodeConfig;
import io.kvd.core.NodeEvents;
import io.kvd.core.Outbox;
import io.kvd.core.ReplyCache;
import io.kvd.core.auth.PeerAuth;
import io.kvd.core.cluster.Membership;
import io.kvd.core.cluster.Ring;
import io.kvd.core.store.Store;
import io.kvd.proto.ClientProtocol.KVResponse;
import io.kvd.proto.PeerProtocol.Replica;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * Replication of PUT, GET and REMOVE over the key's replica set: its primary (the first live
 * member clockwise on the ring) and the next {@code replicationFactor - 1} distinct live members.
 *
 * <p><b>Coordinator.</b> The primary coordinates every request for its keys, one at a time per
 * key (later requests for the key queue behind). Each write gets a stamp, {@code (counter << 16) |
 * writer}, above every stamp the coordinator has seen for the key, so a key's writes are totally
 * ordered and replicas keep the highest stamp they are sent.
 * <ul>
 *   <li><b>Write</b> (PUT, REMOVE): the coordinator stores the new record and sends it to every
 *       other replica; it acknowledges the client only when <em>every</em> member of the key's
 *       current replica set holds it. A replica that does not answer delays the write until the
 *       failure detector removes it from the set (its replacement then receives the write). So
 *       every acknowledged write is on every replica that was in the set when it was acknowledged,
 *       and a later primary, which was in that set or caught up from it, has it.
 *   <li><b>Read</b> (first, for every request): the coordinator asks the replicas for their
 *       stamp and needs a majority of the set (itself included) that are
 *       {@link Repair#readyFor ready} for the key; it takes the highest stamp among all answers,
 *       so a write's new stamp exceeds every acknowledged one even when the coordinator's own
 *       copy is stale. A GET answers the highest record; if fewer than a majority hold it (a
 *       write in progress or a replica behind) it writes the record back to a majority first, so
 *       no later read can return an older one. A replica that already answered a write's request
 *       (its reply cache has it) says so, and the coordinator answers that instead of executing.
 * </ul>
 * A node that sees no majority of the static member list live refuses everything (the minority
 * side of a partition must not answer), as does a coordinator that cannot gather a read quorum
 * within {@code readTimeoutMs}: it answers OVERLOAD with a wait, having changed nothing. A write
 * that cannot reach every replica within {@code writeTimeoutMs} is abandoned without an answer:
 * its outcome is unknown to the client, and repair spreads it if any replica kept it.
 *
 * <p><b>At-most-once across replicas.</b> A write carries its client request's identity and
 * result, and replicas put them in their reply caches, so that a retry coordinated by the next
 * primary is answered, not executed again.
 */
public final class Replication {
  /**
   * How the host answers a client: the reply to a {@code command} request that arrived at
   * {@code arrivedAtMs} (so the host can count its latency).
   */
  public interface Replier {
    void send(long client, ByteString messageId, int command, long arrivedAtMs,
        KVResponse response, Outbox out);
  }

  private static final int PHASE_READ = 1;
  private static final int PHASE_WRITE = 2;

  private final Peers peers;
  private final Repair repair;
  private final ReplicationConfig config;
  private final NodeConfig nodeConfig;
  private final ReplyCache replies;
  private final Replier replier;
  private NodeEvents events = NodeEvents.NONE;
  private final Map<ByteBuffer, Op> active = new HashMap<>();
  private final Map<Long, Op> byId = new HashMap<>();
  private final ArrayList<Op> due = new ArrayList<>();
  private final int[] set;
  private int ops;
  private long nextOpId = 1;

  // Counters.
  private long refusedNoMajority;
  private long refusedNoQuorum;
  private long writesAbandoned;
  private long writeBacks;
  private long duplicatesDropped;

  /** One client request at its coordinator. */
  /** Read replies an op keeps at most. */
  private static final int RESPONDENTS_MAX = 8;
  /** Write acknowledgements (and OUT_OF_SPACE refusals) an op keeps at most. */
  private static final int ACKS_MAX = 16;
  private static final int[] NO_MEMBERS = new int[0];
  private static final long[] NO_STAMPS = new long[0];
  private static final boolean[] NO_FLAGS = new boolean[0];

  private static final class Op {
    final long id;
    final int command;
    final byte[] key;
    final ByteBuffer keyRef;
    final long token;
    final long client;
    final ByteString messageId;
    final byte[] value;
    final int version;
    Op next;
    /** For the head of a key's queue: the last op queued behind it. */
    Op tail;
    final long queuedAtMs;
    /** A replica had already answered this request (its cached errCode), or -1. */
    int cachedResult = -1;
    /** A replica has no room for this PUT's value. */
    boolean noRoom;

    int phase;
    long phaseStartedMs;
    long nextSendMs;
    // READ: who answered, with what stamp, and whether it was ready; at most RESPONDENTS_MAX,
    // in arrays grown on first use (a single node's reads never use them).
    int[] respondents = NO_MEMBERS;
    long[] stamps = NO_STAMPS;
    boolean[] ready = NO_FLAGS;
    int respondentCount;
    long maxStamp;
    byte[] maxRecord;
    // WRITE: the record and who holds it.
    byte[] record;
    long recordStamp;
    boolean needAll;
    int result;
    int[] acked = NO_MEMBERS;
    int ackedCount;
    int[] refusedNoRoom = NO_MEMBERS;
    int refusedCount;

    Op(long id, int command, byte[] key, ByteBuffer keyRef, long client, ByteString messageId,
        byte[] value, int version, long queuedAtMs) {
      this.id = id;
      this.queuedAtMs = queuedAtMs;
      this.command = command;
      this.key = key;
      this.keyRef = keyRef;
      this.token = Peers.tokenOf(key);
      this.client = client;
      // A copy: the caller's may be a view of a datagram array the host reuses (Node.onDatagram).
      this.messageId = UnsafeByteOperations.unsafeWrap(messageId.toByteArray());
      this.value = value;
      this.version = version;
    }
  }

  public Replication(Ring ring, Membership membership, Store store, ReplyCache replies,
      NodeConfig nodeConfig, ReplicationConfig config, Replier replier) {
    this.config = config.validate();
    this.nodeConfig = nodeConfig;
    this.replies = replies;
    this.replier = replier;
    this.peers = new Peers(ring, membership, store, membership.selfIndex(),
        config.replicationFactor());
    this.repair = new Repair(peers, config, nodeConfig.storeLengthMax());
    this.set = new int[config.replicationFactor()];
  }

  public Repair repair() {
    return repair;
  }

  /** Where dropped data and completed repair cycles are reported. */
  public void setEvents(NodeEvents value) {
    events = value;
    repair.setEvents(value);
  }

  /** Tags replication and repair messages with the node's cluster key, if it has one. */
  public void setAuth(PeerAuth value) {
    peers.auth = value;
  }

  /** Client operations in progress or queued here. */
  public int operations() {
    return ops;
  }

  /**
   * Coordinates a PUT, GET or REMOVE of a valid key (the host has checked the value's length, the
   * reply cache and its room).
   */
  public void submit(long client, ByteString messageId, int command, byte[] key, byte[] value,
      int version, long nowMs, Outbox out) {
    lastNowMs = nowMs;
    if (!peers.majorityLive()) {
      refusedNoMajority++;
      refuse(client, messageId, command, nowMs, out);
      return;
    }
    ByteBuffer keyRef = ByteBuffer.wrap(key);
    Op head = active.get(keyRef);
    for (Op o = head; o != null; o = o.next) {
      if (o.client == client && o.messageId.equals(messageId)) {
        duplicatesDropped++; // a retry of a request in progress: it will be answered
        return;
      }
    }
    if (ops >= config.opsMax()) {
      replier.send(client, messageId, command, nowMs, KVResponse.newBuilder()
          .setErrCode(ErrorCode.OVERLOAD).setOverloadWaitTime(config.unavailableWaitMs()).build(),
          out);
      return;
    }
    Op op = new Op(nextOpId++, command, key, keyRef, client, messageId, value, version, nowMs);
    ops++;
    if (head == null) {
      active.put(keyRef, op);
      start(op, nowMs, out);
    } else {
      (head.tail == null ? head : head.tail).next = op;
      head.tail = op;
    }
  }

  private void start(Op op, long nowMs, Outbox out) {
    byId.put(op.id, op);
    Store store = peers.store;
    if (nowMs - op.queuedAtMs > config.readTimeoutMs()) {
      // Queued too long behind earlier requests for the key: the client has given up or
      // retried; refuse without executing.
      refusedNoQuorum++;
      refuse(op, out);
      finish(op, out, nowMs);
      return;
    }
    if (op.command == Command.PUT
        && store.lengthAfterPut(op.key, op.value.length) > nodeConfig.storeLengthMax()) {
      // Not executed, so not cached: a retry after space frees up may run, once.
      complete(op, ErrorCode.OUT_OF_SPACE, false, out);
      finish(op, out, nowMs);
      return;
    }
    // Writes read first too: the new stamp must exceed every acknowledged one, and this node's
    // copy may be stale (its view of the set may be behind the others'). The replicas also say
    // whether they already answered this request (it may have run at another coordinator).
    byte[] local = store.get(op.key);
    op.phase = PHASE_READ;
    op.phaseStartedMs = nowMs;
    op.maxStamp = local == null ? 0 : Store.stamp(local);
    addRespondent(op, peers.self, op.maxStamp, repair.readyFor(op.token));
    sendReads(op, nowMs, out);
    maybeFinishRead(op, nowMs, out);
  }

  private void sendReads(Op op, long nowMs, Outbox out) {
    op.nextSendMs = nowMs + config.resendMs();
    int n = peers.replicas(op.token, set);
    Replica read = null;
    for (int i = 0; i < n; i++) {
      if (set[i] != peers.self && respondentIndex(op, set[i]) < 0) {
        if (read == null) {
          Replica.Builder b = Replica.newBuilder().setKind(Replica.Kind.READ).setOp(op.id)
              .setKey(ByteString.copyFrom(op.key)).setStamp(op.maxStamp);
          if (op.command != Command.GET) {
            b.setClient(op.client).setClientMessageId(op.messageId);
          }
          if (op.command == Command.PUT) {
            b.setValueLength(op.value.length);
          }
          read = b.build();
        }
        peers.send(set[i], read, out);
      }
    }
  }

  private void maybeFinishRead(Op op, long nowMs, Outbox out) {
    int n = peers.replicas(op.token, set);
    int readyInSet = 0;
    for (int i = 0; i < op.respondentCount; i++) {
      if (op.ready[i] && contains(set, n, op.respondents[i])) {
        readyInSet++;
      }
    }
    if (readyInSet < Peers.quorum(n)) {
      return;
    }
    Store store = peers.store;
    if (op.maxRecord != null) {
      // A replica had a newer record: keep it here too (the first step of writing it back).
      int merged = Repair.merge(store, nodeConfig.storeLengthMax(), op.key,
          UnsafeByteOperations.unsafeWrap(op.maxRecord), nowMs);
      if (merged == Repair.MERGE_STORED || merged == Repair.MERGE_HELD) {
        setStamp(op, peers.self, Store.stamp(store.get(op.key)));
      }
    }
    byte[] best = op.maxRecord;
    byte[] local = store.get(op.key);
    if (local != null && Store.stamp(local) >= op.maxStamp) {
      best = local;
    }
    int holders = 0;
    for (int i = 0; i < op.respondentCount; i++) {
      holders += op.stamps[i] == op.maxStamp ? 1 : 0;
    }
    boolean settled = op.maxStamp == 0 || holders >= Peers.quorum(n);
    boolean absent = best == null || Store.isTombstone(best);
    if (best == null) {
      // Nothing to write back: the newest record was a tombstone that expired here meanwhile.
      settled = true;
    }
    if (op.cachedResult >= 0) {
      op.result = op.cachedResult;
      if (best == null) {
        complete(op, op.result, true, out);
        finish(op, out, nowMs);
      } else {
        op.record = best;
        op.recordStamp = Store.stamp(best);
        op.needAll = true;
        beginWrite(op, nowMs, out);
      }
      return;
    }
    if (op.command == Command.PUT && op.noRoom) {
      // A replica cannot take the value: refuse before anything is written.
      complete(op, ErrorCode.OUT_OF_SPACE, false, out);
      finish(op, out, nowMs);
      return;
    }
    switch (op.command) {
      case Command.GET:
        op.result = absent ? ErrorCode.NOT_FOUND : ErrorCode.SUCCESS;
        if (settled) {
          answerGet(op, best, out);
          finish(op, out, nowMs);
        } else {
          beginWriteBack(op, best, nowMs, out);
        }
        break;
      case Command.PUT:
        beginClientWrite(op, op.maxStamp, ErrorCode.SUCCESS, nowMs, out);
        break;
      default: // REMOVE
        if (!absent) {
          beginClientWrite(op, op.maxStamp, ErrorCode.SUCCESS, nowMs, out);
        } else if (peers.ring.size() == 1) {
          complete(op, ErrorCode.NOT_FOUND, true, out);
          finish(op, out, nowMs);
        } else {
          // Absent: still write a tombstone to every replica, carrying this answer, so that a
          // late copy of the request (buffered at a paused node, say) finds the answer at any
          // read quorum instead of removing a value written since.
          beginClientWrite(op, op.maxStamp, ErrorCode.NOT_FOUND, nowMs, out);
        }
        break;
    }
  }

  /**
   * A new write of the key, stamped above {@code seenStamp}, answering {@code result} once every
   * replica holds it.
   */
  private void beginClientWrite(Op op, long seenStamp, int result, long nowMs, Outbox out) {
    Store store = peers.store;
    byte[] current = store.get(op.key);
    // A newer record may have arrived here (repair, another coordinator) during the read.
    long seen = Math.max(seenStamp, current == null ? 0 : Store.stamp(current));
    long stamp = (((seen >>> 16) + 1) << 16) | peers.self;
    if (op.command == Command.PUT) {
      if (store.lengthAfterPut(op.key, op.value.length) > nodeConfig.storeLengthMax()) {
        complete(op, ErrorCode.OUT_OF_SPACE, false, out);
        finish(op, out, nowMs);
        return;
      }
      store.put(op.key, op.value, 0, op.value.length, op.version, stamp);
    } else if (peers.ring.size() == 1) {
      store.remove(op.key); // alone: no other copy can bring the value back
    } else if (store.lengthAfterPut(op.key, Store.TOMBSTONE_VALUE_LENGTH)
        > nodeConfig.storeLengthMax()) {
      // No room even for a tombstone (REMOVE never answers OUT_OF_SPACE): refuse, unchanged.
      refuse(op, out);
      finish(op, out, nowMs);
      return;
    } else {
      store.putTombstone(op.key, stamp, nowMs);
    }
    Invariants.check(store.length() <= nodeConfig.storeLengthMax(),
        "store holds %d of %d bytes", store.length(), nodeConfig.storeLengthMax());
    op.record = store.get(op.key);
    op.recordStamp = stamp;
    if (op.record == null) { // removed outright, alone
      complete(op, ErrorCode.SUCCESS, true, out);
      finish(op, out, nowMs);
      return;
    }
    op.needAll = true;
    op.result = result;
    beginWrite(op, nowMs, out);
  }

  /** Writes the newest record a read found back to a majority before answering. */
  private void beginWriteBack(Op op, byte[] best, long nowMs, Outbox out) {
    writeBacks++;
    op.record = best;
    op.recordStamp = Store.stamp(best);
    op.needAll = false;
    beginWrite(op, nowMs, out);
  }

  private void beginWrite(Op op, long nowMs, Outbox out) {
    op.phase = PHASE_WRITE;
    op.phaseStartedMs = nowMs;
    op.ackedCount = 0;
    op.refusedCount = 0;
    sendWrites(op, nowMs, out);
    maybeFinishWrite(op, nowMs, out);
  }

  private void sendWrites(Op op, long nowMs, Outbox out) {
    op.nextSendMs = nowMs + config.resendMs();
    int n = peers.replicas(op.token, set);
    Replica write = null;
    for (int i = 0; i < n; i++) {
      int m = set[i];
      if (m == peers.self || indexOf(op.acked, op.ackedCount, m) >= 0
          || indexOf(op.refusedNoRoom, op.refusedCount, m) >= 0) {
        continue;
      }
      if (write == null) {
        Replica.Builder b = Replica.newBuilder().setKind(Replica.Kind.WRITE).setOp(op.id)
            .setKey(ByteString.copyFrom(op.key)).setStamp(op.recordStamp)
            .setRecord(ByteString.copyFrom(op.record));
        if (op.needAll && op.command != Command.GET) {
          b.setClient(op.client).setClientMessageId(op.messageId).setErrCode(op.result);
        }
        write = b.build();
      }
      peers.send(m, write, out);
    }
  }

  private void maybeFinishWrite(Op op, long nowMs, Outbox out) {
    int n = peers.replicas(op.token, set);
    int holders = 0;
    int refused = 0;
    for (int i = 0; i < n; i++) {
      int m = set[i];
      if (m == peers.self) {
        byte[] local = peers.store.get(op.key);
        holders += local != null && Store.stamp(local) >= op.recordStamp ? 1 : 0;
      } else if (indexOf(op.acked, op.ackedCount, m) >= 0) {
        holders++;
      } else if (indexOf(op.refusedNoRoom, op.refusedCount, m) >= 0) {
        refused++;
      }
    }
    int needed = op.needAll ? n : Peers.quorum(n);
    if (holders >= needed) {
      if (op.command == Command.GET) {
        answerGet(op, op.record, out);
      } else {
        complete(op, op.result, true, out);
      }
      finish(op, out, nowMs);
    } else if (refused > 0 && holders + refused >= n) {
      // A replica filled up after the read said there was room. The write may stay on some
      // replicas (repair spreads it), so the outcome is unknown: no answer, as after a timeout.
      writesAbandoned++;
      finish(op, out, nowMs);
    }
  }

  private void answerGet(Op op, byte[] record, Outbox out) {
    if (record == null || Store.isTombstone(record)) {
      replier.send(op.client, op.messageId, op.command, op.queuedAtMs,
          KVResponse.newBuilder().setErrCode(ErrorCode.NOT_FOUND).build(), out);
      return;
    }
    int offset = Store.valueOffset(record);
    // Records are never modified once stored, so the reply may wrap the record's bytes.
    replier.send(op.client, op.messageId, op.command, op.queuedAtMs, KVResponse.newBuilder()
        .setErrCode(ErrorCode.SUCCESS)
        .setValue(UnsafeByteOperations.unsafeWrap(record, offset, record.length - offset))
        .setVersion(Store.version(record))
        .build(), out);
  }

  /** Answers a PUT or REMOVE; a definite result is remembered for retries. */
  private void complete(Op op, int errCode, boolean remember, Outbox out) {
    if (remember) {
      rememberReply(op.client, op.messageId, errCode, lastNowMs);
    }
    replier.send(op.client, op.messageId, op.command, op.queuedAtMs,
        KVResponse.newBuilder().setErrCode(errCode).build(), out);
  }

  private long lastNowMs;

  private void rememberReply(long client, ByteString messageId, int errCode, long nowMs) {
    rememberReply(client, messageId, errCode, nowMs, 0);
  }

  /**
   * Remembers an answer unless it is there already or the cache lacks room; {@code keepFree}
   * places stay free (a replica keeps room for the answers its own writes in progress reserved).
   */
  private void rememberReply(long client, ByteString messageId, int errCode, long nowMs,
      int keepFree) {
    long high = ReplyCache.idHigh(messageId);
    long low = ReplyCache.idLow(messageId);
    if (replies.lookup(client, high, low, messageId.size()) == ReplyCache.MISS
        && replies.hasRoom(nowMs) && replies.size() + keepFree < replies.capacity()) {
      replies.insert(client, high, low, messageId.size(), errCode, nowMs);
    }
  }

  private void refuse(Op op, Outbox out) {
    refuse(op.client, op.messageId, op.command, op.queuedAtMs, out);
  }

  private void refuse(long client, ByteString messageId, int command, long arrivedAtMs,
      Outbox out) {
    replier.send(client, messageId, command, arrivedAtMs, KVResponse.newBuilder()
        .setErrCode(ErrorCode.OVERLOAD).setOverloadWaitTime(config.unavailableWaitMs()).build(),
        out);
  }

  private void finish(Op op, Outbox out, long nowMs) {
    byId.remove(op.id);
    ops--;
    Invariants.check(ops >= 0, "operations %d", ops);
    Invariants.check(active.get(op.keyRef) == op, "finished an operation not at the head");
    if (op.next != null) {
      Op next = op.next;
      next.tail = op.tail == next ? null : op.tail;
      active.put(op.keyRef, next);
      start(next, nowMs, out);
    } else {
      active.remove(op.keyRef);
    }
  }

  /** Resends, timeouts and repair. */
  public void onTick(long nowMs, Outbox out) {
    trackMajority(nowMs);
    lastNowMs = nowMs;
    due.clear();
    for (Op op : byId.values()) {
      if (nowMs >= op.nextSendMs) {
        due.add(op);
      }
    }
    for (Op op : due) {
      if (byId.get(op.id) != op) {
        continue;
      }
      if (op.phase == PHASE_READ) {
        if (nowMs - op.phaseStartedMs >= config.readTimeoutMs()) {
          refusedNoQuorum++;
          refuse(op, out);
          finish(op, out, nowMs);
        } else {
          sendReads(op, nowMs, out);
          maybeFinishRead(op, nowMs, out);
        }
      } else if (op.phase == PHASE_WRITE) {
        if (nowMs - op.phaseStartedMs >= config.writeTimeoutMs()) {
          writesAbandoned++;
          finish(op, out, nowMs);
        } else {
          sendWrites(op, nowMs, out);
          maybeFinishWrite(op, nowMs, out);
        }
      }
    }
    repair.onTick(nowMs, out);
  }

  /** A replication or repair message from member {@code from}. */
  public void onMessage(int from, Replica message, long nowMs, Outbox out) {
    lastNowMs = nowMs;
    switch (message.getKind()) {
      case READ:
        onRead(from, message, out);
        break;
      case READ_REPLY: {
        Op op = byId.get(message.getOp());
        if (op != null && op.phase == PHASE_READ && respondentIndex(op, from) < 0) {
          onReadReply(op, from, message, nowMs, out);
        }
        break;
      }
      case WRITE:
        onWrite(from, message, nowMs, out);
        break;
      case WRITE_ACK: {
        Op op = byId.get(message.getOp());
        if (op != null && op.phase == PHASE_WRITE && message.getStamp() == op.recordStamp) {
          if (message.getOk()) {
            op.acked = room(op.acked, op.ackedCount);
            op.ackedCount = add(op.acked, op.ackedCount, from);
          } else if (message.getErrCode() == ErrorCode.OUT_OF_SPACE) {
            op.refusedNoRoom = room(op.refusedNoRoom, op.refusedCount);
            op.refusedCount = add(op.refusedNoRoom, op.refusedCount, from);
          }
          maybeFinishWrite(op, nowMs, out);
        }
        break;
      }
      default:
        repair.onMessage(from, message, nowMs, out);
        break;
    }
  }

  private void onRead(int from, Replica message, Outbox out) {
    byte[] key = message.getKey().toByteArray();
    if (key.length < 1 || key.length > NodeConfig.KEY_LENGTH_MAX) {
      return;
    }
    byte[] local = peers.store.get(key);
    long stamp = local == null ? 0 : Store.stamp(local);
    Replica.Builder reply = Replica.newBuilder().setKind(Replica.Kind.READ_REPLY)
        .setOp(message.getOp()).setStamp(stamp)
        .setReady(repair.readyFor(Peers.tokenOf(key)));
    if (local != null && stamp > message.getStamp()) {
      reply.setRecord(ByteString.copyFrom(local));
    }
    if (message.hasClient() && message.getClientMessageId().size()
        <= NodeConfig.MESSAGE_ID_LENGTH_MAX) {
      ByteString id = message.getClientMessageId();
      int cached = replies.lookup(message.getClient(), ReplyCache.idHigh(id), ReplyCache.idLow(id), id.size());
      if (cached != ReplyCache.MISS) {
        reply.setErrCode(cached).setOk(true);
      }
    }
    if (message.hasValueLength() && message.getValueLength() <= NodeConfig.VALUE_LENGTH_MAX
        && peers.store.lengthAfterPut(key, message.getValueLength())
            > nodeConfig.storeLengthMax()) {
      reply.setNoRoom(true);
    }
    peers.send(from, reply.build(), out);
  }

  private void onReadReply(Op op, int from, Replica message, long nowMs, Outbox out) {
    if (message.getOk() && op.command != Command.GET && validErrCode(message.getErrCode())) {
      // A replica answered this very request before (a retry reached a new coordinator). The
      // write it answered may be on that replica alone: finish the read, write the newest
      // record back to every replica, then give the same answer.
      op.cachedResult = message.getErrCode();
    }
    op.noRoom |= message.getNoRoom();
    long stamp = message.getStamp();
    if (stamp > op.maxStamp) {
      if (!message.hasRecord()) {
        // Newer than ours, but sent without the record (our stamp rose meanwhile): ask again.
        return;
      }
      byte[] record = message.getRecord().toByteArray();
      if (!Repair.validRecord(op.key, record) || Store.stamp(record) != stamp) {
        return;
      }
      op.maxStamp = stamp;
      op.maxRecord = record;
    }
    addRespondent(op, from, stamp, message.getReady());
    maybeFinishRead(op, nowMs, out);
  }

  private void onWrite(int from, Replica message, long nowMs, Outbox out) {
    byte[] key = message.getKey().toByteArray();
    if (key.length < 1 || key.length > NodeConfig.KEY_LENGTH_MAX) {
      return;
    }
    int result = Repair.merge(peers.store, nodeConfig.storeLengthMax(), key,
        message.getRecord(), nowMs);
    if (result == Repair.MERGE_INVALID) {
      return;
    }
    Replica.Builder ack = Replica.newBuilder().setKind(Replica.Kind.WRITE_ACK)
        .setOp(message.getOp()).setStamp(message.getStamp());
    if (result == Repair.MERGE_NO_ROOM) {
      ack.setOk(false).setErrCode(ErrorCode.OUT_OF_SPACE);
    } else {
      ack.setOk(true);
      if (message.hasClient() && message.getClientMessageId().size()
          <= NodeConfig.MESSAGE_ID_LENGTH_MAX && validErrCode(message.getErrCode())) {
        rememberReply(message.getClient(), message.getClientMessageId(), message.getErrCode(),
            nowMs, ops);
      }
    }
    peers.send(from, ack.build(), out);
  }

  /**
   * An operator wiped this node (WIPEOUT): it vouches for no key until repair has caught it up,
   * and waits {@code quietMs} before pulling, so that a sweep of WIPEOUTs over the cluster is not
   * undone by pulling from members not yet wiped.
   */
  public void onWiped(long nowMs, long quietMs) {
    repair.forget(nowMs, quietMs);
  }

  public void onDeclaredDead(long nowMs) {
    repair.forget(nowMs, 0);
    declaredDeadAtMs = nowMs;
    if (nowMs <= longAbsenceUntilMs) {
      dropData("declared dead by the others after a long absence", nowMs);
    }
  }

  /**
   * The host saw {@code gapMs} pass between two of this node's events: it was stalled.
   *
   * <p>A node away (stalled, or cut off from the majority) for longer than half the tombstone
   * retention may hold values whose REMOVEs' tombstones have expired everywhere else; repair would
   * bring them back. When the others also declared it dead meanwhile (so they moved on without
   * it, rather than the whole cluster having stopped), it drops all its data and catches up.
   */
  public void noteGap(long gapMs, long nowMs) {
    if (gapMs > config.tombstoneRetentionMs() / 2) {
      noteLongAbsence(nowMs);
    }
  }

  private void noteLongAbsence(long nowMs) {
    longAbsenceUntilMs = nowMs + config.tombstoneRetentionMs();
    if (declaredDeadAtMs >= 0 && nowMs - declaredDeadAtMs <= config.tombstoneRetentionMs()) {
      dropData("away longer than half the tombstone retention after being declared dead",
          nowMs);
    }
  }

  private void dropData(String why, long nowMs) {
    if (peers.ring.size() == 1) {
      return;
    }
    events.dataDropped(why, peers.store.size(), nowMs);
    peers.store.clear();
    repair.forget(nowMs, 0);
    longAbsenceUntilMs = -1;
    declaredDeadAtMs = -1;
    dataForgotten++;
  }

  private void trackMajority(long nowMs) {
    boolean majority = peers.majorityLive();
    if (!majority && minoritySinceMs < 0) {
      minoritySinceMs = nowMs;
    } else if (majority && minoritySinceMs >= 0) {
      if (nowMs - minoritySinceMs > config.tombstoneRetentionMs() / 2) {
        noteLongAbsence(nowMs);
      }
      minoritySinceMs = -1;
    }
  }

  private long longAbsenceUntilMs = -1;
  private long declaredDeadAtMs = -1;
  private long minoritySinceMs = -1;
  private long dataForgotten;

  /** Times this node dropped its data after a long absence. */
  public long dataForgotten() {
    return dataForgotten;
  }

  // Small helpers over fixed arrays.

  private static void addRespondent(Op op, int member, long stamp, boolean ready) {
    if (op.respondentCount == op.respondents.length) {
      if (op.respondentCount == RESPONDENTS_MAX) {
        return;
      }
      int length = Math.min(RESPONDENTS_MAX, Math.max(4, 2 * op.respondentCount));
      op.respondents = Arrays.copyOf(op.respondents, length);
      op.stamps = Arrays.copyOf(op.stamps, length);
      op.ready = Arrays.copyOf(op.ready, length);
    }
    op.respondents[op.respondentCount] = member;
    op.stamps[op.respondentCount] = stamp;
    op.ready[op.respondentCount] = ready;
    op.respondentCount++;
  }

  private static void setStamp(Op op, int member, long stamp) {
    int i = respondentIndex(op, member);
    if (i >= 0) {
      op.stamps[i] = stamp;
    }
  }

  private static int respondentIndex(Op op, int member) {
    return indexOf(op.respondents, op.respondentCount, member);
  }

  /** {@code members}, grown if full and below {@link #ACKS_MAX}. */
  private static int[] room(int[] members, int count) {
    if (count < members.length || members.length == ACKS_MAX) {
      return members;
    }
    return Arrays.copyOf(members, Math.min(ACKS_MAX, Math.max(4, 2 * count)));
  }

  private static int add(int[] members, int count, int member) {
    if (indexOf(members, count, member) >= 0 || count == members.length) {
      return count;
    }
    members[count] = member;
    return count + 1;
  }

  private static int indexOf(int[] members, int count, int member) {
    for (int i = 0; i < count; i++) {
      if (members[i] == member) {
        return i;
      }
    }
    return -1;
  }

  private static boolean contains(int[] members, int count, int member) {
    return indexOf(members, count, member) >= 0;
  }

  /** The answers a write can have; anything else from a peer is ignored. */
  private static boolean validErrCode(int errCode) {
    return errCode == ErrorCode.SUCCESS || errCode == ErrorCode.NOT_FOUND;
  }



  // Observability.

  public long refusedNoMajority() {
    return refusedNoMajority;
  }

  public long refusedNoQuorum() {
    return refusedNoQuorum;
  }

  public long writesAbandoned() {
    return writesAbandoned;
  }

  public long writeBacks() {
    return writeBacks;
  }

  public long duplicatesDropped() {
    return duplicatesDropped;
  }

  public long messagesSent() {
    return peers.messagesSent();
  }

  public long bytesSent() {
    return peers.bytesSent();
  }
}
