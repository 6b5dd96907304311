package io.kvd.server;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.kvd.client.KvClient;
import io.kvd.client.KvErrorException;
import io.kvd.client.KvTimeoutException;
import io.kvd.client.RetryPolicy;
import io.kvd.client.Versioned;
import io.kvd.core.Command;
import io.kvd.core.ErrorCode;
import io.kvd.core.NodeConfig;
import io.kvd.core.codec.ClientCodec;
import io.kvd.core.cluster.Ring;
import io.kvd.core.codec.ClientCodec.DecodeException;
import io.kvd.proto.ClientProtocol.KVRequest;
import io.kvd.proto.ClientProtocol.KVResponse;
import io.kvd.testkit.KvdCluster;
import io.kvd.testkit.RawUdp;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer.OrderAnnotation;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;

/**
 * Proves, on a local cluster of 10 real kvd processes (bin/kvd, -Xmx64m each, one servers file),
 * that routing and membership work between real processes over UDP:
 *
 * <ol>
 *   <li>forwarding: a request sent to a member that does not own the key is executed by the owner,
 *       which replies to the client directly; what one member wrote, another reads; and
 *       at-most-once holds when the client retries through another member;
 *   <li>failure and rejoin: after 3 members exit on SHUTDOWN and 1 is suspended (SIGSTOP), every
 *       live member counts 6 within 10 s; after it resumes (SIGCONT) every live member counts 7
 *       within 10 s; the time each member took is printed (p50 and max). Requests sent to random
 *       live members succeed, and every key written before, during and after reads back what was
 *       written (replication keeps the keys of the members that are down).
 * </ol>
 *
 * The methods run in order on one cluster (the second breaks it). Which members fail follows
 * from the seed, printed; rerun with -Dkvd.seed=SEED. -Dkvd.cluster.size=N runs it on N members
 * (the counts to reach are then N - 4 and N - 3); -Dkvd.cluster.memberArgs="..." gives every
 * member extra options, such as fault injection.
 */
@Timeout(240)
@TestMethodOrder(OrderAnnotation.class)
class ClusterIT {
  private static final long SEED = Long.getLong("kvd.seed", 431L);
  /** Members; -Dkvd.cluster.size=20 measures at the course's smallest cluster. */
  private static final int SIZE = Integer.getInteger("kvd.cluster.size", 10);
  /**
   * Extra options for every member, space-separated; for example
   * -Dkvd.cluster.memberArgs="--fault-loss-pct 2.5 --fault-delay-ms 5" runs on lossy links.
   */
  private static final String MEMBER_ARGS = System.getProperty("kvd.cluster.memberArgs", "");
  private static final int SHUT_DOWN = 3;
  /** Leaves 6 of 10 live: a majority, without which members refuse requests (DESIGN.md). */
  private static final int SUSPENDED = 1;
  /** The targets: every live member's count is right within this after the faults. */
  private static final Duration DETECTION_MAX = Duration.ofSeconds(10);
  private static final Duration REJOIN_MAX = Duration.ofSeconds(10);
  /** How long to keep measuring past the target, so that a failure still reports the times. */
  private static final Duration OBSERVE_MAX = Duration.ofSeconds(25);
  private static final Duration CONVERGE_MAX = Duration.ofSeconds(60);
  private static final int KEYS_PER_PHASE = 150;
  /** A request that times out (member busy, view changing) is retried on another member. */
  private static final int ATTEMPTS_MAX = 5;

  /** Bounds the resends of the raw GET that is answered OVERLOAD or not at all. */
  private static final int OVERLOAD_RESENDS_MAX = 20;

  private static KvdCluster cluster;
  private static KvClient client;
  private static KvClient probe;
  private static Ring ring;
  /** Ring member index -> cluster member index. */
  private static int[] clusterIndexOf;

