package io.kvd.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.kvd.core.NodeEvents.RepairCycle;
import io.kvd.core.cluster.ClusterConfig;
import io.kvd.core.cluster.Membership.Status;
import io.kvd.core.cluster.MembershipConfig;
import io.kvd.core.codec.ClientCodec;
import io.kvd.proto.ClientProtocol.KVRequest;
import io.kvd.proto.ClientProtocol.KVResponse;
import io.kvd.proto.ClientProtocol.Msg;
import io.kvd.proto.PeerProtocol.AdminReply;
import io.kvd.proto.PeerProtocol.AdminRequest;
import io.kvd.proto.PeerProtocol.LinkFaults;
import io.kvd.proto.PeerProtocol.PeerMsg;
import io.kvd.proto.PeerProtocol.LatencyHistogram;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.PriorityQueue;
import org.junit.jupiter.api.Test;

/**
 * Proves what the core tells its host through {@link NodeEvents}, and how it counts request
 * latency. How: a few real Nodes on a deterministic in-memory network (every datagram arrives
 * {@code linkDelayMs} after it is sent; a node that is down neither ticks nor receives), stepped
 * in simulated time; each node's events are recorded. Membership: a member that stops is
 * suspected, then declared dead, and rejoins at a higher incarnation after refuting its death
 * (it also reports its stall). Repair: a key held by one node only is pulled by the others in a
 * completed cycle. Operator faults and blocks, their expiry, and internal errors (reported, then
 * thrown). Latency: a replicated GET's reply waits for two network hops, so its latency is
 * exactly twice the link delay, in the bucket whose bound is that value; and the buckets' edges
 * are inclusive upper bounds.
 */
class NodeEventsTest {
  private static final long CLIENT = Addresses.of(0x0A00_0001, 50_000);

  /** One node's events, in order, as text (for messages) and as records. */
  static final class RecordingEvents implements NodeEvents {
    record Change(long member, Status from, Status to, long incarnation, int liveCount) {}

    final List<Change> changes = new ArrayList<>();
    final List<RepairCycle> cycles = new ArrayList<>();
    final List<String> log = new ArrayList<>();
    long refutedAt = -1;
    long stalledMs = -1;

    @Override
    public void memberStatusChanged(long member, Status from, Status to, long incarnation,
        int liveCount, int memberCount, long nowMs) {
      changes.add(new Change(member, from, to, incarnation, liveCount));
      log.add(nowMs + " " + Addresses.toString(member) + " " + from + " -> " + to);
    }

    @Override
    public void selfRefuted(Status heard, long heardIncarnation, long newIncarnation,
        long nowMs) {
      refutedAt = newIncarnation;
      log.add(nowMs + " refuted " + heard + " at " + heardIncarnation);
    }

    @Override
    public void repairCycleCompleted(RepairCycle cycle) {
      cycles.add(cycle);
    }

    @Override
    public void stalled(long gapMs, long nowMs) {
      stalledMs = gapMs;
    }

    @Override
    public void internalError(String what, RuntimeException error, long nowMs) {
      log.add(nowMs + " error in " + what + ": " + error.getMessage());
    }

    @Override
    public void faultsSet(long requester, LinkFaults faults, long expiryMs, long nowMs) {
      log.add(nowMs + " faults by " + Addresses.toString(requester) + " delay "
          + faults.getDelayMs() + " for " + expiryMs);
    }

    @Override
    public void faultsCleared(long requester, boolean expired, long nowMs) {
      log.add(nowMs + " faults cleared " + (expired ? "expired" : "by "
          + Addresses.toString(requester)));
    }

    @Override
    public void linksBlocked(long requester, long[] peers, long expiryMs, long nowMs) {
      log.add(nowMs + " blocked " + Addresses.toString(peers[0]) + " for " + expiryMs);
    }

    @Override
    public void linksUnblocked(long requester, long[] peers, boolean expired, long nowMs) {
      log.add(nowMs + " unblocked " + peers.length + (expired ? " expired" : ""));
    }
  }

