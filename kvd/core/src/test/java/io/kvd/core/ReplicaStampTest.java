package io.kvd.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.kvd.core.cluster.ClusterConfig;
import io.kvd.core.cluster.MembershipConfig;
import io.kvd.core.codec.ClientCodec;
import io.kvd.core.codec.ClientCodec.DropReason;
import io.kvd.core.store.Store;
import io.kvd.proto.PeerProtocol.PeerMsg;
import io.kvd.proto.PeerProtocol.Replica;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Proves that replication stamps at or above 2^63 from the network are refused rather than
 * crashing the node or corrupting a key's order. The fuzzer (NodeFuzzTest) found that a replica
 * READ with stamp 2^63 for a key the node lacks threw NullPointerException out of
 * Node.onDatagram, which halts kvd: one datagram from a member's address stopped a keyless node.
 * How: a Node of a 3-member cluster without a key, fed hand-built replica messages from a member.
 */
class ReplicaStampTest {
  private static final long A = Addresses.of(0x7F00_0001, 43_100);
  private static final long B = Addresses.of(0x7F00_0001, 43_101);
  private static final long C = Addresses.of(0x7F00_0001, 43_102);
  private static final long[] MEMBERS = {A, B, C};
  private static final long HIGH_BIT = 0x8000_0000_0000_0000L;

  private static final class Recorder implements Outbox {
    final List<byte[]> sent = new ArrayList<>();

    @Override
    public void send(long address, byte[] datagram) {
      sent.add(datagram);
    }

    @Override
    public void shutdown() {
      throw new AssertionError("no shutdown expected");
    }
  }

  private final Node node = new Node(NodeConfig.defaults(7, 1L << 20, 5),
      new ClusterConfig(MEMBERS, A, 8, MembershipConfig.DEFAULT, 1, 1));
  private final Recorder out = new Recorder();
  private long nowMs = 1_000;

  private void deliver(Replica replica) {
    ByteString payload = replica.toByteString();
    byte[] datagram = PeerMsg.newBuilder().setReplica(true).setMessageID(ByteString.EMPTY)
        .setPayload(payload).setCheckSum(ClientCodec.checksum(ByteString.EMPTY, payload))
        .build().toByteArray();
    node.onDatagram(C, datagram, datagram.length, nowMs++, out);
  }

  private static Replica read(String key, long stamp) {
    return Replica.newBuilder().setKind(Replica.Kind.READ).setOp(9)
        .setKey(ByteString.copyFromUtf8(key)).setStamp(stamp).build();
  }

  private Replica lastReply() throws Exception {
    byte[] datagram = out.sent.get(out.sent.size() - 1);
    return Replica.parseFrom(ClientCodec.decodePeerMsg(datagram, datagram.length, 1 << 16, 64)
        .getPayload());
  }

  @Test
  void aReadWithStampTwoToThe63IsDroppedNotACrash() throws Exception {
    long malformed = node.stats().dropped(DropReason.MALFORMED);
    deliver(read("absent", HIGH_BIT));
    deliver(read("absent", -1L));
    assertEquals(malformed + 2, node.stats().dropped(DropReason.MALFORMED));
    assertTrue(out.sent.isEmpty(), "no reply to a forged stamp");

    // Just below the edge, the same READ is answered: stamp 0, no record, for a key not held.
    deliver(read("absent", Long.MAX_VALUE));
    Replica reply = lastReply();
    assertEquals(Replica.Kind.READ_REPLY, reply.getKind());
    assertEquals(0, reply.getStamp());
    assertFalse(reply.hasRecord());
    assertEquals(malformed + 2, node.stats().dropped(DropReason.MALFORMED));
  }

  @Test
  void aHeldKeyIsSentOnlyToAnOlderReader() throws Exception {
    node.store().put(bytes("held"), bytes("v"), 0, 1, 3, 5L << 16);
    deliver(read("held", 4L << 16));
    assertArrayEquals(node.store().get(bytes("held")), lastReply().getRecord().toByteArray());
    deliver(read("held", 5L << 16));
    assertFalse(lastReply().hasRecord(), "an equal stamp needs no record");
    int sent = out.sent.size();
    deliver(read("held", HIGH_BIT | (4L << 16)));
    assertEquals(sent, out.sent.size(), "dropped, not answered with the record");
  }

  @Test
  void aWrittenRecordWithStampTwoToThe63IsNotStored() throws Exception {
    Store scratch = new Store(0);
    scratch.put(bytes("k"), bytes("forged"), 0, 6, 1, 1L << 16);
    byte[] record = scratch.get(bytes("k"));
    byte[] forged = record.clone();
    forged[2 + 1] |= (byte) 0x80; // the stamp's top byte follows [key length][key][flags]
    assertEquals(HIGH_BIT | (1L << 16), Store.stamp(forged));

    deliver(Replica.newBuilder().setKind(Replica.Kind.WRITE).setOp(3).setKey(
        ByteString.copyFromUtf8("k")).setStamp(1L << 16).setRecord(ByteString.copyFrom(forged))
        .build());
    assertNull(node.store().get(bytes("k")), "refused");
    assertTrue(out.sent.isEmpty(), "and not acknowledged");

    // The same record with its stamp intact is stored and acknowledged.
    deliver(Replica.newBuilder().setKind(Replica.Kind.WRITE).setOp(4).setKey(
        ByteString.copyFromUtf8("k")).setStamp(1L << 16).setRecord(ByteString.copyFrom(record))
        .build());
    assertArrayEquals(record, node.store().get(bytes("k")));
    assertEquals(Replica.Kind.WRITE_ACK, lastReply().getKind());
  }

  private static byte[] bytes(String s) {
    return s.getBytes(java.nio.charset.StandardCharsets.UTF_8);
  }
}