  @BeforeAll
  static void start() throws Exception {
    System.out.printf("ClusterIT seed=%d (rerun with -Dkvd.seed=%d)%n", SEED, SEED);
    long startNanos = System.nanoTime();
    cluster = KvdCluster.start(SIZE, List.of(),
        MEMBER_ARGS.isBlank() ? new String[0] : MEMBER_ARGS.trim().split("\\s+"));
    client = KvClient.open(RetryPolicy.DEFAULT, 4096);
    probe = KvClient.open(RetryPolicy.DEFAULT.withTimeoutMsInitial(200).withRetriesMax(0), 256);
    ring = new Ring(cluster.packedAddresses(), Ring.VIRTUAL_NODES_DEFAULT);
    clusterIndexOf = new int[SIZE];
    for (int i = 0; i < SIZE; i++) {
      clusterIndexOf[ring.indexOf(cluster.packedAddress(i))] = i;
    }
    double startedS = (System.nanoTime() - startNanos) / 1e9;
    List<Integer> all = range(SIZE);
    long[] convergedMs = awaitCounts(all, SIZE, System.nanoTime(), CONVERGE_MAX);
    System.out.printf("ClusterIT: %d members answer IS_ALIVE after %.1f s; all count %d %d ms"
        + " later%n", SIZE, startedS, SIZE, max(convergedMs));
    assertAll(convergedMs, all, SIZE, CONVERGE_MAX);
  }

  @AfterAll
  static void stop() {
    if (probe != null) {
      probe.close();
    }
    if (client != null) {
      client.close();
    }
    if (cluster != null) {
      cluster.close();
    }
  }

  @Test
  @Order(1)
  void requestsAreForwardedToTheOwnerWhichRepliesDirectlyAndAtMostOnceHoldsAcrossMembers()
      throws Exception {
    boolean[] live = new boolean[SIZE];
    Arrays.fill(live, true);
    byte[] key = bytes("forwarded-key");
    int b = ownerOf(key, live);
    int a = (b + 1) % SIZE;
    int c = (b + 2) % SIZE;
    InetSocketAddress nodeA = cluster.address(a);
    InetSocketAddress nodeB = cluster.address(b);
    InetSocketAddress nodeC = cluster.address(c);

    // The reply to a request sent to A comes from B, the owner. A starved member (10 JVMs on 2
    // cores, just started) may shed the request with OVERLOAD instead (DESIGN.md, load shedding):
    // that answer comes from A, is not cached, and the request is resent after the wait.
    try (RawUdp raw = new RawUdp(nodeA)) {
      KVRequest get = KVRequest.newBuilder().setCommand(Command.GET)
          .setKey(ByteString.copyFrom(key)).build();
      byte[] id = new byte[NodeConfig.MESSAGE_ID_LENGTH_MAX];
      new Random(SEED).nextBytes(id);
      RawUdp.Received reply = null;
      int overloads = 0;
      for (int attempt = 0; attempt < OVERLOAD_RESENDS_MAX && reply == null; attempt++) {
        raw.send(ClientCodec.encodeRequest(ByteString.copyFrom(id), get));
        reply = raw.receiveFrom(1_000);
        if (reply != null && isOverload(reply)) {
          overloads++;
          Thread.sleep(Math.max(1, overloadWaitMs(reply)));
          reply = null;
        }
      }
      assertNotNull(reply, "no reply but OVERLOAD (" + overloads + " times) to a GET sent to A");
      assertEquals(nodeB.getPort(), reply.sender().getPort(),
          "the reply comes from the owner B, not from A, which forwarded the request");
    }

    // PUT v1 through A with ID X; read it through C; PUT v2 through B; resend PUT v1 with ID X
    // through C: the owner answers from its reply cache and does not execute it again.
    byte[] idX = new byte[NodeConfig.MESSAGE_ID_LENGTH_MAX];
    new Random(SEED + 1).nextBytes(idX);
    KVRequest putV1 = KVRequest.newBuilder().setCommand(Command.PUT)
        .setKey(ByteString.copyFrom(key)).setValue(ByteString.copyFrom(bytes("v1")))
        .setVersion(1).build();
    assertEquals(ErrorCode.SUCCESS,
        client.request(nodeA, idX, putV1, RetryPolicy.DEFAULT).join().getErrCode());
    Versioned viaC = client.get(nodeC, key).join().orElseThrow();
    assertArrayEquals(bytes("v1"), viaC.value(), "what A's PUT wrote is readable through C");
    client.put(nodeB, key, bytes("v2"), 2).join();
    assertEquals(ErrorCode.SUCCESS,
        client.request(nodeC, idX, putV1, RetryPolicy.DEFAULT).join().getErrCode(),
        "the resent PUT gets the cached answer");
    Versioned after = client.get(nodeA, key).join().orElseThrow();
    assertArrayEquals(bytes("v2"), after.value(), "the resent PUT v1 was not executed again");
    assertEquals(2, after.version());
  }

