package io.kvd.core.replication;

import com.google.protobuf.ByteString;
import io.kvd.core.Hashing;
import io.kvd.core.Invariants;
import io.kvd.core.NodeEvents;
import io.kvd.core.Outbox;
import io.kvd.core.cluster.Membership;
import io.kvd.core.store.Store;
import io.kvd.proto.PeerProtocol.Replica;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * Anti-entropy: brings every replica of every key up to the newest stamp, moves keys this node no
 * longer replicates to their replicas, expires tombstones, and decides when this node may vouch
 * for a key ("ready").
 *
 * <p><b>Cycles and rounds.</b> Every {@code repairIntervalMs} a cycle starts: a round with each
 * live peer. In a round this node (the puller) sends its digests of the keys both replicate, one
 * per range (64 arcs of the ring), with its view of who is live. The peer answers only if its view
 * is the same; it compares its own digests and lists (key, stamp) of the ranges that differ, in
 * chunks; the puller PULLs the keys where the peer's stamp is newer and the peer PUSHes them. A
 * round is done when every chunk and every pulled key has arrived; lost messages make it time out
 * and start again. Each side pulls in its own rounds, so differences heal in both directions.
 *
 * <p><b>Readiness.</b> A node that has just joined a key's replica set may lack its acknowledged
 * writes until repair fills it in, so it must not count toward a read quorum for that key. The
 * node keeps the views it has had since the start of its last completed cycle (in which it pulled
 * from every live peer); it is ready for a key when it replicated the key in each of them. A node
 * that starts, or forgets its data after being declared dead, is ready for nothing until a cycle
 * completes.
 *
 * <p><b>Hand-off.</b> A key this node holds but does not replicate (the view changed) is pushed to
 * its replicas with acknowledgements, then deleted once all of them hold it.
 *
 * <p><b>Tombstones</b> expire {@code tombstoneRetentionMs} after they were stored; copies carry
 * their age, and repair ignores tombstones near expiry, so replicas drop them together.
 */
public final class Repair {
  /** (key, stamp) pairs in one KEYS message at most: 256 x (32 + 8) bytes fits a datagram. */
  public static final int KEYS_PER_CHUNK_MAX = 256;
  /** Views remembered since the last completed cycle; past this the node is ready for nothing. */
  public static final int VIEWS_MAX = 16;
  static final int ERR_VIEW_MISMATCH = 1;

  private final Peers peers;
  private final ReplicationConfig config;
  private final long storeLengthMax;
  private final int members;
  private final int[] set;

  // Readiness: views since the start of the last completed cycle, oldest first.
  private final ArrayList<boolean[]> views = new ArrayList<>();
  private final ArrayList<Long> viewVersions = new ArrayList<>();
  private final ArrayList<Integer> viewCounts = new ArrayList<>();
  private boolean synced;
  private long lastViewVersion = -1;

  // The cycle in progress.
  private boolean cycleActive;
  private long cycleViewVersion;
  private long cycleStartedMs;
  private long nextCycleAtMs;
  private long cyclesCompleted;
  /** The current gap between cycles: doubles after each cycle that found nothing to repair. */
  private long intervalMs;
  private boolean cycleFoundDifference;
  private long lastCycleViewVersion = -1;
  /** The gap between cycles grows to at most this many times repairIntervalMs. */
  public static final int REPAIR_INTERVAL_MAX_FACTOR = 8;
  private long lastCycleMs;
  private NodeEvents events = NodeEvents.NONE;
  // The counters when the cycle in progress started, and the live peers it started rounds with.
  private int cyclePeers;
  private long cycleRoundsAtStart;
  private long cycleKeysPulledAtStart;
  private long cycleBytesPulledAtStart;
  private long cycleKeysPushedAtStart;
  private long cycleBytesPushedAtStart;

  // One round per peer.
  private final long[] roundId;
  private final long[] roundStartedMs;
  /** When the round last heard from its peer: a round without progress for roundTimeoutMs restarts. */
  private final long[] roundProgressMs;
  private final boolean[] roundDone;
  private final boolean[] roundTruncated;
  /** Where a truncated round's listing stopped (a token), so the next round goes on from it. */
  private final long[] roundCursor;
  private final boolean[] roundHasCursor;
  private final long[] chunksGot;
  private final int[] chunksExpected;
  private final List<HashSet<ByteBuffer>> pulls;
  private long nextRoundId = 1;

