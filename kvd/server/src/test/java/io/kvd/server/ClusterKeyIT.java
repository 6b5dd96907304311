package io.kvd.server;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.kvd.client.ClusterKeyFile;
import io.kvd.client.KvAuthException;
import io.kvd.client.KvClient;
import io.kvd.client.RetryPolicy;
import io.kvd.core.Addresses;
import io.kvd.core.AdminReplies;
import io.kvd.core.Command;
import io.kvd.core.NodeConfig;
import io.kvd.core.auth.ClusterKey;
import io.kvd.core.auth.PeerAuth;
import io.kvd.core.codec.ClientCodec;
import io.kvd.core.store.Store;
import io.kvd.proto.ClientProtocol.KVRequest;
import io.kvd.proto.PeerProtocol.AdminReply;
import io.kvd.proto.PeerProtocol.AdminRequest;
import io.kvd.proto.PeerProtocol.Gossip;
import io.kvd.proto.PeerProtocol.LinkFaults;
import io.kvd.proto.PeerProtocol.MemberView;
import io.kvd.proto.PeerProtocol.PeerMsg;
import io.kvd.proto.PeerProtocol.Replica;
import io.kvd.proto.PeerProtocol.Update;
import io.kvd.testkit.KvdCluster;
import io.kvd.testkit.KvdProcess;
import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Proves the cluster key on real processes: three bin/kvd members share a key and a servers file
 * of four entries; the fourth address is held by this test, an impostor listed as a member but
 * without the key (as a process on a member's host, or one spoofing its address, would be). From
 * there and from an outside socket it sends (a) gossip declaring a live member DEAD, (b) a
 * replication WRITE of a key with a higher stamp, (c) admin requests (100% loss, a partition) and
 * a forwarded SHUTDOWN, untagged and tagged with another key, and (d) a genuine admin request
 * twice and one stamped 60 s ago. Nothing changes (every member stays alive and ALIVE in every
 * view, no fault or block appears, the key keeps its value), each drop is counted by reason in
 * STATUS and in the Prometheus metrics, and clients without the key or with another get a
 * KvAuthException while one with the key works.
 */
@Timeout(180)
class ClusterKeyIT {
  private static final int MEMBERS = 3;
  private static final Duration START = Duration.ofSeconds(60);
  private static final byte[] KEY_BYTES = "victim".getBytes(StandardCharsets.UTF_8);
  private static final byte[] VALUE = "v1".getBytes(StandardCharsets.UTF_8);

  private static AdminRequest status() {
    return AdminRequest.newBuilder().setKind(AdminRequest.Kind.STATUS).build();
  }

  private static long counter(AdminReply reply, String name) {
    return AdminReplies.counter(reply, name).orElseThrow(() -> new AssertionError("no counter " + name));
  }

  private static byte[] peerMsg(ByteString payload, PeerMsg.Builder kind) {
    return kind.setMessageID(ByteString.EMPTY).setPayload(payload)
        .setCheckSum(ClientCodec.checksum(ByteString.EMPTY, payload)).build().toByteArray();
  }

  /** Receives one datagram within {@code timeoutMs}, or null. */
  private static byte[] receive(DatagramSocket socket, int timeoutMs) throws IOException {
    byte[] buffer = new byte[65_536];
    DatagramPacket packet = new DatagramPacket(buffer, buffer.length);
    socket.setSoTimeout(timeoutMs);
    try {
      socket.receive(packet);
      return Arrays.copyOf(buffer, packet.getLength());
    } catch (SocketTimeoutException e) {
      return null;
    }
  }

  /** The admin reply under {@code id} that arrives within {@code timeoutMs}, or null. */
  private static byte[] adminReply(DatagramSocket socket, ByteString id, int timeoutMs)
      throws Exception {
    long deadline = System.nanoTime() + timeoutMs * 1_000_000L;
    while (System.nanoTime() < deadline) {
      byte[] d = receive(socket, (int) Math.max(1, (deadline - System.nanoTime()) / 1_000_000));
      if (d == null) {
        return null;
      }
      PeerMsg msg = ClientCodec.decodePeerMsg(d, d.length, NodeConfig.DATAGRAM_LENGTH_MAX,
          NodeConfig.MESSAGE_ID_LENGTH_MAX);
      if (msg.getAdmin() && msg.getMessageID().equals(id)) {
        return d;
      }
    }
    return null;
  }

  @Test
  void forgedGossipWritesAdminAndReplaysChangeNothingAndAreCounted() throws Exception {
    Path dir = Paths.get("target", "kvd-logs", "cluster-key-" + System.nanoTime())
        .toAbsolutePath();
    Files.createDirectories(dir);
    Path keyFile = dir.resolve("cluster.key");
    SecureRandom random = new SecureRandom();
    byte[] material = ClusterKeyFile.generate(random);
    ClusterKeyFile.write(keyFile, material, "ClusterKeyIT");
    ClusterKey key = ClusterKeyFile.read(keyFile);
    ClusterKey wrong = ClusterKey.of(ClusterKeyFile.generate(random));

    int[] ports = KvdCluster.freeUdpPorts(MEMBERS + 1);
    int metricsPort = MetricsIT.freeTcpPort();
    StringBuilder servers = new StringBuilder();
    for (int port : ports) {
      servers.append("127.0.0.1:").append(port).append('\n');
    }
    Path serversFile = dir.resolve("servers.txt");
    Files.writeString(serversFile, servers.toString(), StandardCharsets.UTF_8);
    List<KvdProcess> kvds = new ArrayList<>();
    // The impostor: a listed member's address, without the key.
    try (DatagramSocket impostor = new DatagramSocket(
        new InetSocketAddress("127.0.0.1", ports[MEMBERS]));
        DatagramSocket outsider = new DatagramSocket(new InetSocketAddress("127.0.0.1", 0));
        KvClient keyed = KvClient.open(RetryPolicy.DEFAULT, 64, key);
        KvClient keyless = KvClient.open(RetryPolicy.DEFAULT.withRetriesMax(1), 64);
        KvClient wrongKeyed = KvClient.open(RetryPolicy.DEFAULT.withRetriesMax(1), 64, wrong)) {
      for (int i = 0; i < MEMBERS; i++) {
        List<String> args = new ArrayList<>(List.of("--servers-file", serversFile.toString(),
            "--host", "127.0.0.1", "--cluster-key-file", keyFile.toString()));
        if (i == 0) {
          args.addAll(List.of("--metrics-port", Integer.toString(metricsPort)));
        }
        kvds.add(KvdProcess.launch(ports[i], dir.resolve("node-" + ports[i] + ".log"), List.of(),
            args.toArray(new String[0])));
      }
      for (KvdProcess kvd : kvds) {
        kvd.awaitAlive(START);
      }
      InetSocketAddress[] nodes = new InetSocketAddress[MEMBERS];
      long[] pids = new long[MEMBERS];
      for (int i = 0; i < MEMBERS; i++) {
        nodes[i] = kvds.get(i).address();
        pids[i] = keyed.pid(nodes[i]).join();
      }
      awaitCount(keyed, nodes, MEMBERS);
      assertTrue(kvds.get(0).logText().contains("cluster key in " + keyFile), "logged");
      keyed.put(nodes[0], KEY_BYTES, VALUE, 7).join();
      InetSocketAddress target = nodes[0];
      long victim = Addresses.of(new byte[] {127, 0, 0, 1}, ports[1]);
      long impostorAddress = Addresses.of(new byte[] {127, 0, 0, 1}, ports[MEMBERS]);
      AdminReply before = keyed.admin(target, status()).join();
      assertEquals(0, counter(before, "dropped.missing_tag") + counter(before, "dropped.bad_tag"),
          "members' own traffic is all tagged: " + before.getCountersList());

      // (a) Gossip from a listed member: member 1 is DEAD, at a far higher incarnation.
      byte[] death = peerMsg(Gossip.newBuilder().setKind(Gossip.Kind.PING)
          .setFrom(impostorAddress).setSequence(1).addUpdates(Update.newBuilder()
              .setMember(victim).setIncarnation(Long.MAX_VALUE / 2)
              .setStatus(Update.Status.DEAD)).build().toByteString(),
          PeerMsg.newBuilder().setGossip(true));
      // (b) A replication WRITE of the key with a higher stamp than any real one.
      Store forgery = new Store(1);
      byte[] forged = "forged".getBytes(StandardCharsets.UTF_8);
      forgery.put(KEY_BYTES, forged, 0, forged.length, 99, Long.MAX_VALUE / 2);
      byte[] write = peerMsg(Replica.newBuilder().setKind(Replica.Kind.WRITE).setOp(1)
          .setKey(ByteString.copyFrom(KEY_BYTES)).setStamp(Long.MAX_VALUE / 2)
          .setRecord(ByteString.copyFrom(forgery.get(KEY_BYTES))).build().toByteString(),
          PeerMsg.newBuilder().setReplica(true));
      // (c) A forwarded SHUTDOWN, and admin requests: 100% loss, and a partition.
      ByteString shutdownId = ByteString.copyFromUtf8("forged-shutdown");
      ByteString shutdown = KVRequest.newBuilder().setCommand(Command.SHUTDOWN).build()
          .toByteString();
      byte[] forward = PeerMsg.newBuilder().setMessageID(shutdownId).setPayload(shutdown)
          .setCheckSum(ClientCodec.checksum(shutdownId, shutdown))
          .setClientAddress(impostorAddress).setHops(1).build().toByteArray();
      AdminRequest loss = AdminRequest.newBuilder().setKind(AdminRequest.Kind.FAULT_SET)
          .setFaults(LinkFaults.newBuilder().setLossPct(100)).setExpiryMs(600_000).build();
      AdminRequest partition = AdminRequest.newBuilder().setKind(AdminRequest.Kind.BLOCK)
          .addPeers(victim).addPeers(Addresses.of(new byte[] {127, 0, 0, 1}, ports[2]))
          .setExpiryMs(600_000).build();
      List<byte[]> untagged = new ArrayList<>();
      List<byte[]> otherKey = new ArrayList<>();
      for (byte[] d : List.of(death, write, forward)) {
        untagged.add(d);
        otherKey.add(wrong.sign(d));
      }
      for (AdminRequest r : List.of(loss, partition)) {
        byte[] nonce = new byte[16];
        random.nextBytes(nonce);
        ByteString id = ByteString.copyFrom(nonce, 0, 16);
        untagged.add(PeerAuth.adminRequest(id, r, null, 0, null));
        otherKey.add(PeerAuth.adminRequest(id, r, wrong, System.currentTimeMillis(), nonce));
      }
      for (int round = 0; round < 3; round++) {
        for (int i = 0; i < untagged.size(); i++) {
          DatagramSocket from = i < 3 ? impostor : outsider;
          from.send(new DatagramPacket(untagged.get(i), untagged.get(i).length, target));
          from.send(new DatagramPacket(otherKey.get(i), otherKey.get(i).length, target));
        }
      }
      assertNull(receive(outsider, 500), "no reply to forgeries");

      // (d) A genuine admin request (FAULT_SET), captured and sent twice; one 60 s old.
      AdminRequest delay = AdminRequest.newBuilder().setKind(AdminRequest.Kind.FAULT_SET)
          .setFaults(LinkFaults.newBuilder().setDelayMs(1)).setExpiryMs(600_000).build();
      ByteString genuineId = ByteString.copyFromUtf8("genuine-admin-1");
      byte[] nonce = new byte[16];
      random.nextBytes(nonce);
      byte[] genuine = PeerAuth.adminRequest(genuineId, delay, key, System.currentTimeMillis(),
          nonce);
      outsider.send(new DatagramPacket(genuine, genuine.length, target));
      byte[] reply = adminReply(outsider, genuineId, 5_000);
      assertNotNull(reply, "a genuine request is answered");
      PeerMsg replyMsg = ClientCodec.decodePeerMsg(reply, reply.length,
          NodeConfig.DATAGRAM_LENGTH_MAX, NodeConfig.MESSAGE_ID_LENGTH_MAX);
      assertTrue(PeerAuth.authentic(key, replyMsg, reply, reply.length), "reply tagged");
      assertTrue(AdminReply.parseFrom(replyMsg.getPayload()).hasFaults(), "and done");
      assertFalse(keyed.admin(target, AdminRequest.newBuilder()
          .setKind(AdminRequest.Kind.FAULT_CLEAR).build()).join().hasFaults(), "cleared");
      outsider.send(new DatagramPacket(genuine, genuine.length, target));
      assertNull(adminReply(outsider, genuineId, 1_000), "the replay is not answered");
      ByteString staleId = ByteString.copyFromUtf8("genuine-admin-2");
      random.nextBytes(nonce);
      byte[] stale = PeerAuth.adminRequest(staleId, delay, key,
          System.currentTimeMillis() - 60_000, nonce);
      outsider.send(new DatagramPacket(stale, stale.length, target));
      assertNull(adminReply(outsider, staleId, 1_000), "a stale request is not answered");

      // Nothing changed.
      AdminReply after = keyed.admin(target, status()).join();
      assertFalse(after.hasFaults(), "no faults: " + after.getFaults());
      for (MemberView m : after.getMembersList()) {
        assertFalse(m.hasBlockedRemainingMs(), "no block: " + m);
        if (m.getAddress() != impostorAddress) {
          assertEquals(Update.Status.ALIVE, m.getStatus(), "still ALIVE: " + m);
          assertTrue(m.getIncarnation() < 1L << 40, "no forged incarnation: " + m);
        }
      }
      awaitCount(keyed, nodes, MEMBERS);
      for (int i = 0; i < MEMBERS; i++) {
        assertTrue(kvds.get(i).process().isAlive(), "member " + i + " alive");
        assertEquals(pids[i], (long) keyed.pid(nodes[i]).join(), "the same process");
        assertArrayEquals(VALUE, keyed.get(nodes[i], KEY_BYTES).join().orElseThrow().value(),
            "the key's value through member " + i);
      }

      // Counted by reason, in STATUS and in the metrics.
      assertEquals(3 * untagged.size(), counter(after, "dropped.missing_tag"));
      assertEquals(3 * otherKey.size(), counter(after, "dropped.bad_tag"));
      assertEquals(1, counter(after, "dropped.admin_replayed"));
      assertEquals(1, counter(after, "dropped.admin_stale"));
      assertEquals(0, counter(after, "dropped.admin_nonces_full"));
      Map<String, Double> metrics = MetricsIT.scrape(metricsPort);
      assertEquals(3.0 * untagged.size(),
          metrics.get("kvd_dropped_datagrams_total{reason=\"missing_tag\"}"), metrics.toString());
      assertEquals(3.0 * otherKey.size(),
          metrics.get("kvd_dropped_datagrams_total{reason=\"bad_tag\"}"));
      assertEquals(1.0, metrics.get("kvd_dropped_datagrams_total{reason=\"admin_replayed\"}"));
      assertEquals(1.0, metrics.get("kvd_dropped_datagrams_total{reason=\"admin_stale\"}"));

      // Clients without the key, or with another, are told why; client requests need no key.
      CompletionException noKey = org.junit.jupiter.api.Assertions.assertThrows(
          CompletionException.class, () -> keyless.admin(target, status()).join());
      assertTrue(noKey.getCause() instanceof KvAuthException, noKey.toString());
      assertTrue(noKey.getCause().getMessage().contains("answers client requests"),
          noKey.getCause().getMessage());
      CompletionException otherKeyed = org.junit.jupiter.api.Assertions.assertThrows(
          CompletionException.class, () -> wrongKeyed.admin(target, status()).join());
      assertTrue(otherKeyed.getCause() instanceof KvAuthException, otherKeyed.toString());
      assertArrayEquals(VALUE, keyless.get(target, KEY_BYTES).join().orElseThrow().value());
    } finally {
      for (KvdProcess kvd : kvds) {
        kvd.close();
      }
    }
  }

  /** Waits (at most 30 s) until every node counts {@code count} live members. */
  private static void awaitCount(KvClient client, InetSocketAddress[] nodes, int count)
      throws InterruptedException {
    long deadline = System.nanoTime() + 30_000_000_000L;
    while (true) {
      boolean all = true;
      for (InetSocketAddress node : nodes) {
        all &= client.membershipCount(node).handle((n, e) -> e == null && n == count).join();
      }
      if (all) {
        return;
      }
      assertTrue(System.nanoTime() < deadline, "members do not all count " + count);
      Thread.sleep(200);
    }
  }
}
