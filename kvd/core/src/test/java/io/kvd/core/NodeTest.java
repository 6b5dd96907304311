package io.kvd.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedInputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.WireFormat;
import io.kvd.core.codec.ClientCodec;
import io.kvd.core.codec.ClientCodec.DecodeException;
import io.kvd.core.codec.ClientCodec.DropReason;
import io.kvd.core.store.Store;
import io.kvd.proto.ClientProtocol.KVRequest;
import io.kvd.proto.ClientProtocol.KVResponse;
import io.kvd.proto.ClientProtocol.Msg;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.zip.CRC32;
import org.junit.jupiter.api.Test;

/**
 * Proves that a single node answers every client command as protocol.md specifies (error codes,
 * values, versions, pid, membership count, shutdown), that every reply carries the request's
 * messageID, a correct checksum and an errCode on the wire, that mutating requests are executed at
 * most once per (sender, messageID), that a full reply cache answers OVERLOAD before executing and
 * a full store answers OUT_OF_SPACE without breaking anything else, and that malformed datagrams
 * are dropped silently and counted by reason. How: the Node is stepped directly with explicit
 * nowMs and a recording Outbox; the fuzz test feeds seeded random and mutated datagrams
 * (replayable with -Dkvd.seed=N) and checks every reply.
 */
class NodeTest {
  private static final long PID = 4242;
  private static final long CLIENT = Addresses.of(new byte[] {127, 0, 0, 1}, 50_000);
  private static final long OTHER_CLIENT = Addresses.of(new byte[] {10, 0, 0, 7}, 50_000);
  private static final long STORE_LENGTH_MAX = 64L << 20;

  /** What the node did, in order: datagrams sent and the shutdown request. */
  static final class RecordingOutbox implements Outbox {
    record Sent(long address, byte[] datagram) {}

    final List<Sent> sent = new ArrayList<>();
    boolean shutdown;
    int sentBeforeShutdown = -1;

    @Override
    public void send(long address, byte[] datagram) {
      sent.add(new Sent(address, datagram));
    }

    @Override
    public void shutdown() {
      shutdown = true;
      sentBeforeShutdown = sent.size();
    }
  }

  private Node node = new Node(NodeConfig.defaults(PID, STORE_LENGTH_MAX, 0x1234));
  private final RecordingOutbox out = new RecordingOutbox();
  private long nowMs = 1_000;
  private long nextId = 1;

  private ByteString newId() {
    ByteBuffer id = ByteBuffer.allocate(16);
    id.putLong(0x6B76_6454_6573_7400L).putLong(nextId++);
    return ByteString.copyFrom(id.array());
  }

  private static ByteString bytes(String s) {
    return ByteString.copyFromUtf8(s);
  }

  private static ByteString value(int length, int salt) {
    byte[] v = new byte[length];
    for (int i = 0; i < length; i++) {
      v[i] = (byte) (i * 31 + salt);
    }
    return ByteString.copyFrom(v);
  }

  private static KVRequest put(ByteString key, ByteString value, int version) {
    return KVRequest.newBuilder().setCommand(Command.PUT).setKey(key).setValue(value)
        .setVersion(version).build();
  }

  private static KVRequest put(String key, String value) {
    return put(bytes(key), bytes(value), 0);
  }

  private static KVRequest get(ByteString key) {
    return KVRequest.newBuilder().setCommand(Command.GET).setKey(key).build();
  }

  private static KVRequest get(String key) {
    return get(bytes(key));
  }

  private static KVRequest remove(String key) {
    return KVRequest.newBuilder().setCommand(Command.REMOVE).setKey(bytes(key)).build();
  }

  private static KVRequest command(int command) {
    return KVRequest.newBuilder().setCommand(command).build();
  }

  private KVResponse call(KVRequest request) {
    return call(CLIENT, newId(), request);
  }

  private KVResponse call(long from, ByteString id, KVRequest request) {
    byte[] datagram = ClientCodec.encodeRequest(id, request);
    int before = out.sent.size();
    node.onDatagram(from, datagram, datagram.length, nowMs, out);
    assertEquals(before + 1, out.sent.size(), "exactly one reply to " + request);
    RecordingOutbox.Sent reply = out.sent.get(before);
    assertEquals(from, reply.address(), "the reply goes to the sender");
    return checkReply(reply.datagram(), id);
  }

  @Test
  void staleRequestsAfterAStallAreDroppedInACluster() {
    long self = Addresses.of(0x7F00_0001, 43_100);
    node = new Node(NodeConfig.defaults(PID, STORE_LENGTH_MAX, 12),
        new io.kvd.core.cluster.ClusterConfig(new long[] {self, Addresses.of(0x7F00_0001, 43_101)},
            self, 16, io.kvd.core.cluster.MembershipConfig.DEFAULT, 1, 1));
    nowMs = 1_000;
    node.onTick(nowMs, out);
    assertEquals(ErrorCode.SUCCESS, call(command(Command.IS_ALIVE)).getErrCode());
    nowMs += Node.STALL_GAP_MS - 1;
    assertEquals(ErrorCode.SUCCESS, call(command(Command.IS_ALIVE)).getErrCode(),
        "a gap just under the stall threshold");
    nowMs += Node.STALL_GAP_MS;
    assertDropped(ClientCodec.encodeRequest(newId(), command(Command.IS_ALIVE)), "after a stall");
    nowMs += Node.STALE_WINDOW_MS - 1;
    assertDropped(ClientCodec.encodeRequest(newId(), command(Command.IS_ALIVE)),
        "just inside the window");
    assertEquals(2, node.stats().dropped(DropReason.STALE_AFTER_STALL));
    nowMs += 1;
    assertEquals(ErrorCode.SUCCESS, call(command(Command.IS_ALIVE)).getErrCode(),
        "once the window has passed");
  }

