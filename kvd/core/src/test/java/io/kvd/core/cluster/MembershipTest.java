package io.kvd.core.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvd.core.Addresses;
import io.kvd.proto.PeerProtocol.Gossip;
import io.kvd.proto.PeerProtocol.Update;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Proves the SWIM state machine stepped by hand with explicit time: the precedence of ALIVE,
 * SUSPECT and DEAD updates by incarnation, self-refutation, probing with PING then PING_REQ then
 * suspicion then death on schedule, relaying of indirect probes, and that every message to a
 * member believed dead carries that belief.
 */
class MembershipTest {
  private static final long A = Addresses.of(0x7F00_0001, 1);
  private static final long B = Addresses.of(0x7F00_0001, 2);
  private static final long C = Addresses.of(0x7F00_0001, 3);
  private static final long D = Addresses.of(0x7F00_0001, 4);
  private final List<long[]> sentTo = new ArrayList<>();
  private final List<Gossip> sent = new ArrayList<>();
  private final Membership.Sender out = (to, gossip) -> {
    sentTo.add(new long[] {to});
    sent.add(gossip);
  };
  private Ring ring;
  private Membership m;

  @BeforeEach
  void setUp() {
    ring = new Ring(new long[] {A, B, C, D}, 8);
    m = new Membership(ring, A, 100, MembershipConfig.DEFAULT, 1);
  }

  private static Gossip ping(long from, Update... updates) {
    Gossip.Builder g = Gossip.newBuilder().setKind(Gossip.Kind.PING).setFrom(from).setSequence(1);
    for (Update u : updates) {
      g.addUpdates(u);
    }
    return g.build();
  }

  private static Update update(long member, long incarnation, Update.Status status) {
    return Update.newBuilder().setMember(member).setIncarnation(incarnation).setStatus(status)
        .build();
  }

  private Membership.Status status(long member) {
    return m.status(ring.indexOf(member));
  }

  @Test
  void precedenceFollowsIncarnations() {
    m.onGossip(B, ping(B, update(C, 5, Update.Status.ALIVE)), 0, out);
    assertEquals(Membership.Status.ALIVE, status(C));
    m.onGossip(B, ping(B, update(C, 4, Update.Status.SUSPECT)), 1, out);
    assertEquals(Membership.Status.ALIVE, status(C), "an older suspicion loses");
    m.onGossip(B, ping(B, update(C, 5, Update.Status.SUSPECT)), 2, out);
    assertEquals(Membership.Status.SUSPECT, status(C), "suspicion at the same incarnation wins");
    m.onGossip(B, ping(B, update(C, 5, Update.Status.ALIVE)), 3, out);
    assertEquals(Membership.Status.SUSPECT, status(C), "ALIVE needs a newer incarnation");
    m.onGossip(B, ping(B, update(C, 6, Update.Status.ALIVE)), 4, out);
    assertEquals(Membership.Status.ALIVE, status(C), "a refutation wins");
    m.onGossip(B, ping(B, update(C, 6, Update.Status.DEAD)), 5, out);
    assertEquals(Membership.Status.DEAD, status(C));
    assertEquals(3, m.liveCount());
    m.onGossip(B, ping(B, update(C, 6, Update.Status.ALIVE)), 6, out);
    assertEquals(Membership.Status.DEAD, status(C), "DEAD beats ALIVE at the same incarnation");
    m.onGossip(B, ping(B, update(C, 7, Update.Status.ALIVE)), 7, out);
    assertEquals(Membership.Status.ALIVE, status(C), "a rejoin at a newer incarnation wins");
    assertEquals(4, m.liveCount());
  }

  @Test
  void aMemberRefutesSuspicionAndDeathOfItself() {
    m.onGossip(B, ping(B, update(A, 100, Update.Status.SUSPECT)), 0, out);
    assertEquals(101, m.incarnation(m.selfIndex()));
    m.onGossip(B, ping(B, update(A, 250, Update.Status.DEAD)), 1, out);
    assertEquals(251, m.incarnation(m.selfIndex()));
    m.onGossip(B, ping(B, update(A, 5, Update.Status.DEAD)), 2, out);
    assertEquals(251, m.incarnation(m.selfIndex()), "old news needs no refutation");
    // The ACK to that PING carries our newest incarnation.
    Gossip ack = sent.get(sent.size() - 1);
    assertEquals(Gossip.Kind.ACK, ack.getKind());
    assertTrue(ack.getUpdatesList().contains(update(A, 251, Update.Status.ALIVE)));
  }

