package io.kvd.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import io.kvd.core.cluster.ClusterConfig;
import io.kvd.core.cluster.MembershipConfig;
import io.kvd.core.codec.ClientCodec;
import io.kvd.core.codec.ClientCodec.DecodeException;
import io.kvd.core.codec.ClientCodec.DropReason;
import io.kvd.proto.ClientProtocol.KVRequest;
import io.kvd.proto.PeerProtocol.AdminReply;
import io.kvd.proto.PeerProtocol.AdminRequest;
import io.kvd.proto.PeerProtocol.Gossip;
import io.kvd.proto.PeerProtocol.LinkFaults;
import io.kvd.proto.PeerProtocol.MemberView;
import io.kvd.proto.PeerProtocol.PeerMsg;
import io.kvd.proto.PeerProtocol.Update;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Proves that a node answers the operator's admin requests (what kvctl sends): STATUS reports the
 * node's view of every member, its store, reply cache and counters (the last whole second
 * included); FAULT_SET hands the faults to the host's transport and takes them back at their
 * expiry; BLOCK drops traffic in both directions with the blocked members only, counted, until
 * its expiry or UNBLOCK; and requests out of bounds (percentages, delays, expiries, members) are
 * refused with a reason and change nothing; SHUTDOWN answers, then asks the host to exit;
 * WIPEOUT deletes the node's keys once per request however often it is retried; and admin
 * requests claiming a member's address, gossip from strangers or from the node's own address,
 * and a PING_REQ naming the node itself are dropped unanswered. How: a Node of a 3-member cluster is stepped with
 * explicit nowMs and a recording outbox.
 */
class AdminTest {
  private static final long SELF = Addresses.of(0x7F00_0001, 43_100);
  private static final long PEER_B = Addresses.of(0x7F00_0001, 43_101);
  private static final long PEER_C = Addresses.of(0x7F00_0001, 43_102);
  private static final long KVCTL = Addresses.of(0x7F00_0001, 50_000);

  /** Records datagrams and the faults the node asks its transport for. */
  private static final class Recorder implements Outbox {
    final List<long[]> to = new ArrayList<>();
    final List<byte[]> sent = new ArrayList<>();
    final List<LinkFaults> faults = new ArrayList<>();

    @Override
    public void send(long address, byte[] datagram) {
      to.add(new long[] {address});
      sent.add(datagram);
    }

    int shutdowns;

    @Override
    public void shutdown() {
      shutdowns++;
    }

    @Override
    public void faults(LinkFaults value) {
      faults.add(value);
    }
  }

  private final Node node = new Node(NodeConfig.defaults(77, 1L << 20, 5),
      new ClusterConfig(new long[] {SELF, PEER_B, PEER_C}, SELF, 8, MembershipConfig.DEFAULT, 1,
          1));
  private final Recorder out = new Recorder();
  private long nowMs = 1_000;
  private int nextId;

  private AdminReply admin(AdminRequest request) {
    return admin(ByteString.copyFrom(new byte[] {1, 2, 3, (byte) nextId++}), request);
  }

  private AdminReply admin(ByteString id, AdminRequest request) {
    ByteString payload = request.toByteString();
    byte[] datagram = PeerMsg.newBuilder().setMessageID(id).setPayload(payload)
        .setCheckSum(ClientCodec.checksum(id, payload)).setAdmin(true).build().toByteArray();
    int before = out.sent.size();
    node.onDatagram(KVCTL, datagram, datagram.length, nowMs, out);
    assertEquals(before + 1, out.sent.size(), "one reply");
    assertEquals(KVCTL, out.to.get(before)[0], "to the requester");
    try {
      PeerMsg reply = ClientCodec.decodePeerMsg(out.sent.get(before),
          out.sent.get(before).length, NodeConfig.DATAGRAM_LENGTH_MAX,
          NodeConfig.MESSAGE_ID_LENGTH_MAX);
      assertTrue(reply.getAdmin());
      assertEquals(id, reply.getMessageID());
      return AdminReply.parseFrom(reply.getPayload());
    } catch (DecodeException | InvalidProtocolBufferException e) {
      throw new AssertionError(e);
    }
  }