  @Test
  void aStarvedClusteredNodeShedsKeyRequests() {
    long self = Addresses.of(0x7F00_0001, 43_100);
    node = new Node(NodeConfig.defaults(PID, STORE_LENGTH_MAX, 13),
        new io.kvd.core.cluster.ClusterConfig(new long[] {self, Addresses.of(0x7F00_0001, 43_101)},
            self, 16, io.kvd.core.cluster.MembershipConfig.DEFAULT, 1, 1));
    nowMs = 1_000;
    node.onTick(nowMs, out);
    nowMs += Node.TICK_LATE_MS;
    node.onTick(nowMs, out);
    sendGet();
    assertEquals(0, node.stats().shed(), "a tick exactly TICK_LATE_MS late does not shed");
    nowMs += Node.TICK_LATE_MS + 1;
    node.onTick(nowMs, out);
    KVResponse shed = call(get("k"));
    assertEquals(ErrorCode.OVERLOAD, shed.getErrCode(), "a later tick sheds");
    assertEquals(Node.SHED_WAIT_MS, shed.getOverloadWaitTime());
    assertEquals(ErrorCode.SUCCESS, call(command(Command.IS_ALIVE)).getErrCode(),
        "only key requests are shed");
    assertEquals(1, node.stats().shed());
    for (long t = nowMs + 10; t <= nowMs + Node.SHED_MS - 10; t += 10) {
      node.onTick(t, out);
    }
    nowMs += Node.SHED_MS - 1;
    sendGet();
    assertEquals(2, node.stats().shed(), "still shedding just before SHED_MS has passed");
    nowMs += 1;
    sendGet();
    assertEquals(2, node.stats().shed(), "served again once SHED_MS has passed");
  }

  private void sendGet() {
    byte[] datagram = ClientCodec.encodeRequest(newId(), get("k"));
    node.onDatagram(CLIENT, datagram, datagram.length, nowMs, out);
  }

  private void assertDropped(byte[] datagram, String what) {
    int before = out.sent.size();
    node.onDatagram(CLIENT, datagram, datagram.length, nowMs, out);
    assertEquals(before, out.sent.size(), what + " must get no reply");
  }

  /**
   * Checks a reply datagram independently of ClientCodec's decoder: the checksum by hand, the
   * messageID, errCode present on the wire (a tag of field 1 in the raw payload, and hasErrCode on
   * a parse that does not insist on required fields).
   */
  static KVResponse checkReply(byte[] datagram, ByteString expectedId) {
    assertTrue(datagram.length <= NodeConfig.DATAGRAM_LENGTH_MAX, "reply too long");
    Msg msg = assertDoesNotThrow(() -> Msg.parseFrom(datagram));
    assertEquals(expectedId, msg.getMessageID(), "the reply carries the request's messageID");
    CRC32 crc = new CRC32();
    crc.update(msg.getMessageID().toByteArray());
    crc.update(msg.getPayload().toByteArray());
    assertEquals(crc.getValue(), msg.getCheckSum(), "checksum");
    assertTrue(hasErrCodeField(msg.getPayload()), "errCode is on the wire");
    KVResponse response = assertDoesNotThrow(
        () -> KVResponse.parser().parsePartialFrom(msg.getPayload()));
    assertTrue(response.hasErrCode());
    assertTrue(response.getErrCode() >= 0 && response.getErrCode() < ErrorCode.COUNT,
        "errCode " + response.getErrCode());
    return response;
  }

