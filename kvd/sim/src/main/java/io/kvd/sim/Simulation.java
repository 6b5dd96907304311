package io.kvd.sim;

import io.kvd.core.Addresses;
import io.kvd.core.Invariants;
import io.kvd.core.Node;
import io.kvd.core.NodeConfig;
import io.kvd.core.Outbox;
import io.kvd.core.cluster.ClusterConfig;
import io.kvd.core.cluster.Membership;
import io.kvd.core.cluster.MembershipConfig;
import io.kvd.core.cluster.Ring;
import io.kvd.core.replication.ReplicationConfig;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * N kvd nodes on one thread: a simulated clock, a simulated network (delay, jitter, loss,
 * duplication, reordering, symmetric and one-way partitions) and node faults (crash and restart,
 * pause and resume). Everything follows from the seed: the same seed replays the same run, event
 * for event. Clients are addresses outside the cluster whose replies are handed to a callback.
 */
public final class Simulation {
  /** How often each node's timer runs, as in the Netty shell. */
  public static final long TICK_INTERVAL_MS = 10;
  /** Datagrams a paused node's socket buffers; more are dropped, as the kernel would. */
  public static final int PAUSED_BUFFER_MAX = 2_000;
  /** Events in flight at most; a run that exceeds it is a bug in the run. */
  public static final int EVENTS_MAX = 5_000_000;
  /** Simulated wall-clock seconds at time 0, for incarnations of restarted nodes. */
  private static final long EPOCH_SECONDS = 1_800_000_000L;

  /** A node's condition. */
  public enum State { UP, CRASHED, PAUSED }

  private final long seed;
  private final SplittableRandom random;
  private final long[] addresses;
  private final Node[] nodes;
  private final State[] states;
  private final List<ArrayDeque<Datagram>> pausedBuffers = new ArrayList<>();
  private final Map<Long, Integer> indexByAddress = new HashMap<>();
  private final Set<Long> blockedLinks = new HashSet<>(); // from index * 2^20 + to index
  private final PriorityQueue<Event> events = new PriorityQueue<>();
  private final MembershipConfig membershipConfig;
  private final int virtualNodes;
  private final Outbox[] outboxes;
  private NetworkConfig network;
  private long nowMs;
  private long sequence;
  private ClientReplies clientReplies = (client, from, datagram) -> { };
  private StatusObserver listener = (observer, member, from, to, now) -> { };
  private final long[] bytesSentByNode;
  private final long[] gossipBytesSentByNode;
  private long datagramsDelivered;
  private boolean clientLinksFaulty;

  private record Datagram(long from, long to, byte[] bytes) {}

  /** Sees every status change any node's membership makes. */
  public interface StatusObserver {
    void onChange(int observer, int member, Membership.Status from, Membership.Status to,
        long nowMs);
  }

  /** Receives a datagram a node sent to a client address. */
  public interface ClientReplies {
    void onReply(long client, long fromNode, byte[] datagram);
  }

  private static final class Event implements Comparable<Event> {
    final long atMs;
    final long order;
    final int node; // tick target, or -1
    final Datagram datagram; // delivery, or null
    final Runnable action; // a scheduled action (clients' timers), or null

    Event(long atMs, long order, int node, Datagram datagram) {
      this(atMs, order, node, datagram, null);
    }

    Event(long atMs, long order, int node, Datagram datagram, Runnable action) {
      this.atMs = atMs;
      this.order = order;
      this.node = node;
      this.datagram = datagram;
      this.action = action;
    }

    @Override
    public int compareTo(Event other) {
      int c = Long.compare(atMs, other.atMs);
      return c != 0 ? c : Long.compare(order, other.order);
    }
  }

  private final ReplicationConfig replicationConfig;

  public Simulation(long seed, int nodeCount, NetworkConfig network,
      MembershipConfig membershipConfig, int virtualNodes) {
    this(seed, nodeCount, network, membershipConfig, virtualNodes, ReplicationConfig.DEFAULT);
  }

  public Simulation(long seed, int nodeCount, NetworkConfig network,
      MembershipConfig membershipConfig, int virtualNodes, ReplicationConfig replicationConfig) {
    this.replicationConfig = replicationConfig;
    this.seed = seed;
    this.random = new SplittableRandom(seed);
    this.network = network;
    this.membershipConfig = membershipConfig;
    this.virtualNodes = virtualNodes;
    this.addresses = new long[nodeCount];
    this.nodes = new Node[nodeCount];
    this.states = new State[nodeCount];
    this.outboxes = new Outbox[nodeCount];
    this.bytesSentByNode = new long[nodeCount];
    this.gossipBytesSentByNode = new long[nodeCount];
    for (int i = 0; i < nodeCount; i++) {
      addresses[i] = Addresses.of(0x0A00_0000 | (i + 1), 43100);
      indexByAddress.put(addresses[i], i);
      pausedBuffers.add(new ArrayDeque<>());
      int index = i;
      outboxes[i] = new Outbox() {
        @Override
        public void send(long to, byte[] datagram) {
          transmit(index, to, datagram);
        }

        @Override
        public void shutdown() {
          crash(index);
        }
      };
    }
    for (int i = 0; i < nodeCount; i++) {
      start(i);
      schedule(new Event(random.nextLong(TICK_INTERVAL_MS), sequence++, i, null));
    }
  }