  private static AdminRequest status() {
    return AdminRequest.newBuilder().setKind(AdminRequest.Kind.STATUS).build();
  }

  private static AdminRequest faults(LinkFaults faults, long expiryMs) {
    return AdminRequest.newBuilder().setKind(AdminRequest.Kind.FAULT_SET).setFaults(faults)
        .setExpiryMs(expiryMs).build();
  }

  private static AdminRequest block(long expiryMs, long... peers) {
    AdminRequest.Builder request = AdminRequest.newBuilder().setKind(AdminRequest.Kind.BLOCK)
        .setExpiryMs(expiryMs);
    for (long peer : peers) {
      request.addPeers(peer);
    }
    return request.build();
  }

  private static long counter(AdminReply reply, String name) {
    return AdminReplies.counter(reply, name).orElseThrow(() -> new AssertionError("no counter " + name));
  }

  private void clientRequest(long from, KVRequest request) {
    byte[] datagram = ClientCodec.encodeRequest(ByteString.copyFromUtf8("id" + nextId++),
        request);
    node.onDatagram(from, datagram, datagram.length, nowMs, out);
  }

  private void gossipFrom(long from) {
    ByteString payload = Gossip.newBuilder().setKind(Gossip.Kind.PING).setFrom(from)
        .setSequence(nextId++).build().toByteString();
    byte[] datagram = PeerMsg.newBuilder().setMessageID(ByteString.EMPTY).setPayload(payload)
        .setCheckSum(ClientCodec.checksum(ByteString.EMPTY, payload)).setGossip(true).build()
        .toByteArray();
    node.onDatagram(from, datagram, datagram.length, nowMs, out);
  }

  @Test
  void statusReportsTheViewTheStoreAndTheCounters() {
    node.onTick(nowMs, out);
    gossipFrom(PEER_B);
    nowMs += 250;
    clientRequest(KVCTL, KVRequest.newBuilder().setCommand(Command.IS_ALIVE).build());
    clientRequest(KVCTL, KVRequest.newBuilder().setCommand(Command.IS_ALIVE).build());
    nowMs += 1_000;
    node.onTick(nowMs, out);
    AdminReply reply = admin(status());
    assertEquals(0, reply.getErrCode());
    assertEquals(SELF, reply.getSelf());
    assertEquals(77, reply.getPid());
    assertEquals(1_250, reply.getUptimeMs());
    assertEquals(8, reply.getVirtualNodes());
    assertEquals(3, reply.getMembersCount());
    MemberView b = reply.getMembers(1);
    assertEquals(PEER_B, b.getAddress(), "members in ring (address) order");
    assertEquals(Update.Status.ALIVE, b.getStatus());
    assertEquals(1_250, b.getLastHeardAgoMs());
    assertFalse(reply.getMembers(2).hasLastHeardAgoMs(), "never heard from C");
    assertFalse(reply.getMembers(0).hasLastHeardAgoMs(), "no last-heard for itself");
    assertEquals(1, reply.getMembers(0).getIncarnation());
    assertEquals(Command.COUNT + 1, reply.getRequestsCount());
    assertEquals(2, reply.getRequests(Command.IS_ALIVE));
    assertEquals(2, reply.getRequestsLastSecond(Command.IS_ALIVE),
        "the second that just closed held both");
    assertEquals(2, reply.getReplies(ErrorCode.SUCCESS));
    assertEquals(1L << 20, reply.getStoreBytesMax());
    assertEquals(0, reply.getStoreKeys());
    assertTrue(reply.getReplyCacheCapacity() > 0);
    assertEquals(1, counter(reply, "gossip.received"));
    assertFalse(reply.hasFaults());
    nowMs += 1_000;
    node.onTick(nowMs, out);
    assertEquals(0, admin(status()).getRequestsLastSecond(Command.IS_ALIVE),
        "a quiet second reports 0");
  }