  /** Nodes on an in-memory network with a fixed delay per datagram. */
  static final class LocalCluster {
    private record Delivery(long atMs, long seq, long from, long to, byte[] datagram) {}

    final long[] addresses;
    final Node[] nodes;
    final RecordingEvents[] events;
    final boolean[] down;
    final long linkDelayMs;
    final List<byte[]> toClient = new ArrayList<>();
    private final PriorityQueue<Delivery> network = new PriorityQueue<>(
        (a, b) -> a.atMs != b.atMs ? Long.compare(a.atMs, b.atMs) : Long.compare(a.seq, b.seq));
    private long seq;
    long nowMs = 1_000;

    LocalCluster(int n, long linkDelayMs) {
      this.linkDelayMs = linkDelayMs;
      addresses = new long[n];
      for (int i = 0; i < n; i++) {
        addresses[i] = Addresses.of(0x7F00_0001, 43_100 + i);
      }
      nodes = new Node[n];
      events = new RecordingEvents[n];
      down = new boolean[n];
      for (int i = 0; i < n; i++) {
        ClusterConfig cluster = new ClusterConfig(addresses, addresses[i], 16,
            MembershipConfig.DEFAULT, 100, 1_000 + i);
        nodes[i] = new Node(NodeConfig.defaults(100 + i, 8L << 20, 7 + i), cluster);
        events[i] = new RecordingEvents();
        nodes[i].setEvents(events[i]);
      }
    }

    Outbox outbox(int from) {
      return new Outbox() {
        @Override
        public void send(long address, byte[] datagram) {
          network.add(new Delivery(nowMs + linkDelayMs, seq++, addresses[from], address,
              datagram));
        }

        @Override
        public void shutdown() {
        }
      };
    }

    int indexOf(long address) {
      for (int i = 0; i < addresses.length; i++) {
        if (addresses[i] == address) {
          return i;
        }
      }
      return -1;
    }

    /** A client datagram arriving at node {@code to} now. */
    void sendFromClient(int to, byte[] datagram) {
      network.add(new Delivery(nowMs, seq++, CLIENT, addresses[to], datagram));
      deliverDue();
    }

    /** Runs for {@code ms}: ticks every 10 ms, datagrams as they arrive. */
    void run(long ms) {
      long end = nowMs + ms;
      while (nowMs < end) {
        long nextTick = (nowMs / 10 + 1) * 10;
        while (!network.isEmpty() && network.peek().atMs < nextTick) {
          nowMs = Math.max(nowMs, network.peek().atMs);
          deliverDue();
        }
        nowMs = nextTick;
        deliverDue();
        for (int i = 0; i < nodes.length; i++) {
          if (!down[i]) {
            nodes[i].onTick(nowMs, outbox(i));
          }
        }
      }
    }

    private void deliverDue() {
      while (!network.isEmpty() && network.peek().atMs <= nowMs) {
        Delivery d = network.poll();
        if (d.to == CLIENT) {
          toClient.add(d.datagram);
          continue;
        }
        int to = indexOf(d.to);
        if (to >= 0 && !down[to]) {
          nodes[to].onDatagram(d.from, d.datagram, d.datagram.length, nowMs, outbox(to));
        }
      }
    }
  }