  // Digests of the keys shared with each peer, by range; recomputed at most every digestCacheMs.
  private long[][] digests;
  private long digestsAtMs = Long.MIN_VALUE;
  private long digestsViewVersion = -1;

  // Pushes waiting for the byte budget.
  private final ArrayDeque<Push> pushes = new ArrayDeque<>();
  private long pushBudget;
  private long lastBudgetMs;

  private final Map<ByteBuffer, Handoff> handoffs = new HashMap<>();
  private long nextHandoffId = 1;

  // Counters.
  private long keysPulled;
  private long bytesPulled;
  private long keysPushed;
  private long bytesPushed;
  private long pushesDropped;
  private long handedOff;
  private long tombstonesExpired;
  private long roundsCompleted;
  private long storeFullDrops;

  private record Push(int to, byte[] key, long op, boolean ackWanted) {}

  private static final class Handoff {
    final long id;
    final long stamp;
    final int[] replicas;
    boolean[] acked;
    final long startedMs;

    Handoff(long id, long stamp, int[] replicas, long startedMs) {
      this.id = id;
      this.stamp = stamp;
      this.replicas = replicas;
      this.acked = new boolean[replicas.length];
      this.startedMs = startedMs;
    }
  }

  Repair(Peers peers, ReplicationConfig config, long storeLengthMax) {
    this.peers = peers;
    this.config = config;
    this.storeLengthMax = storeLengthMax;
    this.members = peers.ring.size();
    this.set = new int[config.replicationFactor()];
    this.intervalMs = config.repairIntervalMs();
    this.roundId = new long[members];
    this.roundStartedMs = new long[members];
    this.roundProgressMs = new long[members];
    this.roundDone = new boolean[members];
    this.roundTruncated = new boolean[members];
    this.roundCursor = new long[members];
    this.roundHasCursor = new boolean[members];
    this.chunksGot = new long[members];
    this.chunksExpected = new int[members];
    this.pulls = new ArrayList<>(members);
    for (int m = 0; m < members; m++) {
      pulls.add(new HashSet<>());
    }
    noteView();
    // Alone, there is nobody to catch up from.
    synced = members == 1;
  }

  void setEvents(NodeEvents value) {
    events = value;
  }

  /** Whether this node holds every acknowledged write of {@code token}'s key (see above). */
  public boolean readyFor(long token) {
    if (!synced) {
      return false;
    }
    for (int i = 0; i < views.size(); i++) {
      if (!peers.replicates(token, views.get(i), viewCounts.get(i))) {
        return false;
      }
    }
    return true;
  }

  /**
   * The node may have missed writes (declared dead, or wiped by an operator): catch up again,
   * starting no cycle for {@code quietMs}.
   */
  public void forget(long nowMs, long quietMs) {
    synced = members == 1;
    views.clear();
    viewVersions.clear();
    viewCounts.clear();
    lastViewVersion = -1;
    noteView();
    cycleActive = false;
    intervalMs = config.repairIntervalMs();
    nextCycleAtMs = nowMs + quietMs;
    handoffs.clear();
    pushes.clear();
    digestsAtMs = Long.MIN_VALUE;
    for (HashSet<ByteBuffer> p : pulls) {
      p.clear();
    }
  }

  void onTick(long nowMs, Outbox out) {
    noteView();
    drainPushes(nowMs, out);
    expireHandoffs(nowMs);
    if (members == 1) {
      return;
    }
    if (cycleActive && cycleViewVersion != peers.membership.viewVersion()) {
      cycleActive = false; // The view changed: start over in the new one.
      nextCycleAtMs = nowMs;
    }
    if (!cycleActive && lastCycleViewVersion != peers.membership.viewVersion()) {
      lastCycleViewVersion = peers.membership.viewVersion();
      intervalMs = config.repairIntervalMs();
      nextCycleAtMs = Math.min(nextCycleAtMs, nowMs);
    }
    if (!cycleActive && nowMs >= nextCycleAtMs) {
      startCycle(nowMs, out);
    }
    if (!cycleActive) {
      return;
    }
    boolean complete = true;
    boolean[] live = peers.membership.live();
    for (int m = 0; m < members; m++) {
      if (m == peers.self || !live[m]) {
        continue;
      }
      if (!roundDone[m] && nowMs - roundProgressMs[m] >= config.roundTimeoutMs()) {
        startRound(m, nowMs, out);
      }
      if (!roundDone[m] && peers.membership.status(m) == Membership.Status.ALIVE) {
        complete = false;
      }
    }
    if (complete) {
      completeCycle(nowMs);
    }
  }