  public long seed() {
    return seed;
  }

  public long nowMs() {
    return nowMs;
  }

  public int size() {
    return nodes.length;
  }

  public long address(int node) {
    return addresses[node];
  }

  public int indexOf(long address) {
    Integer i = indexByAddress.get(address);
    return i == null ? -1 : i;
  }

  public Node node(int index) {
    return nodes[index];
  }

  public State state(int index) {
    return states[index];
  }

  public void setNetwork(NetworkConfig network) {
    this.network = network;
  }

  public NetworkConfig network() {
    return network;
  }

  public void setStatusObserver(StatusObserver listener) {
    this.listener = listener;
  }

  /** Receives datagrams sent to addresses that are not nodes (clients). */
  public void setClientReplies(ClientReplies handler) {
    this.clientReplies = handler;
  }

  public long bytesSent(int node) {
    return bytesSentByNode[node];
  }

  public long gossipBytesSent(int node) {
    return gossipBytesSentByNode[node];
  }

  public long datagramsDelivered() {
    return datagramsDelivered;
  }

  /** A client at {@code clientAddress} sends {@code datagram} to node {@code to}. */
  public void clientSend(long clientAddress, int to, byte[] datagram) {
    if (clientLinksFaulty && percent(network.lossPct())) {
      return;
    }
    deliverLater(clientAddress, addresses[to], datagram);
  }

  /** Runs {@code action} at simulated time {@code atMs} (at least now). */
  public void at(long atMs, Runnable action) {
    schedule(new Event(Math.max(atMs, nowMs), sequence++, -1, null, action));
  }

  /** Whether client links (requests and replies) suffer the network's faults too. */
  public void setClientLinksFaulty(boolean faulty) {
    this.clientLinksFaulty = faulty;
  }

  /** A random number from the simulation's seeded stream, for clients' choices. */
  public SplittableRandom random() {
    return random;
  }

  /** Runs events until {@code untilMs}. */
  public void runUntil(long untilMs) {
    while (!events.isEmpty() && events.peek().atMs <= untilMs) {
      Event event = events.poll();
      nowMs = event.atMs;
      if (event.action != null) {
        event.action.run();
      } else if (event.datagram != null) {
        deliver(event.datagram);
      } else {
        tick(event.node);
      }
    }
    nowMs = Math.max(nowMs, untilMs);
  }

  /** The node stops at once and forgets everything, as after SHUTDOWN or kill -9. */
  public void crash(int node) {
    states[node] = State.CRASHED;
    pausedBuffers.get(node).clear();
  }

  /** A crashed node starts again, empty, with an incarnation from the simulated wall clock. */
  public void restart(int node) {
    Invariants.check(states[node] == State.CRASHED, "restart of node %d in state %d", node,
        states[node].ordinal());
    start(node);
  }

  /** The node stops running (SIGSTOP): its socket buffers datagrams, its timers wait. */
  public void pause(int node) {
    if (states[node] == State.UP) {
      states[node] = State.PAUSED;
    }
  }

  /** The node runs again (SIGCONT) and first reads what its socket buffered. */
  public void resume(int node) {
    if (states[node] != State.PAUSED) {
      return;
    }
    states[node] = State.UP;
    ArrayDeque<Datagram> buffered = pausedBuffers.get(node);
    while (!buffered.isEmpty()) {
      deliver(buffered.poll());
    }
  }

  /** Drops every datagram from {@code from} to {@code to} (a one-way partition). */
  public void block(int from, int to) {
    blockedLinks.add(link(from, to));
  }

  /** Cuts {@code group} off from every other node, both ways. */
  public void isolate(int... group) {
    Set<Integer> inside = new HashSet<>();
    for (int g : group) {
      inside.add(g);
    }
    for (int a = 0; a < nodes.length; a++) {
      for (int b = 0; b < nodes.length; b++) {
        if (inside.contains(a) != inside.contains(b)) {
          block(a, b);
        }
      }
    }
  }

  /** Removes every partition. */
  public void heal() {
    blockedLinks.clear();
  }

  public boolean blocked(int from, int to) {
    return blockedLinks.contains(link(from, to));
  }

  private static long link(int from, int to) {
    return ((long) from << 20) | to;
  }