  @Test
  void membershipChangesRejoinAndRepairCyclesReachTheEvents() {
    LocalCluster c = new LocalCluster(3, 1);
    // A key only node 0 holds: the others pull it in their first repair cycle.
    byte[] key = "only-at-node-0".getBytes(StandardCharsets.UTF_8);
    byte[] value = new byte[100];
    c.nodes[0].store().put(key, value, 0, value.length, 0, (1L << 16));
    c.run(6_000);
    for (int i = 0; i < 3; i++) {
      assertTrue(c.events[i].changes.isEmpty(), "no status change while all run: "
          + c.events[i].log);
      assertFalse(c.events[i].cycles.isEmpty(), "node " + i + " completed a repair cycle");
      RepairCycle first = c.events[i].cycles.get(0);
      assertEquals(2, first.peers(), "a round with each of the 2 peers");
      assertTrue(first.rounds() >= 2, first.toString());
      assertTrue(first.durationMs() >= 0 && first.nowMs() <= c.nowMs, first.toString());
    }
    for (int i = 1; i < 3; i++) {
      assertEquals(1, c.events[i].cycles.stream().mapToLong(RepairCycle::keysPulled).sum(),
          "node " + i + " pulled the key once: " + c.events[i].cycles);
      assertEquals(c.nodes[0].store().get(key).length,
          c.events[i].cycles.stream().mapToLong(RepairCycle::bytesPulled).sum());
      assertTrue(c.nodes[i].store().get(key) != null, "node " + i + " holds the key");
    }
    long pushed = 0;
    for (int i = 0; i < 3; i++) {
      pushed += c.events[i].cycles.stream().mapToLong(RepairCycle::keysPushed).sum();
    }
    assertTrue(pushed >= 2, "the key was pushed to each puller: " + pushed);
    assertTrue(c.events[0].cycles.stream().mapToLong(RepairCycle::keysPushed).sum() >= 1,
        "node 0 pushed it first: " + c.events[0].cycles);
    assertEquals(0, c.events[0].cycles.stream().mapToLong(RepairCycle::keysPulled).sum());

    // Node 2 stops: the others suspect it, then declare it dead.
    c.down[2] = true;
    c.run(6_000);
    long two = c.addresses[2];
    for (int i = 0; i < 2; i++) {
      List<RecordingEvents.Change> about2 = c.events[i].changes.stream()
          .filter(ch -> ch.member() == two).toList();
      assertEquals(2, about2.size(), "node " + i + ": " + c.events[i].log);
      assertEquals(Status.ALIVE, about2.get(0).from());
      assertEquals(Status.SUSPECT, about2.get(0).to());
      assertEquals(Status.SUSPECT, about2.get(1).from());
      assertEquals(Status.DEAD, about2.get(1).to());
      assertEquals(2, about2.get(1).liveCount(), "2 of 3 live after the verdict");
      assertEquals(100, about2.get(1).incarnation());
    }

    // It comes back: it reports its stall, refutes its death at a higher incarnation, and the
    // others see it rejoin.
    c.down[2] = false;
    c.run(3_000);
    assertTrue(c.events[2].stalledMs >= 6_000, "stall of " + c.events[2].stalledMs + " ms");
    assertTrue(c.events[2].refutedAt > 100, c.events[2].log.toString());
    for (int i = 0; i < 2; i++) {
      RecordingEvents.Change last = c.events[i].changes.get(c.events[i].changes.size() - 1);
      assertEquals(two, last.member());
      assertEquals(Status.DEAD, last.from(), c.events[i].log.toString());
      assertEquals(Status.ALIVE, last.to());
      assertEquals(c.events[2].refutedAt, last.incarnation());
      assertEquals(3, last.liveCount());
    }
  }

  @Test
  void aReplicatedGetTakesTwoHopsAndLandsInTheBucketOfThatBound() {
    // Two members: every key's read quorum is both, so the coordinator answers once the other's
    // READ_REPLY is back, two link delays after the request arrived.
    for (long delayMs : new long[] {1, 5, 10}) {
      LocalCluster c = new LocalCluster(2, delayMs);
      c.run(5_000); // until repair has synced both (before that no read quorum is ready)
      ByteString id = ByteString.copyFromUtf8("latency-" + delayMs);
      KVRequest get = KVRequest.newBuilder().setCommand(Command.GET)
          .setKey(ByteString.copyFromUtf8("some-key")).build();
      c.sendFromClient(0, ClientCodec.encodeRequest(id, get));
      c.run(500);
      assertEquals(1, c.toClient.size(), "one reply");
      KVResponse reply = reply(c.toClient.get(0));
      assertEquals(ErrorCode.NOT_FOUND, reply.getErrCode());
      long latencyMs = 2 * delayMs;
      int expectedBucket = Latencies.bucketOf(latencyMs);
      assertEquals(latencyMs, Latencies.boundMs(expectedBucket),
          "the test's latencies sit exactly on a bound");
      long answered = 0;
      for (Node node : c.nodes) {
        Latencies l = node.stats().latencies();
        answered += l.total(Command.GET);
        if (l.total(Command.GET) == 1) {
          assertEquals(1, l.count(Command.GET, expectedBucket), "bucket of " + latencyMs + " ms");
          assertEquals(latencyMs, l.sumMs(Command.GET));
          AdminReply status = node.status(c.nowMs);
          LatencyHistogram h = status.getLatency(Command.GET);
          assertEquals(Command.GET, h.getCommand());
          assertEquals(1, h.getCounts(expectedBucket));
          assertEquals(latencyMs, h.getSumMs());
          assertEquals(Latencies.boundsCount(), status.getLatencyBoundsMsCount());
        }
      }
      assertEquals(1, answered, "exactly one node answered the GET");
    }
  }