  private void noteView() {
    long version = peers.membership.viewVersion();
    if (version == lastViewVersion) {
      return;
    }
    lastViewVersion = version;
    views.add(peers.membership.live().clone());
    viewVersions.add(version);
    viewCounts.add(peers.membership.liveCount());
    if (views.size() > VIEWS_MAX) {
      views.remove(0);
      viewVersions.remove(0);
      viewCounts.remove(0);
      synced = members == 1;
    }
  }

  private void startCycle(long nowMs, Outbox out) {
    cycleActive = true;
    cycleFoundDifference = false;
    cycleViewVersion = peers.membership.viewVersion();
    cycleStartedMs = nowMs;
    nextCycleAtMs = nowMs + intervalMs;
    computeDigests(nowMs, out);
    cyclePeers = 0;
    cycleRoundsAtStart = roundsCompleted;
    cycleKeysPulledAtStart = keysPulled;
    cycleBytesPulledAtStart = bytesPulled;
    cycleKeysPushedAtStart = keysPushed;
    cycleBytesPushedAtStart = bytesPushed;
    boolean[] live = peers.membership.live();
    for (int m = 0; m < members; m++) {
      roundDone[m] = false;
      if (m != peers.self && live[m]) {
        cyclePeers++;
        startRound(m, nowMs, out);
      }
    }
  }

  private void completeCycle(long nowMs) {
    cycleActive = false;
    cyclesCompleted++;
    // A quiet cluster needs repair less often; any difference, or a view change, resets it.
    intervalMs = cycleFoundDifference ? config.repairIntervalMs()
        : Math.min(intervalMs * 2, REPAIR_INTERVAL_MAX_FACTOR * config.repairIntervalMs());
    nextCycleAtMs = cycleStartedMs + intervalMs;
    lastCycleMs = nowMs - cycleStartedMs;
    // Synced as of the view the cycle ran in: forget the views before it.
    while (!viewVersions.isEmpty() && viewVersions.get(0) < cycleViewVersion) {
      views.remove(0);
      viewVersions.remove(0);
      viewCounts.remove(0);
    }
    Invariants.check(!views.isEmpty(), "no view left after a cycle in view %d",
        cycleViewVersion);
    synced = true;
    events.repairCycleCompleted(new NodeEvents.RepairCycle(cyclePeers,
        roundsCompleted - cycleRoundsAtStart, keysPulled - cycleKeysPulledAtStart,
        bytesPulled - cycleBytesPulledAtStart, keysPushed - cycleKeysPushedAtStart,
        bytesPushed - cycleBytesPushedAtStart, lastCycleMs, nowMs));
  }

  private void startRound(int peer, long nowMs, Outbox out) {
    startRound(peer, false, nowMs, out);
  }

  /** A new round with {@code peer}; {@code continuing} a truncated one from where it stopped. */
  private void startRound(int peer, boolean continuing, long nowMs, Outbox out) {
    if (!continuing) {
      roundHasCursor[peer] = false;
    }
    roundId[peer] = nextRoundId++;
    roundStartedMs[peer] = nowMs;
    roundProgressMs[peer] = nowMs;
    roundDone[peer] = false;
    roundTruncated[peer] = false;
    chunksGot[peer] = 0;
    chunksExpected[peer] = -1;
    pulls.get(peer).clear();
    if (digestsAtMs == Long.MIN_VALUE || digestsViewVersion != peers.membership.viewVersion()
        || nowMs - digestsAtMs > config.digestCacheMs()) {
      computeDigests(nowMs, out);
    }
    Replica.Builder digest = Replica.newBuilder()
        .setKind(Replica.Kind.DIGEST)
        .setOp(roundId[peer])
        .setView(viewBitmap());
    long[] d = digests[peer];
    for (int r = 0; r < ReplicationConfig.RANGES; r++) {
      digest.addDigests(d == null ? 0 : d[r]);
    }
    if (roundHasCursor[peer]) {
      digest.setAfterToken(roundCursor[peer]);
    }
    peers.send(peer, digest.build(), out);
  }