  @Test
  void faultsGoToTheTransportAndExpire() {
    node.onTick(nowMs, out);
    LinkFaults loss = LinkFaults.newBuilder().setLossPct(25).setDelayMs(5).build();
    AdminReply reply = admin(faults(loss, 2_000));
    assertEquals(0, reply.getErrCode());
    assertEquals(List.of(loss), out.faults);
    assertEquals(loss, reply.getFaults());
    assertEquals(2_000, reply.getFaultsRemainingMs());
    nowMs += 1_999;
    node.onTick(nowMs, out);
    assertEquals(1, out.faults.size(), "still in force 1 ms before the expiry");
    nowMs += 1;
    node.onTick(nowMs, out);
    assertEquals(2, out.faults.size());
    assertNull(out.faults.get(1), "taken back at the expiry");
    assertFalse(admin(status()).hasFaults());

    admin(faults(loss, 60_000));
    assertEquals(0, admin(AdminRequest.newBuilder().setKind(AdminRequest.Kind.FAULT_CLEAR)
        .build()).getErrCode());
    assertNull(out.faults.get(out.faults.size() - 1), "cleared on request");
  }

  @Test
  void requestsOutOfBoundsAreRefusedAndChangeNothing() {
    node.onTick(nowMs, out);
    LinkFaults edge = LinkFaults.newBuilder().setLossPct(100).setDuplicatePct(100)
        .setReorderPct(100).setDelayMs(Admin.FAULT_DELAY_MS_MAX)
        .setJitterMs(Admin.FAULT_DELAY_MS_MAX).build();
    assertEquals(0, admin(faults(edge, Admin.EXPIRY_MS_MAX)).getErrCode(), "every bound itself");
    int applied = out.faults.size();
    List<AdminRequest> refused = List.of(
        faults(edge.toBuilder().setLossPct(100.01).build(), 1_000),
        faults(edge.toBuilder().setDuplicatePct(-1).build(), 1_000),
        faults(edge.toBuilder().setDelayMs(Admin.FAULT_DELAY_MS_MAX + 1).build(), 1_000),
        faults(edge.toBuilder().setJitterMs(Admin.FAULT_DELAY_MS_MAX + 1).build(), 1_000),
        faults(edge, 0),
        faults(edge, Admin.EXPIRY_MS_MAX + 1),
        AdminRequest.newBuilder().setKind(AdminRequest.Kind.FAULT_SET).setExpiryMs(1).build(),
        block(1_000),
        block(1_000, SELF),
        block(1_000, KVCTL),
        block(0, PEER_B));
    for (AdminRequest request : refused) {
      AdminReply reply = admin(request);
      assertEquals(1, reply.getErrCode(), "refused: " + request);
      assertFalse(reply.getError().isEmpty());
    }
    assertEquals(applied, out.faults.size(), "no refused request reached the transport");
    for (MemberView member : admin(status()).getMembersList()) {
      assertFalse(member.hasBlockedRemainingMs(), "no refused BLOCK took effect");
    }
  }

  @Test
  void blockDropsTrafficBothWaysWithTheBlockedMembersOnlyUntilItsExpiry() {
    node.onTick(nowMs, out);
    assertEquals(0, admin(block(3_000, PEER_B)).getErrCode());
    gossipFrom(PEER_B);
    assertEquals(1, node.stats().dropped(DropReason.BLOCKED), "B's ping dropped");
    int before = out.sent.size();
    gossipFrom(PEER_C);
    assertEquals(before + 1, out.sent.size(), "C's ping answered");
    assertEquals(PEER_C, out.to.get(before)[0]);
    nowMs += 1;
    assertEquals(2_999, admin(status()).getMembers(1).getBlockedRemainingMs());

    // Nothing the node sends reaches B while blocked: run the timers for 2.9 s.
    before = out.sent.size();
    for (int i = 0; i < 290; i++) {
      nowMs += 10;
      node.onTick(nowMs, out);
    }
    for (int i = before; i < out.sent.size(); i++) {
      assertTrue(out.to.get(i)[0] != PEER_B, "nothing sent to B while blocked");
    }
    assertTrue(node.stats().blockedSends() > 0, "probes of B were dropped and counted");
    nowMs = 1_000 + 3_000;
    gossipFrom(PEER_B);
    assertEquals(1, node.stats().dropped(DropReason.BLOCKED), "open again at the expiry");

    assertEquals(0, admin(block(60_000, PEER_B, PEER_C)).getErrCode());
    assertEquals(0, admin(AdminRequest.newBuilder().setKind(AdminRequest.Kind.UNBLOCK)
        .addPeers(PEER_C).build()).getErrCode());
    gossipFrom(PEER_C);
    gossipFrom(PEER_B);
    assertEquals(2, node.stats().dropped(DropReason.BLOCKED), "only B still blocked");
    assertNotNull(admin(AdminRequest.newBuilder().setKind(AdminRequest.Kind.UNBLOCK).build()));
    gossipFrom(PEER_B);
    assertEquals(2, node.stats().dropped(DropReason.BLOCKED), "UNBLOCK without peers opens all");
  }