  @Test
  void bucketsAreInclusiveUpperBoundsAndTheLastCountsEverythingAbove() {
    Latencies l = new Latencies();
    int last = Latencies.buckets() - 1;
    assertEquals(Latencies.boundsCount() + 1, Latencies.buckets());
    for (int b = 0; b < Latencies.boundsCount(); b++) {
      long bound = Latencies.boundMs(b);
      assertEquals(b, Latencies.bucketOf(bound), "a latency equal to a bound is in its bucket");
      assertEquals(b + 1, Latencies.bucketOf(bound + 1), "one ms more is in the next one");
      if (b > 0) {
        assertTrue(bound > Latencies.boundMs(b - 1), "bounds ascend");
      }
    }
    assertEquals(0, Latencies.boundMs(0), "the first bucket is the same millisecond");
    l.record(Command.PUT, 0);
    l.record(Command.PUT, 1);
    l.record(Command.PUT, 2);
    l.record(Command.PUT, 3);
    l.record(Command.PUT, 5);
    l.record(Command.PUT, Latencies.boundMs(Latencies.boundsCount() - 1));
    l.record(Command.PUT, Latencies.boundMs(Latencies.boundsCount() - 1) + 1);
    l.record(Command.PUT, Long.MAX_VALUE / 4);
    l.record(Command.PUT, -3); // cannot happen (time never goes back); counted as 0
    assertEquals(2, l.count(Command.PUT, 0));
    assertEquals(1, l.count(Command.PUT, 1));
    assertEquals(1, l.count(Command.PUT, 2));
    assertEquals(2, l.count(Command.PUT, 3), "3 and 5 ms are in (2, 5]");
    assertEquals(1, l.count(Command.PUT, last - 1));
    assertEquals(2, l.count(Command.PUT, last), "above the last bound");
    assertEquals(9, l.total(Command.PUT));
    assertEquals(0, l.total(Command.GET));
    l.record(77, 4);
    l.record(-1, 4);
    assertEquals(2, l.total(Command.COUNT), "unknown command codes together");
    assertEquals(8, l.sumMs(Command.COUNT));
    assertThrows(ArrayIndexOutOfBoundsException.class, () -> Latencies.boundMs(-1));
  }

  @Test
  void everyReplyOfASingleNodeIsCountedWithItsCommand() {
    Node node = new Node(NodeConfig.defaults(1, 8L << 20, 3));
    List<byte[]> sent = new ArrayList<>();
    Outbox out = recording(sent);
    long nowMs = 10;
    int id = 0;
    for (int command : new int[] {Command.PUT, Command.GET, Command.GET, Command.IS_ALIVE, 42}) {
      KVRequest request = KVRequest.newBuilder().setCommand(command)
          .setKey(ByteString.copyFromUtf8("k")).setValue(ByteString.copyFromUtf8("v")).build();
      byte[] datagram = ClientCodec.encodeRequest(ByteString.copyFromUtf8("id" + id++),
          request);
      node.onDatagram(CLIENT, datagram, datagram.length, nowMs++, out);
    }
    assertEquals(5, sent.size());
    Latencies l = node.stats().latencies();
    assertEquals(1, l.total(Command.PUT));
    assertEquals(2, l.total(Command.GET));
    assertEquals(1, l.total(Command.IS_ALIVE));
    assertEquals(1, l.total(Command.COUNT));
    assertEquals(2, l.count(Command.GET, 0), "answered in the millisecond they arrived");
    long replies = 0;
    for (int e = 0; e < ErrorCode.COUNT; e++) {
      replies += node.stats().replies(e);
    }
    long observed = 0;
    for (int c = 0; c <= Command.COUNT; c++) {
      observed += l.total(c);
    }
    assertEquals(replies, observed, "every reply is observed once");
  }