  /**
   * One scan of the store: the digests of the keys shared with each peer, tombstones to expire,
   * and keys to hand off.
   */
  private void computeDigests(long nowMs, Outbox out) {
    boolean[] live = peers.membership.live();
    long[][] next = new long[members][];
    List<byte[]> expired = new ArrayList<>();
    Store store = peers.store;
    for (int slot = 0; slot < store.slots(); slot++) {
      byte[] record = store.recordAt(slot);
      if (record == null) {
        continue;
      }
      if (Store.isTombstone(record)
          && nowMs - Store.tombstoneAtMs(record) >= config.tombstoneRetentionMs()) {
        expired.add(Store.key(record));
        continue;
      }
      long token = io.kvd.core.cluster.Ring.keyToken(record, 1, record[0] & 0xFF);
      int n = peers.ring.replicas(token, live, peers.membership.liveCount(), set);
      if (!contains(set, n, peers.self)) {
        considerHandoff(record, token, nowMs);
        continue;
      }
      if (tombstoneExpiring(record, nowMs)) {
        continue;
      }
      long h = entryHash(token, Store.stamp(record));
      int range = Peers.range(token);
      for (int i = 0; i < n; i++) {
        int m = set[i];
        if (m != peers.self) {
          if (next[m] == null) {
            next[m] = new long[ReplicationConfig.RANGES];
          }
          next[m][range] += h;
        }
      }
    }
    for (byte[] key : expired) {
      peers.store.remove(key);
      tombstonesExpired++;
    }
    digests = next;
    digestsAtMs = nowMs;
    digestsViewVersion = peers.membership.viewVersion();
  }

  private boolean tombstoneExpiring(byte[] record, long nowMs) {
    return Store.isTombstone(record) && nowMs - Store.tombstoneAtMs(record)
        >= config.tombstoneRetentionMs() - config.roundTimeoutMs() - config.repairIntervalMs();
  }

  private static long recordToken(byte[] record) {
    return io.kvd.core.cluster.Ring.keyToken(record, 1, record[0] & 0xFF);
  }

  private static long entryHash(long token, long stamp) {
    return Hashing.mix64(token ^ Hashing.mix64(stamp));
  }

  private void considerHandoff(byte[] record, long token, long nowMs) {
    if (handoffs.size() >= config.handoffsMax()) {
      return;
    }
    ByteBuffer key = ByteBuffer.wrap(Store.key(record));
    if (handoffs.containsKey(key)) {
      return;
    }
    int n = peers.replicas(token, set);
    Handoff handoff = new Handoff(nextHandoffId++, Store.stamp(record), Arrays.copyOf(set, n),
        nowMs);
    handoffs.put(key, handoff);
    for (int m : handoff.replicas) {
      enqueuePush(m, key.array(), handoff.id, true);
    }
  }

  private void expireHandoffs(long nowMs) {
    if (handoffs.isEmpty()) {
      return;
    }
    Iterator<Handoff> it = handoffs.values().iterator();
    while (it.hasNext()) {
      if (nowMs - it.next().startedMs > 2 * config.repairIntervalMs()) {
        it.remove();
      }
    }
  }

  // Messages.

  void onMessage(int from, Replica message, long nowMs, Outbox out) {
    switch (message.getKind()) {
      case DIGEST:
        onDigest(from, message, nowMs, out);
        break;
      case KEYS:
        onKeys(from, message, nowMs, out);
        break;
      case PULL:
        for (ByteString key : message.getKeysList()) {
          enqueuePush(from, key.toByteArray(), message.getOp(), false);
        }
        break;
      case PUSH:
        onPush(from, message, nowMs, out);
        break;
      case PUSH_ACK:
        onPushAck(from, message);
        break;
      default:
        break;
    }
  }

