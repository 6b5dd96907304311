package io.kvd.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.kvd.core.NodeTest.RecordingOutbox;
import io.kvd.core.cluster.ClusterConfig;
import io.kvd.core.cluster.MembershipConfig;
import io.kvd.core.codec.ClientCodec;
import io.kvd.proto.ClientProtocol.KVRequest;
import io.kvd.proto.ClientProtocol.KVResponse;
import io.kvd.proto.PeerProtocol.AdminReply;
import io.kvd.proto.PeerProtocol.PeerMsg;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

/**
 * Proves what a node accepts from clients, through the Node as a client sees it: with source
 * limits on, exactly the burst of requests per source address passes, the next is answered
 * OVERLOAD with the exact wait (never below overloadWaitTimeMsMin), other ports of the address
 * share its budget while other addresses keep theirs, budgets refill with the node's time,
 * reply bytes are limited, OVERLOAD replies beyond their own bound are dropped and counted, a
 * member's forwarded requests are not charged, a client request whose reply would go to a
 * member is dropped, and 100,000 sources leave the table as it was; with client admin off,
 * SHUTDOWN and WIPEOUT are refused UNRECOGNIZED_COMMAND (counted, nothing shut down or wiped)
 * while every other command works. The counters appear in the STATUS snapshot. How: the Node is
 * stepped with explicit nowMs and a recording outbox.
 */
class ClientGateTest {
  private static final long PID = 4242;
  private static final long STORE_LENGTH_MAX = 64L << 20;
  private static final long CLIENT = Addresses.of(new byte[] {10, 1, 0, 1}, 50_000);
  private static final long CLIENT_OTHER_PORT = Addresses.of(new byte[] {10, 1, 0, 1}, 50_001);
  private static final long OTHER = Addresses.of(new byte[] {10, 2, 0, 1}, 50_000);

  private final RecordingOutbox out = new RecordingOutbox();
  private Node node;
  private long nowMs = 1_000;
  private long nextId = 1;

  private static ClientLimits limited(long perSec, long burst) {
    return ClientLimits.OPEN.withSourceLimits(true).withRequests(perSec, burst);
  }

  private void start(ClientLimits limits) {
    node = new Node(NodeConfig.defaults(PID, STORE_LENGTH_MAX, 0x99).withClientLimits(limits));
  }

  private ByteString newId() {
    ByteBuffer id = ByteBuffer.allocate(16);
    id.putLong(0x6761_7465_0000_0000L).putLong(nextId++);
    return ByteString.copyFrom(id.array());
  }

  private static KVRequest command(int command) {
    return KVRequest.newBuilder().setCommand(command).build();
  }

  private static KVRequest put(String key, ByteString value) {
    return KVRequest.newBuilder().setCommand(Command.PUT).setKey(ByteString.copyFromUtf8(key))
        .setValue(value).build();
  }

  private static KVRequest keyed(int command, String key) {
    return KVRequest.newBuilder().setCommand(command).setKey(ByteString.copyFromUtf8(key))
        .build();
  }

  /** The reply to {@code request} from {@code from}, or null when the node sent none. */
  private KVResponse send(long from, KVRequest request) {
    ByteString id = newId();
    byte[] datagram = ClientCodec.encodeRequest(id, request);
    int before = out.sent.size();
    node.onDatagram(from, datagram, datagram.length, nowMs, out);
    if (out.sent.size() == before) {
      return null;
    }
    assertEquals(before + 1, out.sent.size(), "at most one reply");
    assertEquals(from, out.sent.get(before).address(), "to the sender");
    return NodeTest.checkReply(out.sent.get(before).datagram(), id);
  }

  private int code(long from, KVRequest request) {
    KVResponse reply = send(from, request);
    assertNotNull(reply, "a reply to " + request);
    return reply.getErrCode();
  }

  private static long counter(AdminReply status, String name) {
    return AdminReplies.counter(status, name).orElseThrow(() -> new AssertionError("no counter " + name));
  }