  @Test
  void operatorFaultsBlocksTheirExpiryAndInternalErrorsAreReported() {
    long self = Addresses.of(0x7F00_0001, 43_100);
    long peer = Addresses.of(0x7F00_0001, 43_101);
    Node node = new Node(NodeConfig.defaults(1, 8L << 20, 3), new ClusterConfig(
        new long[] {self, peer}, self, 16, MembershipConfig.DEFAULT, 1, 1));
    RecordingEvents events = new RecordingEvents();
    node.setEvents(events);
    List<byte[]> sent = new ArrayList<>();
    Outbox out = recording(sent);
    node.onTick(1_000, out);
    admin(node, AdminRequest.newBuilder().setKind(AdminRequest.Kind.FAULT_SET)
        .setFaults(LinkFaults.newBuilder().setDelayMs(7)).setExpiryMs(500).build(), 1_010, out);
    admin(node, AdminRequest.newBuilder().setKind(AdminRequest.Kind.BLOCK).addPeers(peer)
        .setExpiryMs(800).build(), 1_020, out);
    // (The peer never answers, so membership suspects it meanwhile: those lines are left out.)
    assertEquals(List.of("1010 faults by 10.0.0.1:50000 delay 7 for 500",
        "1020 blocked 127.0.0.1:43101 for 800"), operatorLines(events));
    node.onTick(1_509, out);
    assertEquals(2, operatorLines(events).size(), "nothing expires early");
    node.onTick(1_510, out);
    node.onTick(1_820, out);
    node.onTick(1_830, out);
    assertEquals(List.of("1510 faults cleared expired", "1820 unblocked 0 expired"),
        operatorLines(events).subList(2, 4), "each expiry once");
    admin(node, AdminRequest.newBuilder().setKind(AdminRequest.Kind.FAULT_CLEAR).build(), 1_840,
        out);
    assertEquals(4, operatorLines(events).size(), "clearing no faults is no event");

    IllegalStateException error = assertThrows(IllegalStateException.class,
        () -> node.onTick(1_000, out));
    assertTrue(error.getMessage().contains("time went back"), error.getMessage());
    assertEquals("1000 error in tick: " + error.getMessage(),
        events.log.get(events.log.size() - 1));
  }

  private static List<String> operatorLines(RecordingEvents events) {
    return events.log.stream().filter(line -> !line.contains(" -> ")).toList();
  }

  private static void admin(Node node, AdminRequest request, long nowMs, Outbox out) {
    ByteString id = ByteString.copyFromUtf8("admin-" + nowMs);
    ByteString payload = request.toByteString();
    byte[] datagram = PeerMsg.newBuilder().setMessageID(id).setPayload(payload)
        .setCheckSum(ClientCodec.checksum(id, payload)).setAdmin(true).build().toByteArray();
    node.onDatagram(CLIENT, datagram, datagram.length, nowMs, out);
  }

  private static KVResponse reply(byte[] datagram) {
    try {
      Msg msg = Msg.parseFrom(datagram);
      return ClientCodec.decodeReply(msg);
    } catch (Exception e) {
      throw new AssertionError("not a reply: " + e, e);
    }
  }

  /** An outbox that keeps every datagram sent in {@code sent}. */
  private static Outbox recording(List<byte[]> sent) {
    return new Outbox() {
      @Override
      public void send(long address, byte[] datagram) {
        sent.add(datagram);
      }

      @Override
      public void shutdown() {
      }
    };
  }
}