  private static AdminRequest kind(AdminRequest.Kind kind) {
    return AdminRequest.newBuilder().setKind(kind).build();
  }

  private static byte[] bytes(String s) {
    return s.getBytes(java.nio.charset.StandardCharsets.UTF_8);
  }

  @Test
  void shutdownAnswersThenAsksTheHostToExit() {
    AdminReply reply = admin(kind(AdminRequest.Kind.SHUTDOWN));
    assertEquals(0, reply.getErrCode());
    assertEquals(1, out.shutdowns, "after the reply (admin() saw the reply sent)");
    admin(status());
    assertEquals(1, out.shutdowns, "STATUS does not");
  }

  @Test
  void wipeoutWipesOncePerRequestHoweverOftenRetried() {
    node.store().put(bytes("a"), bytes("1"), 0, 1, 0, 1L << 16);
    ByteString id = ByteString.copyFromUtf8("wipe-1");
    assertEquals(0, admin(id, kind(AdminRequest.Kind.WIPEOUT)).getErrCode());
    assertEquals(0, node.store().size(), "wiped");
    assertEquals(0, out.shutdowns);

    // A key written after the wipe survives a retry of the same request (same messageID)...
    node.store().put(bytes("b"), bytes("2"), 0, 1, 0, 2L << 16);
    assertEquals(0, admin(id, kind(AdminRequest.Kind.WIPEOUT)).getErrCode(), "answered again");
    assertEquals(1, node.store().size(), "not wiped twice");
    // ...and a new request wipes it.
    assertEquals(0, admin(ByteString.copyFromUtf8("wipe-2"), kind(AdminRequest.Kind.WIPEOUT))
        .getErrCode());
    assertEquals(0, node.store().size());
  }

  @Test
  void adminRequestsFromMembersAndGossipFromStrangersOrSelfAreDropped() {
    node.onTick(nowMs, out);
    int before = out.sent.size();
    for (long member : new long[] {SELF, PEER_B}) {
      ByteString payload = kind(AdminRequest.Kind.WIPEOUT).toByteString();
      byte[] datagram = PeerMsg.newBuilder().setMessageID(ByteString.EMPTY).setPayload(payload)
          .setCheckSum(ClientCodec.checksum(ByteString.EMPTY, payload)).setAdmin(true).build()
          .toByteArray();
      node.store().put(bytes("kept"), bytes("1"), 0, 1, 0, 1L << 16);
      node.onDatagram(member, datagram, datagram.length, nowMs, out);
      assertEquals(1, node.store().size(), "an admin request claiming a member is not done");
    }
    assertEquals(2, node.stats().replyToMemberDropped());

    gossipFrom(KVCTL);
    gossipFrom(SELF);
    assertEquals(2, node.stats().dropped(DropReason.NOT_A_MEMBER));
    assertEquals(before, out.sent.size(), "nothing answered");

    // A PING_REQ from B naming this node (or B itself) is not relayed; one naming C is.
    for (long target : new long[] {SELF, PEER_B, PEER_C}) {
      ByteString payload = Gossip.newBuilder().setKind(Gossip.Kind.PING_REQ).setFrom(PEER_B).setSequence(
          nextId++).setTarget(target).build().toByteString();
      byte[] datagram = PeerMsg.newBuilder().setMessageID(ByteString.EMPTY).setPayload(payload)
          .setCheckSum(ClientCodec.checksum(ByteString.EMPTY, payload)).setGossip(true).build()
          .toByteArray();
      node.onDatagram(PEER_B, datagram, datagram.length, nowMs, out);
    }
    assertEquals(before + 1, out.sent.size(), "one relayed PING");
    assertEquals(PEER_C, out.to.get(before)[0]);
  }
}