  @Test
  void exactlyTheBurstPassesThenOverloadWithTheWaitForOneToken() {
    start(limited(10, 10));
    for (int i = 0; i < 10; i++) {
      assertEquals(ErrorCode.SUCCESS, code(CLIENT, command(Command.IS_ALIVE)), "request " + i);
    }
    KVResponse over = send(CLIENT, command(Command.IS_ALIVE));
    assertEquals(ErrorCode.OVERLOAD, over.getErrCode());
    assertEquals(100, over.getOverloadWaitTime(), "one token in 1000 / 10 ms");
    int overloadLength = out.sent.get(out.sent.size() - 1).datagram().length;
    assertTrue(overloadLength <= 40, "an OVERLOAD reply is tiny: " + overloadLength + " bytes");
    assertEquals(ErrorCode.OVERLOAD, code(CLIENT_OTHER_PORT, command(Command.GET_PID)),
        "another port of the same address shares its budget");
    assertEquals(ErrorCode.SUCCESS, code(OTHER, command(Command.IS_ALIVE)),
        "another address has its own");
    nowMs += 99;
    KVResponse still = send(CLIENT, command(Command.IS_ALIVE));
    assertEquals(ErrorCode.OVERLOAD, still.getErrCode());
    assertEquals(node.config().overloadWaitTimeMsMin(), still.getOverloadWaitTime(),
        "1 ms to go, asked as the node's smallest wait");
    nowMs += 1;
    assertEquals(ErrorCode.SUCCESS, code(CLIENT, command(Command.IS_ALIVE)), "refilled at 100");
    assertEquals(ErrorCode.OVERLOAD, code(CLIENT, command(Command.IS_ALIVE)));
    nowMs += 1_000;
    for (int i = 0; i < 10; i++) {
      assertEquals(ErrorCode.SUCCESS, code(CLIENT_OTHER_PORT, command(Command.IS_ALIVE)),
          "after a second idle, the whole burst again");
    }
    assertEquals(ErrorCode.OVERLOAD, code(CLIENT, command(Command.IS_ALIVE)));
    assertEquals(5, node.stats().sourceLimitedRequests());
    assertEquals(5, node.stats().replies(ErrorCode.OVERLOAD));
    AdminReply status = node.status(nowMs);
    assertEquals(5, counter(status, "sourceLimits.limitedRequests"));
    assertEquals(SourceLimits.lengthOf(ClientLimits.SOURCE_SLOTS_DEFAULT),
        counter(status, "sourceLimits.tableBytes"));
  }

  @Test
  void aSustainedFloodGetsExactlyTheRateAndBoundedOverloadReplies() {
    start(limited(100, 1).withOverloadRepliesPerSec(5));
    int success = 0;
    int overload = 0;
    int silent = 0;
    // 4 requests per ms for one second: 4,000 requests.
    for (int ms = 0; ms < 1_000; ms++, nowMs++) {
      for (int k = 0; k < 4; k++) {
        KVResponse reply = send(CLIENT, keyed(Command.GET, "k"));
        if (reply == null) {
          silent++;
        } else if (reply.getErrCode() == ErrorCode.OVERLOAD) {
          overload++;
          assertEquals(node.config().overloadWaitTimeMsMin(), reply.getOverloadWaitTime(),
              "at most 10 ms to the next token, asked as the node's smallest wait");
        } else {
          assertEquals(ErrorCode.NOT_FOUND, reply.getErrCode());
          success++;
        }
      }
    }
    assertEquals(100, success, "one request per 10 ms");
    assertEquals(9, overload, "the OVERLOAD replies' burst, then one per 200 ms: 5 + 4");
    assertEquals(4_000 - 100 - 9, silent);
    assertEquals(silent, node.stats().sourceLimitDropped());
    assertEquals(silent, counter(node.status(nowMs), "dropped.source_limit"));
    assertEquals(ErrorCode.SUCCESS, code(OTHER, command(Command.IS_ALIVE)),
        "another source is served throughout");
  }