  private void onDigest(int from, Replica message, long nowMs, Outbox out) {
    Replica.Builder reply = Replica.newBuilder().setKind(Replica.Kind.KEYS)
        .setOp(message.getOp());
    if (!message.getView().equals(viewBitmap())
        || message.getDigestsCount() != ReplicationConfig.RANGES) {
      peers.send(from, reply.setErrCode(ERR_VIEW_MISMATCH).setChunks(0).build(), out);
      return;
    }
    if (digestsViewVersion != peers.membership.viewVersion()
        || nowMs - digestsAtMs > config.digestCacheMs()) {
      computeDigests(nowMs, out);
    }
    long[] mine = digests[from];
    long mask = 0;
    for (int r = 0; r < ReplicationConfig.RANGES; r++) {
      if ((mine == null ? 0 : mine[r]) != message.getDigests(r)) {
        mask |= 1L << r;
      }
    }
    // The keys of the differing ranges that both replicate, in token order from the cursor, at
    // most keysPerRoundMax of them: a bounded heap keeps the smallest tokens seen.
    boolean hasCursor = message.hasAfterToken();
    long cursor = message.getAfterToken();
    java.util.PriorityQueue<byte[]> selected = new java.util.PriorityQueue<>(
        (a, b) -> Long.compareUnsigned(recordToken(b), recordToken(a)));
    boolean truncated = false;
    if (mask != 0) {
      boolean[] live = peers.membership.live();
      Store store = peers.store;
      for (int slot = 0; slot < store.slots(); slot++) {
        byte[] record = store.recordAt(slot);
        if (record == null || tombstoneExpiring(record, nowMs)) {
          continue;
        }
        long token = recordToken(record);
        if ((mask & (1L << Peers.range(token))) == 0
            || (hasCursor && Long.compareUnsigned(token, cursor) <= 0)) {
          continue;
        }
        int n = peers.ring.replicas(token, live, peers.membership.liveCount(), set);
        if (!contains(set, n, from) || !contains(set, n, peers.self)) {
          continue;
        }
        selected.add(record);
        if (selected.size() > config.keysPerRoundMax()) {
          selected.poll(); // the largest token goes; a later round lists it
          truncated = true;
        }
      }
    }
    List<byte[]> keys = new ArrayList<>(selected.size());
    List<Long> stamps = new ArrayList<>(selected.size());
    long lastToken = 0;
    byte[][] ordered = selected.toArray(new byte[0][]);
    java.util.Arrays.sort(ordered, (a, b) -> Long.compareUnsigned(recordToken(a), recordToken(b)));
    for (byte[] record : ordered) {
      keys.add(Store.key(record));
      stamps.add(Store.stamp(record));
      lastToken = recordToken(record);
    }
    int chunks = (keys.size() + KEYS_PER_CHUNK_MAX - 1) / KEYS_PER_CHUNK_MAX;
    reply.setRangeMask(mask).setChunks(chunks).setOk(!truncated);
    if (truncated) {
      reply.setLastToken(lastToken);
    }
    if (chunks == 0) {
      peers.send(from, reply.build(), out);
      return;
    }
    for (int c = 0; c < chunks; c++) {
      Replica.Builder chunk = reply.clone().setChunk(c);
      for (int i = c * KEYS_PER_CHUNK_MAX; i < Math.min(keys.size(), (c + 1) * KEYS_PER_CHUNK_MAX);
          i++) {
        chunk.addKeys(ByteString.copyFrom(keys.get(i))).addStamps(stamps.get(i));
      }
      peers.send(from, chunk.build(), out);
    }
  }

  private void onKeys(int from, Replica message, long nowMs, Outbox out) {
    if (message.getOp() != roundId[from] || roundDone[from]) {
      return;
    }
    if (message.getErrCode() == ERR_VIEW_MISMATCH) {
      // Views differ for now; gossip converges them. Retry after the timeout.
      return;
    }
    roundProgressMs[from] = nowMs;
    int chunks = message.getChunks();
    if (chunks > 64 || message.getChunk() >= Math.max(1, chunks)
        || message.getKeysCount() != message.getStampsCount()) {
      return;
    }
    chunksExpected[from] = chunks;
    cycleFoundDifference |= message.getRangeMask() != 0;
    if (!message.getOk()) {
      roundTruncated[from] = true;
      roundCursor[from] = message.getLastToken();
      roundHasCursor[from] = true;
    }
    if (chunks > 0) {
      long bit = 1L << message.getChunk();
      if ((chunksGot[from] & bit) != 0) {
        return; // a duplicate
      }
      chunksGot[from] |= bit;
    }
    Replica.Builder pull = null;
    HashSet<ByteBuffer> pending = pulls.get(from);
    for (int i = 0; i < message.getKeysCount(); i++) {
      byte[] key = message.getKeys(i).toByteArray();
      if (key.length < 1 || key.length > io.kvd.core.NodeConfig.KEY_LENGTH_MAX) {
        continue;
      }
      byte[] local = peers.store.get(key);
      long stamp = local == null ? 0 : Store.stamp(local);
      if (Long.compareUnsigned(stamp, message.getStamps(i)) < 0) {
        if (pull == null) {
          pull = Replica.newBuilder().setKind(Replica.Kind.PULL).setOp(message.getOp());
        }
        pull.addKeys(message.getKeys(i));
        pending.add(ByteBuffer.wrap(key));
        if (pull.getKeysCount() == 64) {
          peers.send(from, pull.build(), out);
          pull = null;
        }
      }
    }
    if (pull != null) {
      peers.send(from, pull.build(), out);
    }
    maybeFinishRound(from, nowMs, out);
  }

