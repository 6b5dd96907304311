package io.kvd.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.kvd.core.Addresses;
import io.kvd.core.Command;
import io.kvd.core.ErrorCode;
import io.kvd.core.Node;
import io.kvd.core.cluster.MembershipConfig;
import io.kvd.core.cluster.Ring;
import io.kvd.core.codec.ClientCodec;
import io.kvd.proto.ClientProtocol.KVRequest;
import io.kvd.proto.ClientProtocol.KVResponse;
import io.kvd.proto.PeerProtocol.PeerMsg;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Proves forwarding in a simulated 5-node cluster: a request sent to any node is executed by the
 * key's owner, which replies to the client directly; at-most-once holds when a client retries
 * through another node; and a request already forwarded {@code Node.HOPS_MAX} times is answered
 * with OVERLOAD instead of forwarded again, so forwarding cannot loop.
 */
class RoutingSimulationTest {
  private static final long CLIENT = Addresses.of(0xC0A8_0101, 40_000);
  private Simulation sim;
  private final List<long[]> repliers = new ArrayList<>();
  private final List<KVResponse> replies = new ArrayList<>();
  private int owner;
  private int[] others;
  private final byte[] key = "routed-key".getBytes();

  @BeforeEach
  void converge() {
    sim = new Simulation(11, 5, NetworkConfig.CALM, MembershipConfig.DEFAULT, 64);
    sim.setClientReplies((client, fromNode, datagram) -> {
      try {
        replies.add(ClientCodec.decodeReply(ClientCodec.decodeMsg(datagram, datagram.length,
            65_507, 16)));
        repliers.add(new long[] {fromNode});
      } catch (ClientCodec.DecodeException e) {
        throw new AssertionError(e);
      }
    });
    sim.runUntil(3_000);
    assertTrue(sim.membershipConverged());
    boolean[] live = {true, true, true, true, true};
    owner = sim.indexOf(sim.ring().member(sim.ring().owner(
        Ring.keyToken(key, 0, key.length), live)));
    others = new int[4];
    for (int i = 0, j = 0; i < 5; i++) {
      if (i != owner) {
        others[j++] = i;
      }
    }
  }

  private KVResponse send(int via, byte[] id, KVRequest request) {
    int before = replies.size();
    sim.clientSend(CLIENT, via, ClientCodec.encodeRequest(ByteString.copyFrom(id), request));
    sim.runUntil(sim.nowMs() + 200);
    assertEquals(before + 1, replies.size(), "one reply");
    assertEquals(sim.address(owner), repliers.get(before)[0], "the owner replied directly");
    return replies.get(before);
  }

  private KVRequest put(String value, int version) {
    return KVRequest.newBuilder().setCommand(Command.PUT).setKey(ByteString.copyFrom(key))
        .setValue(ByteString.copyFromUtf8(value)).setVersion(version).build();
  }

  @Test
  void atMostOnceHoldsWhenAClientRetriesThroughAnotherNode() {
    byte[] first = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    byte[] second = {2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2};
    assertEquals(ErrorCode.SUCCESS, send(others[0], first, put("v1", 1)).getErrCode());
    assertEquals(ErrorCode.SUCCESS, send(others[1], second, put("v2", 2)).getErrCode());
    assertEquals(ErrorCode.SUCCESS, send(others[2], first, put("v1", 1)).getErrCode());
    KVResponse got = send(others[3], new byte[] {3},
        KVRequest.newBuilder().setCommand(Command.GET).setKey(ByteString.copyFrom(key)).build());
    assertEquals("v2", got.getValue().toStringUtf8());
    assertEquals(2, got.getVersion());
    Node ownerNode = sim.node(owner);
    assertEquals(4, ownerNode.stats().forwardsReceived());
    assertEquals(1, ownerNode.stats().replyCacheHits());
  }

  @Test
  void aRequestForwardedHopsMaxTimesIsRefusedNotForwarded() {
    byte[] id = {9};
    KVRequest request = put("x", 1);
    ByteString payload = request.toByteString();
    for (int hops : new int[] {Node.HOPS_MAX - 1, Node.HOPS_MAX}) {
      byte[] forwarded = PeerMsg.newBuilder().setMessageID(ByteString.copyFrom(id))
          .setPayload(payload).setCheckSum(ClientCodec.checksum(ByteString.copyFrom(id), payload))
          .setClientAddress(CLIENT).setHops(hops).build().toByteArray();
      int before = replies.size();
      // Arrives at a non-owner as if another member had forwarded it.
      sim.clientSend(Addresses.of(0x0A00_00FE, 43_100), others[0], forwarded);
      sim.runUntil(sim.nowMs() + 200);
      assertEquals(before + 1, replies.size());
      if (hops < Node.HOPS_MAX) {
        assertEquals(sim.address(owner), repliers.get(before)[0]);
        assertEquals(ErrorCode.SUCCESS, replies.get(before).getErrCode());
      } else {
        assertEquals(sim.address(others[0]), repliers.get(before)[0]);
        assertEquals(ErrorCode.OVERLOAD, replies.get(before).getErrCode());
        assertTrue(replies.get(before).getOverloadWaitTime() > 0);
        assertEquals(1, sim.node(others[0]).stats().routingConflicts());
      }
    }
  }
}