  @Test
  void aSourcePastItsBudgetAndItsOverloadRepliesIsDroppedBeforeParsing() {
    start(limited(1, 1).withOverloadRepliesPerSec(1));
    assertEquals(ErrorCode.SUCCESS, code(CLIENT, command(Command.IS_ALIVE)));
    assertEquals(ErrorCode.OVERLOAD, code(CLIENT, command(Command.IS_ALIVE)));
    assertNull(send(CLIENT, command(Command.IS_ALIVE)), "both budgets spent: dropped");
    long requests = node.stats().requests(Command.IS_ALIVE);
    byte[] garbage = {(byte) 0xFF, (byte) 0xFF, 1, 2};
    node.onDatagram(CLIENT_OTHER_PORT, garbage, garbage.length, nowMs, out);
    assertNull(send(CLIENT_OTHER_PORT, command(Command.IS_ALIVE)));
    assertEquals(requests, node.stats().requests(Command.IS_ALIVE), "not even parsed");
    assertEquals(0, node.stats().droppedTotal(), "nothing dropped as malformed");
    assertEquals(3, node.stats().sourceLimitDropped());
    assertEquals(4, node.stats().sourceLimitedRequests());
    assertEquals(ErrorCode.SUCCESS, code(OTHER, command(Command.IS_ALIVE)));
    nowMs += 1_000;
    assertEquals(ErrorCode.SUCCESS, code(CLIENT, command(Command.IS_ALIVE)), "a second later");
  }

  @Test
  void replyBytesPerAddressAreLimited() {
    // 20,000 bytes per second (20 per ms); burst 15,000: two GETs of 10,000 bytes pass.
    start(ClientLimits.OPEN.withSourceLimits(true).withReplyBytes(20_000, 15_000));
    ByteString value = ByteString.copyFrom(new byte[10_000]);
    assertEquals(ErrorCode.SUCCESS, code(OTHER, put("big", value)));
    int before = out.sent.size();
    assertEquals(ErrorCode.SUCCESS, code(CLIENT, keyed(Command.GET, "big")));
    int replyLength = out.sent.get(before).datagram().length;
    assertTrue(replyLength > 10_000 && replyLength < 10_100, "reply of " + replyLength);
    assertEquals(ErrorCode.SUCCESS, code(CLIENT, keyed(Command.GET, "big")),
        "a little budget left is enough");
    KVResponse over = send(CLIENT, keyed(Command.GET, "big"));
    assertEquals(ErrorCode.OVERLOAD, over.getErrCode());
    // Debt 2 * replyLength against 15,000, repaid at 20 bytes per ms.
    long excessMilli = 2L * replyLength * 1_000 - 15_000L * 1_000;
    assertEquals(excessMilli / 20_000 + 1, over.getOverloadWaitTime());
    assertEquals(1, node.stats().sourceLimitedReplyBytes());
    assertEquals(0, node.stats().sourceLimitedRequests());
    assertEquals(ErrorCode.OVERLOAD, code(CLIENT_OTHER_PORT, command(Command.IS_ALIVE)),
        "replies to the address, whatever the port");
    nowMs += over.getOverloadWaitTime();
    assertEquals(ErrorCode.SUCCESS, code(CLIENT, keyed(Command.GET, "big")),
        "answered again after the wait it was given");
    assertEquals(2, counter(node.status(nowMs), "sourceLimits.limitedReplyBytes"));
  }