  @Test
  void anUnansweredProbeLeadsToPingRequestsThenSuspicionThenDeath() {
    MembershipConfig c = MembershipConfig.DEFAULT;
    m.onTick(0, out);
    assertEquals(1, sent.size());
    Gossip probe = sent.get(0);
    assertEquals(Gossip.Kind.PING, probe.getKind());
    long target = sentTo.get(0)[0];
    m.onTick(c.probeTimeoutMs() - 1, out);
    assertEquals(1, sent.size(), "no indirect probe before the probe timeout");
    m.onTick(c.probeTimeoutMs(), out);
    // Only two other members can help in a cluster of four.
    assertEquals(3, sent.size());
    for (int i = 1; i < 3; i++) {
      assertEquals(Gossip.Kind.PING_REQ, sent.get(i).getKind());
      assertEquals(target, sent.get(i).getTarget());
      assertTrue(sentTo.get(i)[0] != target);
    }
    m.onTick(c.protocolPeriodMs(), out);
    assertEquals(Membership.Status.SUSPECT, status(target));
    // The suspect is told at once.
    boolean told = false;
    for (int i = 3; i < sent.size(); i++) {
      told |= sentTo.get(i)[0] == target && sent.get(i).getUpdatesList().stream()
          .anyMatch(u -> u.getMember() == target && u.getStatus() == Update.Status.SUSPECT);
    }
    assertTrue(told, "the suspect was told");
    // Time passes in ticks, as in the node (a long gap would mean this member was suspended).
    for (long t = c.protocolPeriodMs() + 10; t < c.protocolPeriodMs() + c.suspicionTimeoutMs();
        t += 10) {
      m.onTick(t, out);
    }
    m.onTick(c.protocolPeriodMs() + c.suspicionTimeoutMs() - 1, out);
    assertEquals(Membership.Status.SUSPECT, status(target));
    m.onTick(c.protocolPeriodMs() + c.suspicionTimeoutMs(), out);
    assertEquals(Membership.Status.DEAD, status(target));
    assertEquals(3, m.liveCount());
  }

  @Test
  void aMemberThatDidNotRunForAWhileGivesSuspectsTheTimeItLost() {
    MembershipConfig c = MembershipConfig.DEFAULT;
    m.onTick(0, out);
    long target = sentTo.get(0)[0];
    m.onTick(c.protocolPeriodMs(), out);
    assertEquals(Membership.Status.SUSPECT, status(target));
    long suspectedAt = c.protocolPeriodMs();
    // Suspended far past the suspicion timeout; on resuming, the suspect is not condemned.
    long resumedAt = suspectedAt + 10 * c.suspicionTimeoutMs();
    m.onTick(resumedAt, out);
    assertEquals(Membership.Status.SUSPECT, status(target));
    // It now has the rest of its suspicion timeout, counted in time this member ran.
    long deadline = suspectedAt + c.suspicionTimeoutMs() + (resumedAt - suspectedAt);
    for (long t = resumedAt + 10; t < deadline; t += 10) {
      m.onTick(t, out);
      assertEquals(Membership.Status.SUSPECT, status(target), "at " + t);
    }
    m.onTick(deadline, out);
    assertEquals(Membership.Status.DEAD, status(target));
  }

  @Test
  void anAckInTimeKeepsTheTargetAlive() {
    m.onTick(0, out);
    long target = sentTo.get(0)[0];
    m.onGossip(target, Gossip.newBuilder().setKind(Gossip.Kind.ACK).setFrom(target)
        .setSequence(sent.get(0).getSequence()).build(), 10, out);
    m.onTick(MembershipConfig.DEFAULT.protocolPeriodMs(), out);
    assertEquals(Membership.Status.ALIVE, status(target));
  }

  @Test
  void pingRequestsAreRelayedBothWays() {
    m.onGossip(B, Gossip.newBuilder().setKind(Gossip.Kind.PING_REQ).setFrom(B).setSequence(77)
        .setTarget(C).build(), 0, out);
    Gossip relayedPing = sent.get(0);
    assertEquals(C, sentTo.get(0)[0]);
    assertEquals(Gossip.Kind.PING, relayedPing.getKind());
    m.onGossip(C, Gossip.newBuilder().setKind(Gossip.Kind.ACK).setFrom(C)
        .setSequence(relayedPing.getSequence()).build(), 10, out);
    Gossip relayedAck = sent.get(1);
    assertEquals(B, sentTo.get(1)[0]);
    assertEquals(Gossip.Kind.ACK, relayedAck.getKind());
    assertEquals(77, relayedAck.getSequence());
  }

  @Test
  void relaysAreBoundedByRelaysMax() {
    MembershipConfig d = MembershipConfig.DEFAULT;
    MembershipConfig one = new MembershipConfig(d.protocolPeriodMs(), d.probeTimeoutMs(),
        d.indirectProbes(), d.suspicionTimeoutMs(), d.updatesPerMessageMax(),
        d.retransmitMultiplier(), d.deadProbeIntervalMs(), 1);
    m = new Membership(ring, A, 100, one, 1);
    Gossip request = Gossip.newBuilder().setKind(Gossip.Kind.PING_REQ).setFrom(B).setSequence(5)
        .setTarget(C).build();
    m.onGossip(B, request, 0, out);
    assertEquals(1, sent.size(), "the first relay is taken");
    m.onGossip(D, request.toBuilder().setFrom(D).build(), 1, out);
    assertEquals(1, sent.size(), "a second one at once is refused");
    m.onGossip(D, request.toBuilder().setFrom(D).build(), d.protocolPeriodMs(), out);
    assertEquals(2, sent.size(), "the slot frees when the first relay expires");
  }

  @Test
  void messagesToADeadMemberCarryThatBelief() {
    m.onGossip(B, ping(B, update(C, 9, Update.Status.DEAD)), 0, out);
    sent.clear();
    sentTo.clear();
    m.onGossip(C, ping(C, update(C, 9, Update.Status.ALIVE)), 1, out);
    assertEquals(C, sentTo.get(0)[0]);
    assertTrue(sent.get(0).getUpdatesList().contains(update(C, 9, Update.Status.DEAD)));
  }
}