  private void start(int i) {
    long incarnation = EPOCH_SECONDS + nowMs / 1000;
    ClusterConfig cluster = new ClusterConfig(addresses, addresses[i], virtualNodes,
        membershipConfig, incarnation, random.nextLong()).withReplication(replicationConfig);
    NodeConfig config = NodeConfig.defaults(1000 + i, 8L << 20, random.nextLong())
        .withReplyCacheLengthMax(1L << 20);
    Node node = new Node(config, cluster);
    node.membership().setListener((member, from, to, inc, now) ->
        listener.onChange(i, indexOf(member), from, to, now));
    nodes[i] = node;
    states[i] = State.UP;
  }

  private void tick(int i) {
    if (states[i] == State.UP) {
      nodes[i].onTick(nowMs, outboxes[i]);
    }
    schedule(new Event(nowMs + TICK_INTERVAL_MS, sequence++, i, null));
  }

  private void transmit(int fromNode, long to, byte[] datagram) {
    bytesSentByNode[fromNode] += datagram.length;
    if (isGossip(datagram)) {
      gossipBytesSentByNode[fromNode] += datagram.length;
    }
    int toNode = indexOf(to);
    if (toNode >= 0 && blocked(fromNode, toNode)) {
      return;
    }
    if (toNode < 0 && !clientLinksFaulty) {
      // Unless asked otherwise, replies to clients skip the network's faults.
      deliverLater(addresses[fromNode], to, datagram);
      return;
    }
    if (percent(network.lossPct())) {
      return;
    }
    deliverLater(addresses[fromNode], to, datagram);
    if (percent(network.duplicatePct())) {
      deliverLater(addresses[fromNode], to, datagram);
    }
  }

  /** PeerMsg field 102 (gossip = true) is encoded as the bytes 0xB0 0x06 0x01. */
  private static boolean isGossip(byte[] d) {
    int n = d.length;
    return n >= 3 && (d[n - 3] & 0xFF) == 0xB0 && d[n - 2] == 0x06 && d[n - 1] == 0x01;
  }

  private void deliverLater(long from, long to, byte[] datagram) {
    long delay = network.delayMsMean();
    if (network.jitterMs() > 0) {
      delay += random.nextLong(-network.jitterMs(), network.jitterMs() + 1);
    }
    if (percent(network.reorderPct())) {
      delay += random.nextLong(4 * network.delayMsMean() + 1);
    }
    schedule(new Event(nowMs + Math.max(0, delay), sequence++, -1,
        new Datagram(from, to, datagram)));
  }

  private final byte[] receiveScratch = new byte[NodeConfig.DATAGRAM_LENGTH_MAX];

  private void deliver(Datagram d) {
    int to = indexOf(d.to());
    if (to < 0) {
      clientReplies.onReply(d.to(), d.from(), d.bytes());
      return;
    }
    switch (states[to]) {
      case CRASHED:
        return;
      case PAUSED:
        if (pausedBuffers.get(to).size() < PAUSED_BUFFER_MAX) {
          pausedBuffers.get(to).add(d);
        }
        return;
      default:
        datagramsDelivered++;
        // As the Netty shell does: through one array reused for every datagram. It is then
        // overwritten, so a view of it that a node kept past the call reads garbage.
        int length = d.bytes().length;
        if (length > receiveScratch.length) {
          nodes[to].onDatagram(d.from(), d.bytes(), length, nowMs, outboxes[to]);
          return;
        }
        System.arraycopy(d.bytes(), 0, receiveScratch, 0, length);
        nodes[to].onDatagram(d.from(), receiveScratch, length, nowMs, outboxes[to]);
        Arrays.fill(receiveScratch, 0, length, (byte) 0xA5);
    }
  }

  private void schedule(Event event) {
    Invariants.check(events.size() < EVENTS_MAX, "%d events in flight, limit %d",
        events.size(), EVENTS_MAX);
    events.add(event);
  }

  private boolean percent(double pct) {
    return pct > 0 && random.nextDouble() * 100 < pct;
  }

  /** True when every UP node believes exactly the UP and PAUSED-then-resumed nodes alive. */
  public boolean membershipConverged() {
    for (int observer = 0; observer < nodes.length; observer++) {
      if (states[observer] != State.UP) {
        continue;
      }
      Membership m = nodes[observer].membership();
      for (int member = 0; member < nodes.length; member++) {
        boolean believedLive = m.live()[nodes[observer].ring().indexOf(addresses[member])];
        if (believedLive != (states[member] == State.UP)) {
          return false;
        }
      }
    }
    return true;
  }

  /** Ring index of a node's address (ring members are sorted by address). */
  public int ringIndex(int node) {
    return nodes[0].ring().indexOf(addresses[node]);
  }

  /** The ring every node shares (the same members, so the same tokens). */
  public Ring ring() {
    return nodes[0].ring();
  }
}