  @Test
  void forwardedRequestsAreNotChargedAndRepliesToMembersAreNeverSent() {
    long self = Addresses.of(new byte[] {10, 0, 0, 1}, 43_100);
    long peer = Addresses.of(new byte[] {10, 0, 0, 2}, 43_100);
    node = new Node(NodeConfig.defaults(PID, STORE_LENGTH_MAX, 0x98)
        .withClientLimits(limited(1, 2)),
        new ClusterConfig(new long[] {self, peer}, self, 8, MembershipConfig.DEFAULT, 1, 1));
    node.onTick(nowMs, out);
    // A member forwards CLIENT's requests: charged where CLIENT sent them, not here.
    for (int i = 0; i < 20; i++) {
      ByteString id = newId();
      ByteString payload = command(Command.IS_ALIVE).toByteString();
      byte[] forwarded = PeerMsg.newBuilder().setMessageID(id).setPayload(payload)
          .setCheckSum(ClientCodec.checksum(id, payload)).setClientAddress(CLIENT).setHops(1)
          .build().toByteArray();
      int before = out.sent.size();
      node.onDatagram(peer, forwarded, forwarded.length, nowMs, out);
      assertEquals(before + 1, out.sent.size());
      assertEquals(CLIENT, out.sent.get(before).address(), "answered to the client");
      assertEquals(ErrorCode.SUCCESS,
          NodeTest.checkReply(out.sent.get(before).datagram(), id).getErrCode());
    }
    assertEquals(ErrorCode.SUCCESS, code(CLIENT, command(Command.IS_ALIVE)),
        "the client's own budget here is untouched");
    assertEquals(ErrorCode.SUCCESS, code(CLIENT, command(Command.IS_ALIVE)));
    assertEquals(ErrorCode.OVERLOAD, code(CLIENT, command(Command.IS_ALIVE)));
    // A client request from a member's endpoint (a reflected reply or a forgery) is dropped:
    // answering would start members answering each other's replies forever.
    assertNull(send(peer, command(Command.IS_ALIVE)));
    assertNull(send(self, command(Command.GET_PID)));
    assertEquals(2, node.stats().replyToMemberDropped());
    assertEquals(2, counter(node.status(nowMs), "dropped.reply_to_member"));
  }

  @Test
  void aReplyParsedAsARequestIsNotAnsweredByAMember() {
    long self = Addresses.of(new byte[] {10, 0, 0, 1}, 43_100);
    long peer = Addresses.of(new byte[] {10, 0, 0, 2}, 43_100);
    node = new Node(NodeConfig.defaults(PID, STORE_LENGTH_MAX, 0x97),
        new ClusterConfig(new long[] {self, peer}, self, 8, MembershipConfig.DEFAULT, 1, 1));
    node.onTick(nowMs, out);
    // What another member would send here after a forged request "from" this node: a reply
    // with errCode 5, which parses as a KVRequest with command 5, WIPEOUT.
    ByteString id = newId();
    byte[] reply = ClientCodec.encodeReply(id, KVResponse.newBuilder()
        .setErrCode(ErrorCode.UNRECOGNIZED_COMMAND).build());
    int before = out.sent.size();
    node.onDatagram(peer, reply, reply.length, nowMs, out);
    assertEquals(before, out.sent.size(), "no answer, so no endless exchange");
    assertEquals(1, node.stats().replyToMemberDropped());
  }

  @Test
  void aNodeAloneDropsARequestFromItsOwnAddress() {
    // As kvd starts a node without --servers-file (ClusterConfig.alone of its bound address): a
    // request spoofed from that address would be answered to the node itself, where the reply
    // parses as another request.
    long self = Addresses.of(new byte[] {127, 0, 0, 1}, 43_100);
    node = new Node(NodeConfig.defaults(PID, STORE_LENGTH_MAX, 0x98), ClusterConfig.alone(self));
    assertNull(send(self, command(Command.IS_ALIVE)));
    assertEquals(1, node.stats().replyToMemberDropped());
    assertEquals(ErrorCode.SUCCESS, code(CLIENT, command(Command.IS_ALIVE)), "others are served");
  }