  private static boolean hasErrCodeField(ByteString payload) {
    try {
      CodedInputStream in = payload.newCodedInput();
      for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
        if (tag == (1 << 3 | WireFormat.WIRETYPE_VARINT)) { // field 1, varint
          return true;
        }
        in.skipField(tag);
      }
      return false;
    } catch (IOException e) {
      return false;
    }
  }

  // --- Commands -------------------------------------------------------------------------------

  @Test
  void putThenGetValuesOfEveryProtocolSizeWithVersions() {
    int[] lengths = {0, 8, 32, 2048, 10_000};
    int[] versions = {0, 1, -5, Integer.MAX_VALUE, Integer.MIN_VALUE};
    for (int i = 0; i < lengths.length; i++) {
      ByteString key = bytes("size-" + lengths[i]);
      ByteString v = value(lengths[i], i);
      KVResponse putReply = call(put(key, v, versions[i]));
      assertEquals(ErrorCode.SUCCESS, putReply.getErrCode());
      assertFalse(putReply.hasValue(), "a PUT reply carries no value");
      KVResponse getReply = call(get(key));
      assertEquals(ErrorCode.SUCCESS, getReply.getErrCode());
      assertEquals(v, getReply.getValue(), lengths[i] + "-byte value");
      assertTrue(getReply.hasVersion());
      assertEquals(versions[i], getReply.getVersion());
    }
    // A later PUT replaces both value and version.
    assertEquals(ErrorCode.SUCCESS, call(put(bytes("size-8"), value(3, 9), 77)).getErrCode());
    KVResponse again = call(get("size-8"));
    assertEquals(value(3, 9), again.getValue());
    assertEquals(77, again.getVersion());
    assertEquals(lengths.length, node.store().size());
  }

  @Test
  void putWithoutVersionOrValueStoresVersionZeroAndAnEmptyValue() {
    KVRequest bare = KVRequest.newBuilder().setCommand(Command.PUT).setKey(bytes("k")).build();
    assertEquals(ErrorCode.SUCCESS, call(bare).getErrCode());
    KVResponse reply = call(get("k"));
    assertEquals(ErrorCode.SUCCESS, reply.getErrCode());
    assertEquals(ByteString.EMPTY, reply.getValue());
    assertEquals(0, reply.getVersion());
  }

  @Test
  void getOfAnAbsentKeyAnswersNotFound() {
    KVResponse reply = call(get("nobody"));
    assertEquals(ErrorCode.NOT_FOUND, reply.getErrCode());
    assertFalse(reply.hasValue());
  }

  @Test
  void removeThenRemoveAgain() {
    assertEquals(ErrorCode.SUCCESS, call(put("k", "v")).getErrCode());
    assertEquals(ErrorCode.SUCCESS, call(remove("k")).getErrCode());
    assertEquals(ErrorCode.NOT_FOUND, call(remove("k")).getErrCode());
    assertEquals(ErrorCode.NOT_FOUND, call(get("k")).getErrCode());
  }

  @Test
  void keysOutsideOneToThirtyTwoBytesAreInvalidForEveryKeyedCommand() {
    ByteString empty = ByteString.EMPTY;
    ByteString tooLong = value(33, 0);
    ByteString veryLong = value(128, 0);
    for (int command : new int[] {Command.PUT, Command.GET, Command.REMOVE}) {
      for (ByteString key : new ByteString[] {empty, tooLong, veryLong}) {
        KVRequest request = KVRequest.newBuilder().setCommand(command).setKey(key)
            .setValue(bytes("v")).build();
        assertEquals(ErrorCode.INVALID_KEY, call(request).getErrCode(),
            Command.name(command) + " with a " + key.size() + "-byte key");
      }
      KVRequest noKey = KVRequest.newBuilder().setCommand(command).setValue(bytes("v")).build();
      assertEquals(ErrorCode.INVALID_KEY, call(noKey).getErrCode(),
          Command.name(command) + " without a key");
    }
    assertEquals(0, node.store().size(), "no invalid key was stored");
    assertEquals(0, node.replyCache().size(), "invalid requests are not executed, not cached");
    for (ByteString key : new ByteString[] {value(1, 0), value(32, 0)}) {
      assertEquals(ErrorCode.SUCCESS, call(put(key, bytes("v"), 1)).getErrCode());
      assertEquals(ErrorCode.SUCCESS, call(get(key)).getErrCode());
    }
  }

  @Test
  void valuesLongerThanTenThousandBytesAreInvalid() {
    assertEquals(ErrorCode.INVALID_VALUE, call(put(bytes("k"), value(10_001, 0), 1)).getErrCode());
    assertEquals(ErrorCode.INVALID_VALUE, call(put(bytes("k"), value(12_000, 0), 1)).getErrCode());
    assertEquals(ErrorCode.NOT_FOUND, call(get("k")).getErrCode(), "nothing was stored");
    assertEquals(ErrorCode.SUCCESS, call(put(bytes("k"), value(10_000, 0), 1)).getErrCode());
  }

  @Test
  void unknownCommandsAnswerUnrecognized() {
    for (int command : new int[] {99, 0, 9, 1_000_000, -1}) {
      KVRequest request = KVRequest.newBuilder().setCommand(command).setKey(bytes("k")).build();
      assertEquals(ErrorCode.UNRECOGNIZED_COMMAND, call(request).getErrCode(),
          "command " + Integer.toUnsignedString(command));
    }
    assertEquals(1, node.stats().requests(0));
    assertEquals(4, node.stats().requests(99), "codes above 8 share one counter");
    assertEquals(0, node.store().size());
  }

  @Test
  void isAliveGetPidAndMembershipCount() {
    assertEquals(ErrorCode.SUCCESS, call(command(Command.IS_ALIVE)).getErrCode());
    KVResponse pid = call(command(Command.GET_PID));
    assertEquals(ErrorCode.SUCCESS, pid.getErrCode());
    assertTrue(pid.hasPid());
    assertEquals(PID, pid.getPid());
    KVResponse members = call(command(Command.GET_MEMBERSHIP_COUNT));
    assertEquals(ErrorCode.SUCCESS, members.getErrCode());
    assertTrue(members.hasMembershipCount());
    assertEquals(1, members.getMembershipCount());
  }

  @Test
  void wipeoutDeletesEveryKey() {
    for (int i = 0; i < 50; i++) {
      assertEquals(ErrorCode.SUCCESS, call(put("k" + i, "v" + i)).getErrCode());
    }
    assertEquals(ErrorCode.SUCCESS, call(command(Command.WIPEOUT)).getErrCode());
    assertEquals(0, node.store().size());
    for (int i = 0; i < 50; i++) {
      assertEquals(ErrorCode.NOT_FOUND, call(get("k" + i)).getErrCode());
    }
    assertEquals(ErrorCode.SUCCESS, call(put("k0", "again")).getErrCode());
    assertEquals(bytes("again"), call(get("k0")).getValue());
  }

  @Test
  void shutdownRepliesThenAsksTheHostToExit() {
    ByteString id = newId();
    assertFalse(out.shutdown);
    KVResponse reply = call(CLIENT, id, command(Command.SHUTDOWN));
    assertEquals(ErrorCode.SUCCESS, reply.getErrCode());
    assertTrue(out.shutdown, "outbox.shutdown() was called");
    assertEquals(1, out.sentBeforeShutdown, "the reply is queued before the shutdown");
  }

  @Test
  void statsCountRequestsRepliesAndDatagrams() {
    call(put("a", "1"));
    call(get("a"));
    call(get("b"));
    call(command(99));
    NodeStats stats = node.stats();
    assertEquals(4, stats.datagramsReceived());
    assertEquals(1, stats.requests(Command.PUT));
    assertEquals(2, stats.requests(Command.GET));
    assertEquals(2, stats.replies(ErrorCode.SUCCESS));
    assertEquals(1, stats.replies(ErrorCode.NOT_FOUND));
    assertEquals(1, stats.replies(ErrorCode.UNRECOGNIZED_COMMAND));
    assertEquals(0, stats.droppedTotal());
  }

  // --- At most once ---------------------------------------------------------------------------

  @Test
  void resentRemoveAfterPutAndRemoveAnswersTheCachedSuccess() {
    assertEquals(ErrorCode.SUCCESS, call(put("k", "v")).getErrCode());
    ByteString removeId = newId();
    assertEquals(ErrorCode.SUCCESS, call(CLIENT, removeId, remove("k")).getErrCode());
    assertEquals(ErrorCode.SUCCESS, call(CLIENT, removeId, remove("k")).getErrCode(),
        "the resend answers the cached 0, not 1");
    assertEquals(1, node.stats().replyCacheHits());
  }

  @Test
  void resentRemoveOfAnAbsentKeyAnswersTheCachedNotFoundAndRemovesNothing() {
    ByteString removeId = newId();
    assertEquals(ErrorCode.NOT_FOUND, call(CLIENT, removeId, remove("k")).getErrCode());
    assertEquals(ErrorCode.SUCCESS, call(put("k", "v")).getErrCode());
    assertEquals(ErrorCode.NOT_FOUND, call(CLIENT, removeId, remove("k")).getErrCode(),
        "the resend answers the cached 1");
    assertEquals(bytes("v"), call(get("k")).getValue(), "and was not executed");
  }

  @Test
  void resentOldPutDoesNotOverwriteANewerValue() {
    ByteString putV1 = newId();
    assertEquals(ErrorCode.SUCCESS, call(CLIENT, putV1, put("k", "v1")).getErrCode());
    assertEquals(ErrorCode.SUCCESS, call(put("k", "v2")).getErrCode());
    assertEquals(ErrorCode.SUCCESS, call(CLIENT, putV1, put("k", "v1")).getErrCode());
    assertEquals(bytes("v2"), call(get("k")).getValue());
  }

  @Test
  void resentWipeoutDoesNotWipeAgain() {
    ByteString wipeId = newId();
    assertEquals(ErrorCode.SUCCESS, call(CLIENT, wipeId, command(Command.WIPEOUT)).getErrCode());
    assertEquals(ErrorCode.SUCCESS, call(put("k", "v")).getErrCode());
    assertEquals(ErrorCode.SUCCESS, call(CLIENT, wipeId, command(Command.WIPEOUT)).getErrCode());
    assertEquals(bytes("v"), call(get("k")).getValue());
  }

  @Test
  void sameMessageIdFromAnotherSenderIsExecuted() {
    ByteString id = newId();
    assertEquals(ErrorCode.NOT_FOUND, call(CLIENT, id, remove("k")).getErrCode());
    assertEquals(ErrorCode.SUCCESS, call(put("k", "v")).getErrCode());
    assertEquals(ErrorCode.SUCCESS, call(OTHER_CLIENT, id, remove("k")).getErrCode(),
        "another sender's request is not a retry");
    assertEquals(ErrorCode.NOT_FOUND, call(get("k")).getErrCode());
    // Another port on the same host is another sender too.
    long samePortNeighbour = Addresses.of(new byte[] {127, 0, 0, 1}, 50_001);
    assertEquals(ErrorCode.SUCCESS, call(put("k", "v")).getErrCode());
    assertEquals(ErrorCode.SUCCESS, call(samePortNeighbour, id, remove("k")).getErrCode());
    assertEquals(0, node.stats().replyCacheHits());
  }

  @Test
  void messageIdsThatDifferOnlyInLengthAreDifferentRequests() {
    ByteString shortId = ByteString.copyFrom(new byte[2]);
    ByteString longId = ByteString.copyFrom(new byte[4]);
    assertEquals(ReplyCache.idHigh(shortId), ReplyCache.idHigh(longId));
    assertEquals(ReplyCache.idLow(shortId), ReplyCache.idLow(longId));
    assertEquals(ErrorCode.NOT_FOUND, call(CLIENT, shortId, remove("k")).getErrCode());
    assertEquals(ErrorCode.SUCCESS, call(put("k", "v")).getErrCode());
    assertEquals(ErrorCode.SUCCESS, call(CLIENT, longId, remove("k")).getErrCode());
    assertEquals(ErrorCode.NOT_FOUND, call(CLIENT, shortId, remove("k")).getErrCode());
    assertEquals(1, node.stats().replyCacheHits());
  }

  @Test
  void idHalvesAreBigEndianAndZeroPadded() {
    byte[] id = new byte[16];
    for (int i = 0; i < 16; i++) {
      id[i] = (byte) (0xF0 + i);
    }
    assertEquals(0xF0F1_F2F3_F4F5_F6F7L, ReplyCache.idHigh(ByteString.copyFrom(id)));
    assertEquals(0xF8F9_FAFB_FCFD_FEFFL, ReplyCache.idLow(ByteString.copyFrom(id)));
    assertEquals(0xF0F1_F2F3_F4F5_F6F7L, ReplyCache.idHigh(ByteString.copyFrom(id, 0, 9)));
    assertEquals(0xF800_0000_0000_0000L, ReplyCache.idLow(ByteString.copyFrom(id, 0, 9)));
    assertEquals(0xF0F1_0000_0000_0000L, ReplyCache.idHigh(ByteString.copyFrom(id, 0, 2)));
  }

  // --- Limits ---------------------------------------------------------------------------------

  @Test
  void fullReplyCacheAnswersOverloadBeforeExecuting() {
    long retentionMs = 1_000;
    int waitMsMin = 20;
    node = new Node(new NodeConfig(PID, retentionMs, ReplyCache.LENGTH_MIN, STORE_LENGTH_MAX,
        99, waitMsMin));
    int capacity = node.replyCache().capacity();
    assertEquals(16, capacity);
    long startMs = nowMs;
    assertEquals(ErrorCode.SUCCESS, call(put("k", "old")).getErrCode());
    nowMs += 100;
    List<ByteString> removeIds = new ArrayList<>();
    for (int i = 1; i < capacity; i++) {
      ByteString id = newId();
      removeIds.add(id);
      assertEquals(ErrorCode.NOT_FOUND, call(CLIENT, id, remove("x" + i)).getErrCode());
      nowMs++;
    }
    assertEquals(capacity, node.replyCache().size());

    nowMs = startMs + 500;
    ByteString putId = newId();
    KVResponse overloaded = call(CLIENT, putId, put("k", "new"));
    assertEquals(ErrorCode.OVERLOAD, overloaded.getErrCode());
    assertTrue(overloaded.hasOverloadWaitTime());
    assertEquals(500, overloaded.getOverloadWaitTime(), "until the oldest entry expires");
    assertTrue(overloaded.getOverloadWaitTime() >= waitMsMin);
    assertEquals(bytes("old"), call(get("k")).getValue(), "the PUT was not executed");
    KVResponse wipe = call(command(Command.WIPEOUT));
    assertEquals(ErrorCode.OVERLOAD, wipe.getErrCode());
    assertEquals(ErrorCode.OVERLOAD, call(remove("k")).getErrCode());
    assertEquals(1, node.store().size(), "neither WIPEOUT nor REMOVE ran");
    // Reads and retries of cached requests still work while overloaded.
    assertEquals(ErrorCode.SUCCESS, call(command(Command.IS_ALIVE)).getErrCode());
    assertEquals(ErrorCode.NOT_FOUND,
        call(CLIENT, removeIds.get(0), remove("x1")).getErrCode(), "cached, not OVERLOAD");

    nowMs = startMs + retentionMs - 10;
    KVResponse almost = call(CLIENT, putId, put("k", "new"));
    assertEquals(ErrorCode.OVERLOAD, almost.getErrCode());
    assertEquals(waitMsMin, almost.getOverloadWaitTime(), "never less than the minimum");

    nowMs = startMs + retentionMs;
    assertEquals(ErrorCode.SUCCESS, call(CLIENT, putId, put("k", "new")).getErrCode(),
        "after the wait, the retry runs");
    assertEquals(bytes("new"), call(get("k")).getValue());
    assertEquals(ErrorCode.SUCCESS, call(CLIENT, putId, put("k", "new")).getErrCode());
    assertEquals(4, node.stats().replies(ErrorCode.OVERLOAD));
  }

  @Test
  void fullStoreAnswersOutOfSpaceAndKeepsServing() {
    long emptyLength = new Store(0).length();
    long recordLength = Store.recordLength(2, 999);
    long storeLengthMax = emptyLength + 5 * recordLength;
    node = new Node(NodeConfig.defaults(PID, storeLengthMax, 5));
    for (int i = 0; i < 5; i++) {
      assertEquals(ErrorCode.SUCCESS, call(put(bytes("k" + i), value(999, i), i)).getErrCode());
      assertTrue(node.store().length() <= storeLengthMax);
    }
    assertEquals(storeLengthMax, node.store().length(), "exactly full");
    ByteString refusedId = newId();
    assertEquals(ErrorCode.OUT_OF_SPACE,
        call(CLIENT, refusedId, put(bytes("k5"), value(999, 5), 5)).getErrCode());
    assertEquals(ErrorCode.OUT_OF_SPACE, call(put(bytes("k6"), value(0, 6), 6)).getErrCode(),
        "even an empty value needs a record");
    assertEquals(storeLengthMax, node.store().length());

    assertEquals(value(999, 0), call(get("k0")).getValue());
    assertEquals(ErrorCode.NOT_FOUND, call(get("k5")).getErrCode());
    assertEquals(ErrorCode.SUCCESS, call(command(Command.IS_ALIVE)).getErrCode());
    assertEquals(ErrorCode.NOT_FOUND, call(remove("zz")).getErrCode());

    // Overwrites that take no more room succeed; 1,000 bytes pad to the same record length as 999.
    assertEquals(ErrorCode.SUCCESS, call(put(bytes("k0"), value(999, 40), 40)).getErrCode());
    assertEquals(value(999, 40), call(get("k0")).getValue());
    assertEquals(ErrorCode.SUCCESS, call(put(bytes("k0"), value(1_000, 41), 41)).getErrCode());
    assertEquals(ErrorCode.OUT_OF_SPACE,
        call(put(bytes("k0"), value(1_005, 42), 42)).getErrCode(), "one more padded word");
    assertEquals(value(1_000, 41), call(get("k0")).getValue());
    assertTrue(node.store().length() <= storeLengthMax);

    assertEquals(ErrorCode.SUCCESS, call(remove("k1")).getErrCode());
    assertEquals(ErrorCode.SUCCESS,
        call(CLIENT, refusedId, put(bytes("k5"), value(999, 5), 5)).getErrCode(),
        "the refused PUT was not cached, so its retry runs now that it fits");
    assertEquals(value(999, 5), call(get("k5")).getValue());
    assertEquals(ErrorCode.OUT_OF_SPACE, call(put(bytes("k7"), value(999, 7), 7)).getErrCode());
    assertTrue(node.store().length() <= storeLengthMax);
    assertEquals(ErrorCode.SUCCESS, call(command(Command.WIPEOUT)).getErrCode());
    assertEquals(ErrorCode.SUCCESS, call(put(bytes("k7"), value(999, 7), 7)).getErrCode());
  }

  @Test
  void capacityRunOfLargeValuesStopsAtTheBudget() {
    long storeLengthMax = 1L << 20;
    node = new Node(NodeConfig.defaults(PID, storeLengthMax, 6));
    int stored = 0;
    while (call(put(bytes("big" + stored), value(10_000, stored), 0)).getErrCode()
        == ErrorCode.SUCCESS) {
      assertTrue(node.store().length() <= storeLengthMax);
      stored++;
      assertTrue(stored < 1_000, "OUT_OF_SPACE never came");
    }
    assertTrue(stored > 90, "only " + stored + " values of 10,000 bytes in 1 MiB");
    assertTrue(storeLengthMax - node.store().length() < Store.recordLength(5, 10_000));
    assertEquals(ErrorCode.SUCCESS, call(command(Command.IS_ALIVE)).getErrCode());
    assertEquals(value(10_000, 0), call(get("big0")).getValue());
  }

  @Test
  void timeGoingBackwardsIsAnInvariantViolation() {
    call(command(Command.IS_ALIVE));
    nowMs = 5_000;
    call(command(Command.IS_ALIVE));
    call(command(Command.IS_ALIVE)); // the same time again is fine
    byte[] datagram = ClientCodec.encodeRequest(newId(), command(Command.IS_ALIVE));
    assertThrows(IllegalStateException.class,
        () -> node.onDatagram(CLIENT, datagram, datagram.length, 4_999, out));
    assertThrows(IllegalStateException.class, () -> node.onTick(4_999, out));
    node.onTick(5_000, out);
    node.onTick(6_000, out);
    assertThrows(IllegalStateException.class,
        () -> node.onDatagram(CLIENT, datagram, datagram.length, 5_999, out));
  }

  @Test
  void tickExpiresTheReplyCache() {
    node = new Node(NodeConfig.defaults(PID, STORE_LENGTH_MAX, 8).withReplyRetentionMs(1_000));
    ByteString id = newId();
    assertEquals(ErrorCode.NOT_FOUND, call(CLIENT, id, remove("k")).getErrCode());
    node.onTick(nowMs + 999, out);
    assertEquals(1, node.replyCache().size());
    node.onTick(nowMs + 1_000, out);
    assertEquals(0, node.replyCache().size());
  }

  // --- Malformed input ------------------------------------------------------------------------

  @Test
  void malformedDatagramsAreDroppedAndCountedByReason() {
    NodeStats stats = node.stats();
    assertDropped(new byte[0], "an empty datagram");
    assertDropped(new byte[] {0x0A}, "one byte");
    assertDropped(new byte[] {(byte) 0xFF}, "one other byte");
    assertEquals(3, stats.dropped(DropReason.MALFORMED));

    ByteString id = newId();
    ByteString payload = put("k", "v").toByteString();
    byte[] badChecksum = Msg.newBuilder().setMessageID(id).setPayload(payload)
        .setCheckSum(ClientCodec.checksum(id, payload) ^ 1).build().toByteArray();
    assertDropped(badChecksum, "a bad checksum");
    assertEquals(1, stats.dropped(DropReason.BAD_CHECKSUM));

    assertDropped(ClientCodec.encodeRequest(ByteString.copyFrom(new byte[17]), put("k", "v")),
        "a 17-byte messageID");
    assertEquals(1, stats.dropped(DropReason.MESSAGE_ID_TOO_LONG));

    ByteString notARequest = KVRequest.newBuilder().setKey(bytes("k")).buildPartial()
        .toByteString();
    assertDropped(ClientCodec.encode(newId(), notARequest), "a payload without command");
    assertDropped(ClientCodec.encode(newId(), ByteString.copyFrom(new byte[] {(byte) 0xFF,
        (byte) 0xFF})), "a garbage payload");
    assertEquals(5, stats.dropped(DropReason.MALFORMED));

    byte[] huge = new byte[NodeConfig.DATAGRAM_LENGTH_MAX + 1];
    assertDropped(huge, "a 65,508-byte datagram");
    assertEquals(1, stats.dropped(DropReason.OVERSIZE));

    byte[] valid = ClientCodec.encodeRequest(newId(), put(bytes("key"), value(100, 1), 3));
    for (int length = 0; length < valid.length; length++) {
      byte[] cut = Arrays.copyOf(valid, length);
      assertDropped(cut, "a request cut at byte " + length);
    }
    assertEquals(5 + valid.length, stats.dropped(DropReason.MALFORMED));
    assertEquals(0, node.store().size(), "nothing dropped was executed");
    // The same bytes delivered in a longer buffer, with the right length, are a request.
    int before = out.sent.size();
    byte[] padded = Arrays.copyOf(valid, valid.length + 10);
    node.onDatagram(CLIENT, padded, valid.length, nowMs, out);
    assertEquals(before + 1, out.sent.size());
    assertEquals(1, node.store().size());
    assertEquals(8 + valid.length, stats.droppedTotal());
    assertEquals(stats.droppedTotal() + 1, stats.datagramsReceived());
  }

  @Test
  void theLongestDatagramIsAnsweredNotDropped() {
    // A PUT of exactly 65,507 bytes: not OVERSIZE, so it is decoded and answered INVALID_VALUE.
    ByteString id = newId();
    int overhead = ClientCodec.encodeRequest(id, put(value(1, 0), value(65_000, 0), 0)).length
        - 65_000;
    byte[] datagram = null;
    for (int keyLength = 1; keyLength <= 32 && datagram == null; keyLength++) {
      byte[] candidate = ClientCodec.encodeRequest(id, put(value(keyLength, 0),
          value(NodeConfig.DATAGRAM_LENGTH_MAX - overhead - (keyLength - 1), 0), 0));
      if (candidate.length == NodeConfig.DATAGRAM_LENGTH_MAX) {
        datagram = candidate;
      }
    }
    assertTrue(datagram != null, "no request of exactly 65,507 bytes found");
    int before = out.sent.size();
    node.onDatagram(CLIENT, datagram, datagram.length, nowMs, out);
    assertEquals(before + 1, out.sent.size());
    assertEquals(ErrorCode.INVALID_VALUE,
        checkReply(out.sent.get(before).datagram(), id).getErrCode());
    assertEquals(0, node.stats().droppedTotal());
  }

  @Test
  void everySingleBitFlipIsDroppedOrAnsweredWellFormed() throws InvalidProtocolBufferException {
    ByteString id = newId();
    byte[] valid = ClientCodec.encodeRequest(id, put(bytes("flip"), value(16, 3), 9));
    int dropped = 0;
    int answered = 0;
    for (int bit = 0; bit < valid.length * 8; bit++) {
      byte[] flipped = valid.clone();
      flipped[bit / 8] ^= (byte) (1 << (bit % 8));
      // A sender per flip, so that an accepted flip is never a retry of an earlier one.
      long from = Addresses.of(0x0A00_0000 + bit, 40_000);
      int before = out.sent.size();
      node.onDatagram(from, flipped, flipped.length, nowMs, out);
      int replies = out.sent.size() - before;
      assertTrue(replies <= 1, "bit " + bit + ": " + replies + " replies");
      if (replies == 0) {
        dropped++;
      } else {
        answered++;
        RecordingOutbox.Sent reply = out.sent.get(before);
        assertEquals(from, reply.address());
        // CRC32 detects every single-bit error, so an accepted flip can only have touched
        // framing that leaves messageID and payload intact.
        Msg accepted = Msg.parseFrom(flipped);
        assertEquals(id, accepted.getMessageID(), "bit " + bit);
        checkReply(reply.datagram(), id);
      }
    }
    System.out.println("NodeTest bit flips of a " + valid.length + "-byte PUT: " + dropped
        + " dropped, " + answered + " answered");
    assertEquals(valid.length * 8, dropped + answered);
    assertEquals(dropped, node.stats().droppedTotal());
    assertTrue(dropped > valid.length * 8 * 9 / 10, dropped + " of " + valid.length * 8);
  }

  // --- Fuzz -----------------------------------------------------------------------------------

  @Test
  void randomAndMutatedDatagramsNeverThrowAndEveryReplyIsWellFormed() {
    long seed = TestSeeds.seed(
        "NodeTest.randomAndMutatedDatagramsNeverThrowAndEveryReplyIsWellFormed");
    SplittableRandom random = new SplittableRandom(seed);
    long storeLengthMax = new Store(0).length() + 64 * 1024;
    NodeConfig config = new NodeConfig(PID, 1_000, 2_048, storeLengthMax, random.nextLong(), 20);
    node = new Node(config);
    long[] senders = new long[6];
    for (int i = 0; i < senders.length; i++) {
      senders[i] = Addresses.of(random.nextInt(), random.nextInt(Addresses.PORT_MAX + 1));
    }
    List<byte[]> recent = new ArrayList<>();
    int accepted = 0;
    int datagrams = 20_000;
    int stepMsMax = 1;
    for (int i = 0; i < datagrams; i++) {
      String context = "datagram " + i + ", " + TestSeeds.describe(seed);
      if (i % 2_000 == 0) {
        // Phases of different rates: bursts that fill the reply cache, lulls that drain it.
        stepMsMax = new int[] {1, 3, 10, 40}[random.nextInt(4)];
      }
      nowMs += random.nextInt(500) == 0 ? random.nextInt(3_000) : random.nextInt(stepMsMax);
      if (random.nextInt(50) == 0) {
        node.onTick(nowMs, out);
      }
      long from = senders[random.nextInt(senders.length)];
      byte[] datagram;
      int kind = random.nextInt(100);
      if (kind < 45 || recent.isEmpty()) {
        datagram = randomRequest(random);
        recent.add(datagram);
        if (recent.size() > 64) {
          recent.remove(random.nextInt(recent.size()));
        }
      } else if (kind < 60) {
        datagram = recent.get(random.nextInt(recent.size())); // a retry, maybe from another sender
      } else if (kind < 90) {
        datagram = mutate(recent.get(random.nextInt(recent.size())), random);
      } else if (kind < 99) {
        datagram = new byte[random.nextInt(200)];
        random.nextBytes(datagram);
      } else {
        datagram = new byte[NodeConfig.DATAGRAM_LENGTH_MAX - 2 + random.nextInt(4)];
        random.nextBytes(datagram);
      }

      // What the node should do, from the codec's own verdict on the datagram.
      Msg expected;
      try {
        expected = ClientCodec.decodeMsg(datagram, datagram.length,
            NodeConfig.DATAGRAM_LENGTH_MAX, NodeConfig.MESSAGE_ID_LENGTH_MAX);
        ClientCodec.decodeRequest(expected);
      } catch (DecodeException e) {
        expected = null;
      }
      int before = out.sent.size();
      try {
        node.onDatagram(from, datagram, datagram.length, nowMs, out);
      } catch (RuntimeException e) {
        throw new AssertionError("exception escaped, " + context, e);
      }
      int replies = out.sent.size() - before;
      assertEquals(expected == null ? 0 : 1, replies, context);
      if (expected != null) {
        accepted++;
        RecordingOutbox.Sent reply = out.sent.get(before);
        assertEquals(from, reply.address(), context);
        try {
          checkReply(reply.datagram(), expected.getMessageID());
        } catch (AssertionError e) {
          throw new AssertionError(e.getMessage() + ", " + context, e);
        }
      }
      assertTrue(node.store().length() <= storeLengthMax, context);
      assertTrue(node.replyCache().size() <= node.replyCache().capacity(), context);
    }
    String context = TestSeeds.describe(seed);
    NodeStats stats = node.stats();
    assertEquals(datagrams, stats.datagramsReceived(), context);
    assertEquals(datagrams - accepted, stats.droppedTotal(), context);
    long requests = 0;
    for (int command = 0; command <= Command.COUNT; command++) {
      requests += stats.requests(command);
    }
    assertEquals(accepted, requests, context);
    long replies = 0;
    for (int errCode = 0; errCode < ErrorCode.COUNT; errCode++) {
      replies += stats.replies(errCode);
    }
    assertEquals(out.sent.size(), replies, context);
    // Not vacuous: the run reached every kind of answer and every kind of drop.
    for (int errCode : new int[] {ErrorCode.SUCCESS, ErrorCode.NOT_FOUND, ErrorCode.OUT_OF_SPACE,
        ErrorCode.OVERLOAD, ErrorCode.UNRECOGNIZED_COMMAND, ErrorCode.INVALID_KEY,
        ErrorCode.INVALID_VALUE}) {
      assertTrue(stats.replies(errCode) > 0, ErrorCode.name(errCode) + " never seen, " + context);
    }
    for (DropReason reason : DropReason.values()) {
      // Stalls matter only in a cluster (see staleRequestsAfterAStallAreDropped), and blocked
      // links only there too, once an operator blocks them (see AdminTest); tags and admin
      // stamps only at a node with a cluster key (see io.kvd.core.auth.KeyedNodeTest); internal
      // messages from non-members only where there are members (see AdminTest).
      if (reason != DropReason.STALE_AFTER_STALL && reason != DropReason.BLOCKED
          && reason != DropReason.NOT_A_MEMBER
          && !io.kvd.core.auth.PeerAuth.DROP_REASONS.contains(reason)) {
        assertTrue(stats.dropped(reason) > 0, reason + " never seen, " + context);
      }
    }
    assertTrue(stats.replyCacheHits() > 0, context);
    System.out.println("NodeTest fuzz: " + accepted + " of " + datagrams + " accepted, "
        + stats.replyCacheHits() + " cache hits, " + stats.replies(ErrorCode.OVERLOAD)
        + " OVERLOAD, " + stats.replies(ErrorCode.OUT_OF_SPACE) + " OUT_OF_SPACE");
  }

  private static final int[] FUZZ_COMMANDS = {Command.PUT, Command.PUT, Command.PUT, Command.PUT,
      Command.GET, Command.GET, Command.GET, Command.REMOVE, Command.REMOVE, Command.IS_ALIVE,
      Command.GET_PID, Command.GET_MEMBERSHIP_COUNT, Command.SHUTDOWN, Command.WIPEOUT, 0, 9, 99};

  private static byte[] randomRequest(SplittableRandom random) {
    KVRequest.Builder request = KVRequest.newBuilder()
        .setCommand(FUZZ_COMMANDS[random.nextInt(FUZZ_COMMANDS.length)]);
    if (request.getCommand() == Command.WIPEOUT && random.nextInt(4) != 0) {
      request.setCommand(Command.GET); // keep wipeouts rare enough for the store to fill
    }
    if (random.nextInt(20) != 0) {
      int keyLength = random.nextInt(20) == 0 ? random.nextInt(40) : 1 + random.nextInt(2);
      byte[] key = new byte[keyLength];
      random.nextBytes(key);
      request.setKey(ByteString.copyFrom(key));
    }
    if (random.nextInt(3) != 0) {
      int pick = random.nextInt(100);
      int valueLength = pick < 70 ? random.nextInt(64)
          : pick < 95 ? 9_000 + random.nextInt(1_001) : 10_001 + random.nextInt(100);
      byte[] value = new byte[valueLength];
      random.nextBytes(value);
      request.setValue(ByteString.copyFrom(value));
    }
    if (random.nextBoolean()) {
      request.setVersion(random.nextInt());
    }
    byte[] id = new byte[random.nextInt(10) == 0 ? random.nextInt(17) : 16];
    random.nextBytes(id);
    return ClientCodec.encodeRequest(ByteString.copyFrom(id), request.build());
  }

  private static byte[] mutate(byte[] datagram, SplittableRandom random) {
    byte[] d = datagram.clone();
    switch (random.nextInt(6)) {
      case 0: { // flip a few bits
        int flips = 1 + random.nextInt(8);
        for (int i = 0; i < flips && d.length > 0; i++) {
          int bit = random.nextInt(d.length * 8);
          d[bit / 8] ^= (byte) (1 << (bit % 8));
        }
        return d;
      }
      case 1: // cut short
        return Arrays.copyOf(d, random.nextInt(d.length + 1));
      case 2: { // trailing junk
        byte[] longer = Arrays.copyOf(d, d.length + 1 + random.nextInt(32));
        for (int i = d.length; i < longer.length; i++) {
          longer[i] = (byte) random.nextInt(256);
        }
        return longer;
      }
      case 3: // overwrite a byte
        if (d.length > 0) {
          d[random.nextInt(d.length)] = (byte) random.nextInt(256);
        }
        return d;
      case 4: { // a 17-byte messageID around a real payload
        try {
          Msg msg = Msg.parseFrom(d);
          byte[] id = new byte[17];
          random.nextBytes(id);
          return ClientCodec.encode(ByteString.copyFrom(id), msg.getPayload());
        } catch (InvalidProtocolBufferException e) {
          return d;
        }
      }
      default: { // a valid Msg around a mangled payload
        try {
          Msg msg = Msg.parseFrom(d);
          byte[] payload = msg.getPayload().toByteArray();
          if (payload.length > 0) {
            payload[random.nextInt(payload.length)] ^= (byte) (1 + random.nextInt(255));
          }
          return ClientCodec.encode(msg.getMessageID(), ByteString.copyFrom(payload));
        } catch (InvalidProtocolBufferException e) {
          return d;
        }
      }
    }
  }

  @Test
  void replyDatagramsAreNeverShared() {
    // The outbox owns what it is given: two replies are two arrays, even for equal answers.
    ByteString id = newId();
    call(CLIENT, id, command(Command.IS_ALIVE));
    call(CLIENT, id, command(Command.IS_ALIVE));
    byte[] first = out.sent.get(0).datagram();
    byte[] second = out.sent.get(1).datagram();
    assertArrayEquals(first, second);
    assertFalse(first == second, "the same array was sent twice");
  }
}