  private void maybeFinishRound(int peer, long nowMs, Outbox out) {
    int expected = chunksExpected[peer];
    if (expected < 0 || Long.bitCount(chunksGot[peer]) < expected
        || !pulls.get(peer).isEmpty()) {
      return;
    }
    roundsCompleted++;
    if (roundTruncated[peer]) {
      startRound(peer, true, nowMs, out); // more to compare, after the cursor
    } else {
      roundDone[peer] = true;
    }
  }

  private void onPush(int from, Replica message, long nowMs, Outbox out) {
    byte[] key = message.getKey().toByteArray();
    ByteString record = message.getRecord();
    if (key.length < 1 || key.length > io.kvd.core.NodeConfig.KEY_LENGTH_MAX) {
      return;
    }
    long ageMs = Math.max(0, Math.min(message.getAgeMs(), config.tombstoneRetentionMs()));
    int result = merge(peers.store, storeLengthMax, key, record, nowMs - ageMs);
    if (result == MERGE_NO_ROOM) {
      storeFullDrops++;
    } else {
      if (result == MERGE_STORED) {
        keysPulled++;
        bytesPulled += record.size();
      }
    }
    if (message.getAckWanted()) {
      byte[] local = peers.store.get(key);
      peers.send(from, Replica.newBuilder().setKind(Replica.Kind.PUSH_ACK)
          .setOp(message.getOp()).setKey(message.getKey())
          .setStamp(local == null ? 0 : Store.stamp(local))
          .setOk(result != MERGE_NO_ROOM).build(), out);
      return;
    }
    if (message.getOp() == roundId[from] && pulls.get(from).remove(ByteBuffer.wrap(key))) {
      roundProgressMs[from] = nowMs;
      maybeFinishRound(from, nowMs, out);
    }
  }

  private void onPushAck(int from, Replica message) {
    ByteBuffer key = ByteBuffer.wrap(message.getKey().toByteArray());
    Handoff handoff = handoffs.get(key);
    if (handoff == null || handoff.id != message.getOp() || !message.getOk()
        || Long.compareUnsigned(message.getStamp(), handoff.stamp) < 0) {
      return;
    }
    boolean all = true;
    for (int i = 0; i < handoff.replicas.length; i++) {
      handoff.acked[i] |= handoff.replicas[i] == from;
      all &= handoff.acked[i];
    }
    if (!all) {
      return;
    }
    handoffs.remove(key);
    byte[] local = peers.store.get(key.array());
    // Only if nothing newer arrived meanwhile, and only if this node still is no replica.
    if (local != null && Store.stamp(local) == handoff.stamp
        && !peers.replicates(Peers.tokenOf(key.array()), peers.membership.live(),
            peers.membership.liveCount())) {
      peers.store.remove(key.array());
      handedOff++;
    }
  }

  // Pushes, throttled.

  private void enqueuePush(int to, byte[] key, long op, boolean ackWanted) {
    if (pushes.size() >= config.pushQueueMax()) {
      pushesDropped++;
      return;
    }
    pushes.add(new Push(to, key, op, ackWanted));
  }