  @Test
  void aHundredThousandSourcesLeaveTheTableAsItWas() {
    start(limited(1_000, 1));
    SourceLimits table = node.sourceLimits();
    long length = table.length();
    ByteString id = newId();
    byte[] datagram = ClientCodec.encodeRequest(id, command(Command.IS_ALIVE));
    int overloads = 0;
    for (int i = 0; i < 100_000; i++) {
      out.sent.clear();
      long from = Addresses.of(0x0A00_0000 + i, 40_000 + (i & 0xFFF));
      node.onDatagram(from, datagram, datagram.length, nowMs, out);
      node.onDatagram(from, datagram, datagram.length, nowMs, out);
      assertEquals(2, out.sent.size());
      overloads += NodeTest.checkReply(out.sent.get(0).datagram(), id).getErrCode()
          == ErrorCode.OVERLOAD ? 1 : 0;
      assertEquals(ErrorCode.OVERLOAD,
          NodeTest.checkReply(out.sent.get(1).datagram(), id).getErrCode(), "burst of 1");
      nowMs += i % 10 == 0 ? 1 : 0;
    }
    assertSame(table, node.sourceLimits());
    assertEquals(length, table.length());
    assertEquals(length, counter(node.status(nowMs), "sourceLimits.tableBytes"));
    // Sources that share a slot share its budget; with 16,384 slots, 10 sources per ms and a
    // token back each ms, few first requests find their slot's token taken.
    assertTrue(overloads < 1_000, overloads + " first requests refused");
  }

  @Test
  void clientAdminOffRefusesShutdownAndWipeoutOnly() {
    start(ClientLimits.OPEN.withClientAdmin(false));
    assertEquals(ErrorCode.SUCCESS, code(CLIENT, put("k", ByteString.copyFromUtf8("v"))));
    assertEquals(ErrorCode.UNRECOGNIZED_COMMAND, code(CLIENT, command(Command.SHUTDOWN)));
    assertFalse(out.shutdown, "the node was not shut down");
    assertEquals(ErrorCode.UNRECOGNIZED_COMMAND, code(CLIENT, command(Command.WIPEOUT)));
    assertEquals(1, node.store().size(), "nothing wiped");
    // Retried under the same messageID, or from another client: still refused.
    assertEquals(ErrorCode.UNRECOGNIZED_COMMAND, code(OTHER, command(Command.WIPEOUT)));
    assertEquals(ErrorCode.UNRECOGNIZED_COMMAND, code(OTHER, command(Command.SHUTDOWN)));
    assertEquals(4, node.stats().clientAdminRefused());
    assertEquals(4, counter(node.status(nowMs), "clientAdmin.refused"));
    // Every other command works.
    KVResponse get = send(CLIENT, keyed(Command.GET, "k"));
    assertEquals(ErrorCode.SUCCESS, get.getErrCode());
    assertEquals(ByteString.copyFromUtf8("v"), get.getValue());
    assertEquals(ErrorCode.SUCCESS, code(CLIENT, command(Command.IS_ALIVE)));
    KVResponse pid = send(CLIENT, command(Command.GET_PID));
    assertEquals(PID, pid.getPid());
    assertEquals(1, send(CLIENT, command(Command.GET_MEMBERSHIP_COUNT)).getMembershipCount());
    assertEquals(ErrorCode.SUCCESS, code(CLIENT, keyed(Command.REMOVE, "k")));
    assertEquals(ErrorCode.NOT_FOUND, code(CLIENT, keyed(Command.GET, "k")));
    assertEquals(ErrorCode.UNRECOGNIZED_COMMAND, code(CLIENT, command(77)));
    assertEquals(4, node.stats().clientAdminRefused(), "an unknown command is not counted");
    assertFalse(out.shutdown);
  }

  @Test
  void clientAdminOpenStillShutsDownAndWipes() {
    start(ClientLimits.OPEN);
    assertNull(node.sourceLimits(), "no table without source limits");
    assertEquals(0, counter(node.status(nowMs), "sourceLimits.tableBytes"));
    assertEquals(ErrorCode.SUCCESS, code(CLIENT, put("k", ByteString.copyFromUtf8("v"))));
    assertEquals(ErrorCode.SUCCESS, code(CLIENT, command(Command.WIPEOUT)));
    assertEquals(0, node.store().size());
    assertEquals(ErrorCode.SUCCESS, code(CLIENT, command(Command.SHUTDOWN)));
    assertTrue(out.shutdown);
    assertEquals(0, node.stats().clientAdminRefused());
  }
}
