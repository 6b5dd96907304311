package io.kvd.core.cluster;

import io.kvd.core.Invariants;
import io.kvd.core.NodeEvents;
import io.kvd.proto.PeerProtocol.Gossip;
import io.kvd.proto.PeerProtocol.Update;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * SWIM membership over the static member list: every protocol period this member PINGs the next
 * member of a shuffled round, asks {@code indirectProbes} others to probe it (PING_REQ) when no
 * ACK comes within the probe timeout, and suspects it when neither answers by the end of the
 * period. A suspect that does not refute within the suspicion timeout is declared dead. Updates
 * (member, incarnation, status) ride on every message, each one a bounded number of times.
 *
 * <p>Precedence, for member m with our belief (status s, incarnation i) and an update (s', i'):
 * ALIVE(i') wins if i' > i; SUSPECT(i') wins over ALIVE if i' >= i and over SUSPECT if i' > i;
 * DEAD(i') wins over ALIVE and SUSPECT if i' >= i. A member that hears itself suspected or
 * declared dead at incarnation i refutes with ALIVE(i + 1).
 *
 * <p>Rejoin: a restarted member starts at an incarnation the host derives from wall-clock time,
 * higher than any it had before; a resumed member learns it was declared dead because every
 * message to a member we believe suspect or dead carries that belief, and because dead members
 * are probed every {@code deadProbeIntervalMs}.
 *
 * <p>Single-threaded and free of I/O: driven by {@link #onTick} and {@link #onGossip}, it writes
 * messages to a {@link Sender}. Randomness comes from the seed it is given.
 */
public final class Membership {
  /** What the node believes about one member. */
  public enum Status { ALIVE, SUSPECT, DEAD }

  /** Where membership messages go; the node wraps them into datagrams. */
  public interface Sender {
    void send(long to, Gossip gossip);
  }

  /** Listens to status changes (for logs, tests and the simulator's checkers). */
  public interface Listener {
    void onStatusChange(long member, Status from, Status to, long incarnation, long nowMs);
  }

  private final Ring ring;
  private final int self;
  private final MembershipConfig config;
  private final SplittableRandom random;
  private final Status[] status;
  private final long[] incarnation;
  private final long[] suspectDeadlineMs;
  private final int[] retransmitsLeft;
  private final boolean[] live;
  /** When each member's last message arrived, in ms; -1 before the first. */
  private final long[] lastHeardMs;
  private final int retransmits;
  private final int[] order;
  private int orderPosition;
  private Listener listener = (member, from, to, inc, now) -> { };
  private NodeEvents events = NodeEvents.NONE;
  private int liveCount;

  // The probe in progress.
  private int probeTarget = -1;
  private long probeSequence;
  private long probeIndirectAtMs;
  private boolean probeAcked;
  private boolean probeIndirectSent;
  private long nextProbeAtMs;
  private long lastTickMs;
  private long nextDeadProbeAtMs;
  private long sequence;

  // PING_REQs we relay: our PING's sequence -> requester and its sequence.
  private final long[] relaySequence;
  private final long[] relayRequester;
  private final long[] relayRequesterSequence;
  private final long[] relayExpiresAtMs;

  private long messagesSent;
  private long declaredDead;
  private long deadIncarnationHeard;
  private long viewVersion;

  public Membership(Ring ring, long selfAddress, long incarnationInitial, MembershipConfig config,
      long seed) {
    this.ring = ring;
    this.self = ring.indexOf(selfAddress);
    Invariants.check(self >= 0, "self %d is not among the %d members", selfAddress, ring.size());
    this.config = config;
    this.random = new SplittableRandom(seed);
    int n = ring.size();
    this.status = new Status[n];
    this.incarnation = new long[n];
    this.suspectDeadlineMs = new long[n];
    this.retransmitsLeft = new int[n];
    this.live = new boolean[n];
    this.lastHeardMs = new long[n];
    Arrays.fill(lastHeardMs, -1);
    for (int i = 0; i < n; i++) {
      status[i] = Status.ALIVE;
      live[i] = true;
    }
    this.liveCount = n;
    this.incarnation[self] = incarnationInitial;
    this.retransmits = config.retransmitMultiplier() * (32 - Integer.numberOfLeadingZeros(n));
    this.retransmitsLeft[self] = retransmits;
    this.order = new int[Math.max(0, n - 1)];
    for (int i = 0, j = 0; i < n; i++) {
      if (i != self) {
        order[j++] = i;
      }
    }
    this.orderPosition = order.length;
    this.relaySequence = new long[config.relaysMax()];
    this.relayRequester = new long[config.relaysMax()];
    this.relayRequesterSequence = new long[config.relaysMax()];
    this.relayExpiresAtMs = new long[config.relaysMax()];
  }

  public void setListener(Listener listener) {
    this.listener = listener;
  }

  /** Where status changes and refutations are reported (for the host's logs). */
  public void setEvents(NodeEvents events) {
    this.events = events;
  }

  /** Members not believed dead, this one included: what GET_MEMBERSHIP_COUNT answers. */
  public int liveCount() {
    return liveCount;
  }

  /** Per member index, whether it is believed alive or suspect (the ring routes to those). */
  public boolean[] live() {
    return live;
  }

  /**
   * How many times this node has heard itself declared dead (and refuted). The others have moved
   * its data elsewhere meanwhile, so the node must forget what it holds and catch up again.
   */
  public long declaredDeadCount() {
    return declaredDead;
  }

  /** Counts changes of {@link #live()}: equal versions mean the same view. */
  public long viewVersion() {
    return viewVersion;
  }

  public Status status(int member) {
    return status[member];
  }

  public long incarnation(int member) {
    return incarnation[member];
  }

  /** When a membership message from {@code member} last arrived, in ms; -1 if never. */
  public long lastHeardMs(int member) {
    return lastHeardMs[member];
  }

  public int selfIndex() {
    return self;
  }

  public long messagesSent() {
    return messagesSent;
  }

  /** Runs the protocol's timers: probes, indirect probes, suspicion timeouts. */
  public void onTick(long nowMs, Sender out) {
    if (ring.size() == 1) {
      return;
    }
    long gapMs = nowMs - lastTickMs;
    lastTickMs = nowMs;
    if (gapMs > 2 * config.protocolPeriodMs() && nextProbeAtMs > 0) {
      // This member did not run for a while (suspended, or starved of CPU): it could not hear
      // refutations or ACKs meanwhile, so its timers are stale, not the others' liveness. Give
      // suspects the time they lost, and drop the probe that was in flight.
      for (int m = 0; m < status.length; m++) {
        if (status[m] == Status.SUSPECT) {
          suspectDeadlineMs[m] += gapMs;
        }
      }
      probeTarget = -1;
      nextProbeAtMs = nowMs;
    }
    for (int m = 0; m < status.length; m++) {
      if (status[m] == Status.SUSPECT && nowMs >= suspectDeadlineMs[m]) {
        set(m, Status.DEAD, incarnation[m], nowMs);
      }
    }
    if (probeTarget >= 0 && !probeAcked && !probeIndirectSent && nowMs >= probeIndirectAtMs) {
      probeIndirectSent = true;
      sendPingRequests(nowMs, out);
    }
    if (nowMs >= nextProbeAtMs) {
      if (probeTarget >= 0 && !probeAcked && status[probeTarget] == Status.ALIVE) {
        set(probeTarget, Status.SUSPECT, incarnation[probeTarget], nowMs);
        // Tell the suspect at once (the message carries our suspicion), so that a member that
        // is alive but unlucky refutes before anyone's suspicion timeout runs out.
        send(ring.member(probeTarget), Gossip.newBuilder().setKind(Gossip.Kind.PING)
            .setSequence(++sequence), out);
      }
      startProbe(nextTarget(nowMs), nowMs, out);
      nextProbeAtMs = nowMs + config.protocolPeriodMs();
    }
  }

  /** Handles one membership message from {@code from}. */
  public void onGossip(long from, Gossip gossip, long nowMs, Sender out) {
    int sender = ring.indexOf(from);
    if (sender >= 0) {
      lastHeardMs[sender] = nowMs;
    }
    for (Update update : gossip.getUpdatesList()) {
      apply(update, nowMs);
    }
    switch (gossip.getKind()) {
      case PING: {
        Gossip.Builder ack = Gossip.newBuilder().setKind(Gossip.Kind.ACK)
            .setSequence(gossip.getSequence());
        send(from, ack, out);
        break;
      }
      case ACK:
        onAck(gossip, nowMs, out);
        break;
      case PING_REQ:
        onPingRequest(from, gossip, nowMs, out);
        break;
      default:
        break;
    }
  }

  private void onAck(Gossip gossip, long nowMs, Sender out) {
    long seq = gossip.getSequence();
    if (probeTarget >= 0 && seq == probeSequence) {
      probeAcked = true;
      return;
    }
    for (int i = 0; i < relaySequence.length; i++) {
      if (relayExpiresAtMs[i] > nowMs && relaySequence[i] == seq) {
        relayExpiresAtMs[i] = 0;
        Gossip.Builder relayed = Gossip.newBuilder().setKind(Gossip.Kind.ACK)
            .setSequence(relayRequesterSequence[i]).setTarget(gossip.getFrom());
        send(relayRequester[i], relayed, out);
        return;
      }
    }
  }

  private void onPingRequest(long from, Gossip gossip, long nowMs, Sender out) {
    int slot = -1;
    for (int i = 0; i < relayExpiresAtMs.length && slot < 0; i++) {
      if (relayExpiresAtMs[i] <= nowMs) {
        slot = i;
      }
    }
    int target = ring.indexOf(gossip.getTarget());
    if (slot < 0 || target < 0 || target == self || gossip.getTarget() == from) {
      // Too many relays in progress, or a target that is unknown, this node or the requester
      // itself: the requester copes.
      return;
    }
    long seq = ++sequence;
    relaySequence[slot] = seq;
    relayRequester[slot] = from;
    relayRequesterSequence[slot] = gossip.getSequence();
    relayExpiresAtMs[slot] = nowMs + config.protocolPeriodMs();
    send(gossip.getTarget(), Gossip.newBuilder().setKind(Gossip.Kind.PING).setSequence(seq)
        .setRequester(from), out);
  }

  private void startProbe(int target, long nowMs, Sender out) {
    probeTarget = target;
    probeAcked = false;
    probeIndirectSent = false;
    if (target < 0) {
      return;
    }
    probeSequence = ++sequence;
    probeIndirectAtMs = nowMs + config.probeTimeoutMs();
    send(ring.member(target), Gossip.newBuilder().setKind(Gossip.Kind.PING)
        .setSequence(probeSequence), out);
  }

  private void sendPingRequests(long nowMs, Sender out) {
    // Distinct helpers: walk the shuffled round from a random place.
    int asked = 0;
    int start = random.nextInt(order.length);
    for (int i = 0; i < order.length && asked < config.indirectProbes(); i++) {
      int helper = order[(start + i) % order.length];
      if (helper == probeTarget || status[helper] != Status.ALIVE) {
        continue;
      }
      asked++;
      send(ring.member(helper), Gossip.newBuilder().setKind(Gossip.Kind.PING_REQ)
          .setSequence(probeSequence).setTarget(ring.member(probeTarget)), out);
    }
  }

  /** The next member to probe: the next live one of a shuffled round, or now and then a dead one. */
  private int nextTarget(long nowMs) {
    if (nowMs >= nextDeadProbeAtMs) {
      nextDeadProbeAtMs = nowMs + config.deadProbeIntervalMs();
      int dead = randomMember(Status.DEAD);
      if (dead >= 0) {
        return dead;
      }
    }
    for (int tries = 0; tries <= order.length; tries++) {
      if (orderPosition >= order.length) {
        shuffle();
        orderPosition = 0;
      }
      int candidate = order[orderPosition++];
      if (status[candidate] != Status.DEAD) {
        return candidate;
      }
    }
    return -1;
  }

  private int randomMember(Status wanted) {
    int count = 0;
    for (int m : order) {
      if (status[m] == wanted) {
        count++;
      }
    }
    if (count == 0) {
      return -1;
    }
    int pick = random.nextInt(count);
    for (int m : order) {
      if (status[m] == wanted && pick-- == 0) {
        return m;
      }
    }
    return -1;
  }

  private void shuffle() {
    for (int i = order.length - 1; i > 0; i--) {
      int j = random.nextInt(i + 1);
      int t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
  }

  private void apply(Update update, long nowMs) {
    int m = ring.indexOf(update.getMember());
    if (m < 0) {
      return;
    }
    long inc = update.getIncarnation();
    Status next = toStatus(update.getStatus());
    if (m == self) {
      // Declared dead at an incarnation not heard before, even one already refuted (we may have
      // refuted a suspicion first): the others moved on without us meanwhile.
      if (next == Status.DEAD && (declaredDead == 0 || inc > deadIncarnationHeard)) {
        declaredDead++;
        deadIncarnationHeard = inc;
      }
      if (next != Status.ALIVE && inc >= incarnation[self]) {
        incarnation[self] = inc + 1; // Refute: we are alive, at a newer incarnation.
        retransmitsLeft[self] = retransmits;
        events.selfRefuted(next, inc, incarnation[self], nowMs);
      }
      return;
    }
    Status current = status[m];
    long known = incarnation[m];
    boolean wins;
    switch (next) {
      case ALIVE:
        wins = inc > known;
        break;
      case SUSPECT:
        wins = current == Status.ALIVE ? inc >= known : inc > known;
        break;
      default:
        wins = current == Status.DEAD ? inc > known : inc >= known;
        break;
    }
    if (wins) {
      set(m, next, inc, nowMs);
    }
  }

  private void set(int m, Status next, long inc, long nowMs) {
    Status previous = status[m];
    boolean changed = previous != next || incarnation[m] != inc;
    status[m] = next;
    incarnation[m] = inc;
    if (!changed) {
      return;
    }
    retransmitsLeft[m] = retransmits;
    if (next == Status.SUSPECT && previous != Status.SUSPECT) {
      suspectDeadlineMs[m] = nowMs + config.suspicionTimeoutMs();
    }
    boolean nowLive = next != Status.DEAD;
    if (live[m] != nowLive) {
      live[m] = nowLive;
      liveCount += nowLive ? 1 : -1;
      viewVersion++;
    }
    Invariants.check(liveCount >= 1 && liveCount <= status.length, "live count %d of %d",
        liveCount, status.length);
    if (previous != next) {
      listener.onStatusChange(ring.member(m), previous, next, inc, nowMs);
      events.memberStatusChanged(ring.member(m), previous, next, inc, liveCount, status.length,
          nowMs);
    }
  }

  /** Adds piggybacked updates and sends. */
  private void send(long to, Gossip.Builder gossip, Sender out) {
    gossip.setFrom(ring.member(self));
    int budget = config.updatesPerMessageMax();
    // Tell the destination what we believe about it when that is bad news, so it can refute.
    int dest = ring.indexOf(to);
    if (dest >= 0 && status[dest] != Status.ALIVE) {
      gossip.addUpdates(update(dest));
      budget--;
    }
    // Our own liveness rides on every message: the cheapest way to spread a refutation.
    gossip.addUpdates(update(self));
    budget--;
    if (retransmitsLeft[self] > 0) {
      retransmitsLeft[self]--;
    }
    // Then the updates with the most retransmissions left (the freshest news).
    while (budget > 0) {
      int best = -1;
      for (int m = 0; m < retransmitsLeft.length; m++) {
        if (m != self && m != dest && retransmitsLeft[m] > 0
            && (best < 0 || retransmitsLeft[m] > retransmitsLeft[best])
            && !alreadyAdded(gossip, m)) {
          best = m;
        }
      }
      if (best < 0) {
        break;
      }
      gossip.addUpdates(update(best));
      retransmitsLeft[best]--;
      budget--;
    }
    messagesSent++;
    out.send(to, gossip.build());
  }

  private boolean alreadyAdded(Gossip.Builder gossip, int m) {
    long member = ring.member(m);
    for (int i = 0; i < gossip.getUpdatesCount(); i++) {
      if (gossip.getUpdates(i).getMember() == member) {
        return true;
      }
    }
    return false;
  }

  private Update update(int m) {
    return Update.newBuilder().setMember(ring.member(m)).setIncarnation(incarnation[m])
        .setStatus(toProto(status[m])).build();
  }

  private static Status toStatus(Update.Status s) {
    switch (s) {
      case SUSPECT: return Status.SUSPECT;
      case DEAD: return Status.DEAD;
      default: return Status.ALIVE;
    }
  }

  private static Update.Status toProto(Status s) {
    switch (s) {
      case SUSPECT: return Update.Status.SUSPECT;
      case DEAD: return Update.Status.DEAD;
      default: return Update.Status.ALIVE;
    }
  }
}
