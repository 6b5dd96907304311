package io.kvd.core.replication;

import com.google.protobuf.ByteString;
import io.kvd.core.Outbox;
import io.kvd.core.auth.PeerAuth;
import io.kvd.core.cluster.Membership;
import io.kvd.core.cluster.Ring;
import io.kvd.core.codec.ClientCodec;
import io.kvd.core.store.Store;
import io.kvd.proto.PeerProtocol.PeerMsg;
import io.kvd.proto.PeerProtocol.Replica;

/**
 * What replication and repair share: the ring, this node's view of who is live, the store and
 * how a {@link Replica} message becomes a datagram.
 */
final class Peers {
  final Ring ring;
  final Membership membership;
  final Store store;
  final int self;
  final int factor;
  private final int[] scratch;
  private long sent;
  private long sentBytes;
  /** Tags outgoing messages with the cluster key; none by default. */
  PeerAuth auth = new PeerAuth();

  Peers(Ring ring, Membership membership, Store store, int self, int factor) {
    this.ring = ring;
    this.membership = membership;
    this.store = store;
    this.self = self;
    this.factor = factor;
    this.scratch = new int[factor];
  }

  /** The replicas of {@code token} in the current view, the primary first; returns the count. */
  int replicas(long token, int[] out) {
    return ring.replicas(token, membership.live(), membership.liveCount(), out);
  }

  /**
   * Whether this node replicates {@code token} when {@code live} (with {@code liveCount} members)
   * are the live members.
   */
  boolean replicates(long token, boolean[] live, int liveCount) {
    int n = ring.replicas(token, live, liveCount, scratch);
    for (int i = 0; i < n; i++) {
      if (scratch[i] == self) {
        return true;
      }
    }
    return false;
  }

  /** A majority of the static member list: fewer live members than this must refuse to serve. */
  boolean majorityLive() {
    return membership.liveCount() * 2 > ring.size();
  }

  static int quorum(int replicas) {
    return replicas / 2 + 1;
  }

  /** The range (of {@link ReplicationConfig#RANGES}) a token falls in. */
  static int range(long token) {
    return (int) (token >>> 58);
  }

  static long tokenOf(byte[] key) {
    return Ring.keyToken(key, 0, key.length);
  }

  /** The whole record of {@code key} as bytes for a message, or null. */
  ByteString recordBytes(byte[] key) {
    byte[] record = store.get(key);
    return record == null ? null : ByteString.copyFrom(record);
  }

  void send(int member, Replica message, Outbox out) {
    ByteString payload = message.toByteString();
    byte[] datagram = auth.seal(PeerMsg.newBuilder()
        .setMessageID(ByteString.EMPTY)
        .setPayload(payload)
        .setCheckSum(ClientCodec.checksum(ByteString.EMPTY, payload))
        .setReplica(true)
        .build()
        .toByteArray());
    sent++;
    sentBytes += datagram.length;
    out.send(ring.member(member), datagram);
  }

  long messagesSent() {
    return sent;
  }

  long bytesSent() {
    return sentBytes;
  }
}