  @Test
  @Order(2)
  void shutDownAndSuspendedMembersAreDetectedAndResumedOnesRejoinWhileRequestsSucceed()
      throws Exception {
    Random random = new Random(SEED);
    List<Integer> order = range(SIZE);
    Collections.shuffle(order, random);
    List<Integer> shutDown = order.subList(0, SHUT_DOWN);
    List<Integer> suspended = order.subList(SHUT_DOWN, SHUT_DOWN + SUSPENDED);
    List<Integer> survivors = order.subList(SHUT_DOWN + SUSPENDED, SIZE);
    List<Integer> afterResume = new ArrayList<>(survivors);
    afterResume.addAll(suspended);
    System.out.printf("ClusterIT: SHUTDOWN members %s (ports %s), SIGSTOP members %s (ports %s)%n",
        shutDown, ports(shutDown), suspended, ports(suspended));

    // Keys written while all are up.
    Map<String, byte[]> phase0 = writeAndReadBack("before", range(SIZE), random);
    Instant faultsAt = Instant.now();

    for (int m : shutDown) {
      // SHUTDOWN is sent once; its acknowledgement may be lost (with fault injection), so what
      // counts is that the process exits.
      client.shutdown(cluster.address(m)).join();
    }
    for (int m : shutDown) {
      int status = cluster.member(m).awaitExit(Duration.ofSeconds(2));
      for (int resend = 0; status == -1 && resend < 3; resend++) {
        client.shutdown(cluster.address(m)).join();
        status = cluster.member(m).awaitExit(Duration.ofSeconds(2));
      }
      assertEquals(0, status, "member " + m + " exited with status 0 on SHUTDOWN");
    }
    for (int m : suspended) {
      cluster.member(m).suspend();
    }
    long detectionStart = System.nanoTime();
    long[] detectionMs = awaitCounts(survivors, survivors.size(), detectionStart, OBSERVE_MAX);
    report("detection (count " + survivors.size() + ")", survivors, detectionMs);
    assertAll(detectionMs, survivors, survivors.size(), DETECTION_MAX);

    // With 4 of 10 down, a key whose 4 replicas are all down is gone (until they return).
    List<Integer> down = new ArrayList<>(shutDown);
    down.addAll(suspended);
    int checked0 = readBack("before", phase0, survivors, key -> hasReplicaOutside(key, down));
    Map<String, byte[]> phase1 = writeAndReadBack("during", survivors, random);
    assertStillCounting(survivors, survivors.size());

    for (int m : suspended) {
      cluster.member(m).resume();
    }
    long rejoinStart = System.nanoTime();
    long[] rejoinMs = awaitCounts(afterResume, afterResume.size(), rejoinStart, OBSERVE_MAX);
    report("rejoin (count " + afterResume.size() + ")", afterResume, rejoinMs);
    assertAll(rejoinMs, afterResume, afterResume.size(), REJOIN_MAX);

    int checked0b = readBack("before", phase0, afterResume,
        key -> hasReplicaOutside(key, shutDown));
    int checked1 = readBack("during", phase1, afterResume, key -> true);
    writeAndReadBack("after", afterResume, random);
    assertStillCounting(afterResume, afterResume.size());
    System.out.printf("ClusterIT: read back %d keys written before the faults with %d live and %d"
        + " with %d, and %d of %d written with %d live after the suspended returned%n", checked0,
        survivors.size(), checked0b, afterResume.size(), checked1, phase1.size(),
        survivors.size());
    reportSuspicions(faultsAt, afterResume, shutDown, suspended);
  }

  // Membership counts.