  private void drainPushes(long nowMs, Outbox out) {
    long burst = Math.max(64 * 1024, config.repairBytesPerSecondMax() / 10);
    long elapsed = Math.max(0, nowMs - lastBudgetMs);
    lastBudgetMs = nowMs;
    pushBudget = Math.min(burst, pushBudget + elapsed * config.repairBytesPerSecondMax() / 1000);
    while (!pushes.isEmpty() && pushBudget > 0) {
      Push push = pushes.poll();
      byte[] record = peers.store.get(push.key());
      if (record == null) {
        continue;
      }
      Replica.Builder message = Replica.newBuilder().setKind(Replica.Kind.PUSH)
          .setOp(push.op()).setKey(ByteString.copyFrom(push.key()))
          .setRecord(ByteString.copyFrom(record)).setAckWanted(push.ackWanted());
      if (Store.isTombstone(record)) {
        message.setAgeMs(Math.max(0, nowMs - Store.tombstoneAtMs(record)));
      }
      peers.send(push.to(), message.build(), out);
      pushBudget -= record.length + 48;
      keysPushed++;
      bytesPushed += record.length;
    }
  }

  // Shared helpers.

  static final int MERGE_STORED = 0;
  static final int MERGE_HELD = 1;
  static final int MERGE_NO_ROOM = 2;
  static final int MERGE_INVALID = 3;

  /**
   * Keeps {@code record} for {@code key} unless the store holds the same or a newer stamp; a
   * tombstone is dated {@code storedAtMs}.
   */
  static int merge(Store store, long storeLengthMax, byte[] key, ByteString record,
      long storedAtMs) {
    byte[] bytes = record.toByteArray();
    if (!validRecord(key, bytes)) {
      return MERGE_INVALID;
    }
    byte[] local = store.get(key);
    long incoming = Store.stamp(bytes);
    if (local != null && Long.compareUnsigned(Store.stamp(local), incoming) >= 0) {
      return MERGE_HELD;
    }
    int valueLength = bytes.length - Store.valueOffset(bytes);
    if (store.lengthAfterPut(key, valueLength) > storeLengthMax) {
      return MERGE_NO_ROOM;
    }
    store.putRecord(key, bytes, 0, bytes.length, storedAtMs);
    return MERGE_STORED;
  }

  /** A record from the network: well-formed for {@code key}, or it is dropped. */
  static boolean validRecord(byte[] key, byte[] record) {
    // A stamp at or above 2^63 (negative here) is refused, as Node refuses it in a message.
    if (record.length < 1 || (record[0] & 0xFF) != key.length
        || record.length < Store.valueOffset(record) || Store.stamp(record) < 0
        || record.length - Store.valueOffset(record) > io.kvd.core.NodeConfig.VALUE_LENGTH_MAX
        || !Arrays.equals(record, 1, 1 + key.length, key, 0, key.length)) {
      return false;
    }
    return !Store.isTombstone(record)
        || record.length == Store.valueOffset(record) + Store.TOMBSTONE_VALUE_LENGTH;
  }

  private ByteString viewBitmap() {
    boolean[] live = peers.membership.live();
    byte[] bits = new byte[(members + 7) / 8];
    for (int m = 0; m < members; m++) {
      if (live[m]) {
        bits[m >> 3] |= (byte) (1 << (m & 7));
      }
    }
    return ByteString.copyFrom(bits);
  }

  private static boolean contains(int[] set, int n, int member) {
    for (int i = 0; i < n; i++) {
      if (set[i] == member) {
        return true;
      }
    }
    return false;
  }

  // Observability.

  public boolean synced() {
    return synced;
  }

  public long cyclesCompleted() {
    return cyclesCompleted;
  }

  /** How long the last completed cycle took, in ms. */
  public long lastCycleMs() {
    return lastCycleMs;
  }

  public long roundsCompleted() {
    return roundsCompleted;
  }

  public long keysPulled() {
    return keysPulled;
  }

  public long bytesPushed() {
    return bytesPushed;
  }

  /** Records stored here from peers' pushes (keys pulled), in bytes. */
  public long bytesPulled() {
    return bytesPulled;
  }

  /** Records pushed to peers, for their pulls and for hand-offs. */
  public long keysPushed() {
    return keysPushed;
  }

  public long pushesDropped() {
    return pushesDropped;
  }

  public long handedOff() {
    return handedOff;
  }

  public long tombstonesExpired() {
    return tombstonesExpired;
  }

  public long storeFullDrops() {
    return storeFullDrops;
  }

  public int pushesQueued() {
    return pushes.size();
  }
}