  /**
   * Polls the members every 50 ms until each reports {@code expected}; returns for each member
   * (in {@code members} order) the ms from {@code startNanos} to its first right answer, or -1
   * when it gave none within {@code limit}.
   */
  private static long[] awaitCounts(List<Integer> members, int expected, long startNanos,
      Duration limit) throws InterruptedException {
    long[] doneMs = new long[members.size()];
    Arrays.fill(doneMs, -1);
    int done = 0;
    long deadline = startNanos + limit.toNanos();
    while (done < members.size() && System.nanoTime() < deadline) {
      List<CompletableFuture<Integer>> counts = new ArrayList<>();
      for (int i = 0; i < members.size(); i++) {
        counts.add(doneMs[i] >= 0 ? null : probe.membershipCount(cluster.address(members.get(i))));
      }
      for (int i = 0; i < members.size(); i++) {
        if (counts.get(i) != null && counts.get(i).handle((n, e) -> e == null ? n : -1).join()
            == expected) {
          doneMs[i] = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos);
          done++;
        }
      }
      Thread.sleep(50);
    }
    return doneMs;
  }

  /** The counts stayed right: no member has flapped away from {@code expected} since. */
  private static void assertStillCounting(List<Integer> members, int expected) {
    for (int m : members) {
      assertEquals(expected, client.membershipCount(cluster.address(m)).join(), "member " + m
          + " still counts " + expected);
    }
  }

  private static void assertAll(long[] doneMs, List<Integer> members, int expected,
      Duration limit) {
    for (int i = 0; i < members.size(); i++) {
      int m = members.get(i);
      assertTrue(doneMs[i] >= 0 && doneMs[i] <= limit.toMillis(), "member " + m + " (port "
          + cluster.address(m).getPort() + ") counted " + expected + " after " + doneMs[i]
          + " ms (-1: never), target " + limit.toMillis() + " ms; its log:\n"
          + cluster.member(m).logText());
    }
  }

  private static void report(String what, List<Integer> members, long[] doneMs) {
    long[] sorted = doneMs.clone();
    Arrays.sort(sorted);
    System.out.printf("ClusterIT: %s on %d live members: p50 %d ms, max %d ms; per member %s%n",
        what, members.size(), sorted[(sorted.length - 1) / 2], sorted[sorted.length - 1],
        Arrays.toString(doneMs));
  }

  private static long max(long[] values) {
    return Arrays.stream(values).max().orElse(-1);
  }

  /**
   * Prints the status changes the live members logged since the faults about members that never
   * failed: suspicions (refuted, or the count checks would have failed) and DEAD verdicts, apart
   * for the members that never paused and for the resumed ones, whose suspicion timers ran on
   * while they were stopped.
   */
  private static void reportSuspicions(Instant since, List<Integer> live, List<Integer> shutDown,
      List<Integer> suspended) throws IOException {
    List<String> healthy = new ArrayList<>();
    for (int m : live) {
      if (!suspended.contains(m) && !shutDown.contains(m)) {
        healthy.add("127.0.0.1:" + cluster.address(m).getPort() + " ");
      }
    }
    int[] suspicions = new int[2];
    int[] deaths = new int[2];
    for (int m : live) {
      int observer = suspended.contains(m) ? 1 : 0;
      for (String line : Files.readAllLines(cluster.member(m).log(), StandardCharsets.UTF_8)) {
        int space = line.indexOf(' ');
        int about = line.indexOf(" member ");
        if (space < 0 || about < 0) {
          continue;
        }
        Instant at;
        try {
          at = Instant.parse(line.substring(0, space));
        } catch (RuntimeException notAStatusLine) {
          continue;
        }
        String member = line.substring(about + " member ".length());
        if (at.isBefore(since) || healthy.stream().noneMatch(member::startsWith)) {
          continue;
        }
        suspicions[observer] += line.contains("-> SUSPECT") ? 1 : 0;
        deaths[observer] += line.contains("-> DEAD") ? 1 : 0;
      }
    }
    System.out.printf("ClusterIT: since the faults, about members that never failed: %d"
        + " suspicions and %d DEAD verdicts by members that never paused; %d and %d by the"
        + " resumed ones%n", suspicions[0], deaths[0], suspicions[1], deaths[1]);
  }

  // Requests.

  /** PUTs fresh keys through random members of {@code via}, then GETs them through others. */
  private static Map<String, byte[]> writeAndReadBack(String phase, List<Integer> via,
      Random random) {
    Map<String, byte[]> written = new HashMap<>();
    List<CompletableFuture<Void>> puts = new ArrayList<>();
    for (int k = 0; k < KEYS_PER_PHASE; k++) {
      String key = phase + "-" + k;
      byte[] value = new byte[16 + random.nextInt(512)];
      random.nextBytes(value);
      written.put(key, value);
      puts.add(withRetries(via, random.nextLong(),
          node -> client.put(node, bytes(key), value, value.length)));
    }
    puts.forEach(CompletableFuture::join);
    readBack(phase, written, via, key -> true);
    return written;
  }

  /** GETs the keys that {@code check} selects through random members; returns how many. */
  private static int readBack(String phase, Map<String, byte[]> written, List<Integer> via,
      java.util.function.Predicate<byte[]> check) {
    Random random = new Random(SEED ^ phase.hashCode());
    Map<String, CompletableFuture<Optional<Versioned>>> gets = new HashMap<>();
    for (String key : written.keySet()) {
      if (check.test(bytes(key))) {
        gets.put(key, withRetries(via, random.nextLong(), node -> client.get(node, bytes(key))));
      }
    }
    for (Map.Entry<String, CompletableFuture<Optional<Versioned>>> get : gets.entrySet()) {
      Optional<Versioned> got = get.getValue().join();
      assertTrue(got.isPresent(), phase + " key " + get.getKey() + " is missing");
      assertArrayEquals(written.get(get.getKey()), got.get().value(), phase + " key "
          + get.getKey());
      assertEquals(written.get(get.getKey()).length, got.get().version());
    }
    return gets.size();
  }

  /**
   * Runs {@code operation} on a random member of {@code via}; when it times out or answers
   * OVERLOAD (views changing), again on another, up to {@link #ATTEMPTS_MAX} times.
   */
  private static <T> CompletableFuture<T> withRetries(List<Integer> via, long seed,
      java.util.function.Function<InetSocketAddress, CompletableFuture<T>> operation) {
    Random random = new Random(seed);
    CompletableFuture<T> result = operation.apply(cluster.address(via.get(random.nextInt(
        via.size()))));
    for (int attempt = 1; attempt < ATTEMPTS_MAX; attempt++) {
      result = result.handle((value, error) -> {
        if (error == null) {
          return CompletableFuture.completedFuture(value);
        }
        Throwable cause = error instanceof CompletionException ? error.getCause() : error;
        boolean retriable = cause instanceof KvTimeoutException
            || (cause instanceof KvErrorException
                && ((KvErrorException) cause).errCode() == ErrorCode.OVERLOAD);
        if (!retriable) {
          return CompletableFuture.<T>failedFuture(cause);
        }
        return operation.apply(cluster.address(via.get(random.nextInt(via.size()))));
      }).thenCompose(f -> f);
    }
    return result;
  }

  // The ring, as the members compute it.

  /** The cluster index of the member owning {@code key} when the members in {@code live} are. */
  private static int ownerOf(byte[] key, boolean[] live) {
    boolean[] liveByRing = new boolean[SIZE];
    for (int r = 0; r < SIZE; r++) {
      liveByRing[r] = live[clusterIndexOf[r]];
    }
    return clusterIndexOf[ring.owner(Ring.keyToken(key, 0, key.length), liveByRing)];
  }

  /** Whether one of the key's replicas (with every member up) is not in {@code down}. */
  private static boolean hasReplicaOutside(byte[] key, List<Integer> down) {
    boolean[] all = new boolean[SIZE];
    Arrays.fill(all, true);
    int[] replicas = new int[4];
    int n = ring.replicas(Ring.keyToken(key, 0, key.length), all, replicas);
    for (int i = 0; i < n; i++) {
      if (!down.contains(clusterIndexOf[replicas[i]])) {
        return true;
      }
    }
    return false;
  }

  private static List<Integer> range(int n) {
    List<Integer> list = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      list.add(i);
    }
    return list;
  }

  private static String ports(List<Integer> members) {
    return members.stream().map(m -> Integer.toString(cluster.address(m).getPort()))
        .collect(Collectors.joining(", "));
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static KVResponse decode(RawUdp.Received reply) throws DecodeException {
    return ClientCodec.decodeReply(ClientCodec.decodeMsg(reply.datagram(),
        reply.datagram().length, NodeConfig.DATAGRAM_LENGTH_MAX, NodeConfig.MESSAGE_ID_LENGTH_MAX));
  }

  private static boolean isOverload(RawUdp.Received reply) throws DecodeException {
    return decode(reply).getErrCode() == ErrorCode.OVERLOAD;
  }

  private static int overloadWaitMs(RawUdp.Received reply) throws DecodeException {
    return decode(reply).getOverloadWaitTime();
  }
}
