package io.kvd.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.kvd.client.KvClient;
import io.kvd.core.AdminReplies;
import io.kvd.core.Command;
import io.kvd.core.ErrorCode;
import io.kvd.core.NodeConfig;
import io.kvd.core.codec.ClientCodec;
import io.kvd.core.codec.ClientCodec.DecodeException;
import io.kvd.proto.ClientProtocol.KVRequest;
import io.kvd.proto.ClientProtocol.KVResponse;
import io.kvd.proto.ClientProtocol.Msg;
import io.kvd.proto.PeerProtocol.AdminReply;
import io.kvd.proto.PeerProtocol.AdminRequest;
import io.kvd.testkit.KvdProcess;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.BindException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Proves per-source limits on a real bin/kvd bound to 127.0.0.1 with {@code --source-limits on}:
 * (1) a flood from 127.0.0.2 (3 threads sending as fast as they can for 4 s, in their own JVM
 * run under {@code nice} so that on a 2-core machine they do not take the node's CPU, as an
 * attacker elsewhere on the network would not) gets no more than its budget served and is
 * answered OVERLOAD with a wait, beyond which its requests are dropped and counted, while a
 * second source at 127.0.0.3 is served throughout: every request SUCCESS, with its median
 * latency as without the flood and few attempts retried; (2) a flood of PUTs from 100,000
 * distinct source endpoints (50,000 ports on each of 127.0.0.4 and 127.0.0.5, 500 sockets open
 * at a time) leaves the node alive, its per-source table the same size, and its heap within
 * its maximum. Every loop is bounded in count and time; all traffic is loopback. Figures come
 * from the node's STATUS snapshot, read as kvctl reads it (KvClient.admin).
 */
@Timeout(180)
class SourceLimitsIT {
  private static final int RATE = 500;
  private static final int BURST = 500;
  private static final long FLOOD_MS = 4_000;
  private static final int FLOOD_THREADS = 3;
  private static final long FLOODER_START_MS = 1_000;
  /** The default bound on OVERLOAD replies per second to one address, burst the same. */
  private static final long OVERLOAD_REPLIES = 1_000;
  private static final long FLOOD_DATAGRAMS_MAX = 20_000_000;
  private static final long PROBE_BASE = 1_000_000;

  private static KvdProcess start() throws Exception {
    return KvdProcess.start("--source-limits", "on",
        "--source-requests-per-sec", Integer.toString(RATE),
        "--source-requests-burst", Integer.toString(BURST));
  }

  private static AdminReply status(KvClient client, KvdProcess kvd) {
    return client.admin(kvd.address(),
        AdminRequest.newBuilder().setKind(AdminRequest.Kind.STATUS).build()).join();
  }

  private static long counter(AdminReply status, String name) {
    return AdminReplies.counter(status, name).orElseThrow(() -> new AssertionError("no counter " + name));
  }

  private static ByteString id(long n) {
    return ByteString.copyFrom(ByteBuffer.allocate(16).putLong(0x534C_4954_0000_0000L)
        .putLong(n).array());
  }

  private static KVResponse reply(byte[] datagram, int length) {
    try {
      Msg msg = ClientCodec.decodeMsg(datagram, length, NodeConfig.DATAGRAM_LENGTH_MAX,
          NodeConfig.MESSAGE_ID_LENGTH_MAX);
      return ClientCodec.decodeReply(msg);
    } catch (DecodeException e) {
      throw new AssertionError(e);
    }
  }

  /** The second source's PUT then GET of a fresh key; returns the next request number. */
  private static long probePair(DatagramSocket probe, InetSocketAddress node, long n,
      List<Long> latenciesUs, List<Long> timeouts) throws IOException, InterruptedException {
    ByteString key = ByteString.copyFromUtf8("probe-" + n);
    latenciesUs.add(call(probe, node, n, KVRequest.newBuilder().setCommand(Command.PUT)
        .setKey(key).setValue(ByteString.copyFromUtf8("v")).build(), ErrorCode.SUCCESS,
        timeouts));
    latenciesUs.add(call(probe, node, n + 1, KVRequest.newBuilder().setCommand(Command.GET)
        .setKey(key).build(), ErrorCode.SUCCESS, timeouts));
    Thread.sleep(5);
    return n + 2;
  }

  /**
   * The flooder, run by the test in its own JVM under {@code nice -n 19}: THREADS threads, each
   * with its own socket bound to BIND_HOST, send GETs to HOST:PORT as fast as they can for MS
   * milliseconds (at most MAX datagrams in all), reading whatever comes back; it then prints one
   * line, {@code sent=N success=N overload=N overloadWithWait=N}. Niced, because on a machine
   * of 2 cores flooders at the node's priority take its CPU, and the test would measure the
   * scheduler; across a network an attacker's CPU is its own.
   */
  public static final class Flooder {
    public static void main(String[] args) throws Exception {
      InetSocketAddress node = new InetSocketAddress(args[0], Integer.parseInt(args[1]));
      String bindHost = args[2];
      int threads = Integer.parseInt(args[3]);
      long endNanos = System.nanoTime() + Long.parseLong(args[4]) * 1_000_000;
      long max = Long.parseLong(args[5]);
      AtomicLong sent = new AtomicLong();
      AtomicLong success = new AtomicLong();
      AtomicLong overload = new AtomicLong();
      AtomicLong overloadWithWait = new AtomicLong();
      List<Thread> flooders = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        long base = t * 1_000_000_000L;
        Thread thread = new Thread(() -> {
          try (DatagramChannel channel = DatagramChannel.open()) {
            channel.bind(new InetSocketAddress(bindHost, 0));
            channel.configureBlocking(false);
            KVRequest get = KVRequest.newBuilder().setCommand(Command.GET)
                .setKey(ByteString.copyFromUtf8("flood-key")).build();
            ByteBuffer[] datagrams = new ByteBuffer[256];
            for (int i = 0; i < datagrams.length; i++) {
              datagrams[i] = ByteBuffer.wrap(ClientCodec.encodeRequest(id(base + i), get));
            }
            ByteBuffer in = ByteBuffer.allocate(65_536);
            long n = 0;
            while (System.nanoTime() < endNanos && sent.get() < max) {
              for (int i = 0; i < 64; i++, n++) {
                ByteBuffer datagram = datagrams[(int) (n % datagrams.length)];
                datagram.clear();
                if (channel.send(datagram, node) > 0) {
                  sent.incrementAndGet();
                }
              }
              for (in.clear(); channel.receive(in) != null; in.clear()) {
                KVResponse r = reply(in.array(), in.position());
                if (r.getErrCode() == ErrorCode.OVERLOAD) {
                  overload.incrementAndGet();
                  if (r.getOverloadWaitTime() > 0) {
                    overloadWithWait.incrementAndGet();
                  }
                } else {
                  success.incrementAndGet();
                }
              }
            }
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
        }, "flood-" + t);
        thread.start();
        flooders.add(thread);
      }
      for (Thread thread : flooders) {
        thread.join();
      }
      System.out.printf("sent=%d success=%d overload=%d overloadWithWait=%d%n", sent.get(),
          success.get(), overload.get(), overloadWithWait.get());
    }
  }

  /** Starts the {@link Flooder} from {@code bindHost} at {@code node}, niced, in its own JVM. */
  private static Process startFlooder(InetSocketAddress node, String bindHost, Path output)
      throws IOException {
    String java = Paths.get(System.getProperty("java.home"), "bin", "java").toString();
    return new ProcessBuilder("nice", "-n", "19", java, "-Xmx256m",
        "-cp", System.getProperty("java.class.path"), Flooder.class.getName(),
        node.getHostString(), Integer.toString(node.getPort()), bindHost,
        Integer.toString(FLOOD_THREADS), Long.toString(FLOOD_MS),
        Long.toString(FLOOD_DATAGRAMS_MAX))
        .redirectErrorStream(true).redirectOutput(output.toFile()).start();
  }

  /** The Flooder's counts, by name, from its last line. */
  private static Map<String, Long> flooderCounts(Path output) throws IOException {
    List<String> lines = Files.readAllLines(output, StandardCharsets.UTF_8);
    String last = lines.isEmpty() ? "" : lines.get(lines.size() - 1);
    Map<String, Long> counts = new HashMap<>();
    for (String field : last.split(" ")) {
      int eq = field.indexOf('=');
      if (eq > 0) {
        counts.put(field.substring(0, eq), Long.parseLong(field.substring(eq + 1).trim()));
      }
    }
    if (!counts.containsKey("sent")) {
      throw new AssertionError("the flooder failed: " + String.join("\n", lines));
    }
    return counts;
  }

  /**
   * One request from {@code socket} and its reply, retried after 100 ms, 200 ms, 400 ms... as
   * KvClient does (here up to 6 attempts, 6.3 s): its latency in µs, retries included; each
   * attempt that timed out is listed.
   */
  private static long call(DatagramSocket socket, InetSocketAddress node, long n,
      KVRequest request, int expectedCode, List<Long> timeouts) throws IOException {
    byte[] datagram = ClientCodec.encodeRequest(id(n), request);
    byte[] buffer = new byte[65_536];
    long start = System.nanoTime();
    for (int attempt = 0; attempt < 6; attempt++) {
      socket.send(new DatagramPacket(datagram, datagram.length, node));
      socket.setSoTimeout(100 << attempt);
      try {
        while (true) {
          DatagramPacket packet = new DatagramPacket(buffer, buffer.length);
          socket.receive(packet);
          Msg msg = ClientCodec.decodeMsg(buffer, packet.getLength(),
              NodeConfig.DATAGRAM_LENGTH_MAX, NodeConfig.MESSAGE_ID_LENGTH_MAX);
          if (!msg.getMessageID().equals(id(n))) {
            continue; // a late reply to an earlier attempt
          }
          assertEquals(expectedCode, ClientCodec.decodeReply(msg).getErrCode(),
              "the second source's request " + n);
          return (System.nanoTime() - start) / 1_000;
        }
      } catch (SocketTimeoutException e) {
        timeouts.add(n);
      } catch (DecodeException e) {
        throw new AssertionError(e);
      }
    }
    throw new AssertionError("no reply to request " + n + " in 6 attempts");
  }

  @Test
  void aFloodingSourceGetsItsBudgetAndOverloadWhileAnotherIsServed() throws Exception {
    try (KvdProcess kvd = start(); KvClient admin = KvClient.open();
        DatagramSocket probe = new DatagramSocket(new InetSocketAddress("127.0.0.3", 0))) {
      InetSocketAddress node = kvd.address();
      admin.put(node, "flood-key".getBytes(), new byte[100], 0).join();
      assertTrue(kvd.logText().contains("source limits on: " + RATE + " requests/s"),
          kvd.logText());
      AdminReply before = status(admin, kvd);

      // The second source alone first: its latency without the flood.
      List<Long> baselineUs = new ArrayList<>();
      List<Long> baselineTimeouts = new ArrayList<>();
      for (long b = 0; b < 200; ) {
        b = probePair(probe, node, b, baselineUs, baselineTimeouts);
      }
      long baselineP50 = baselineUs.stream().mapToLong(Long::longValue).sorted()
          .toArray()[baselineUs.size() / 2];

      Path floodOutput = Files.createTempFile("kvd-flooder", ".txt");
      long floodStart = System.nanoTime();
      long endNanos = floodStart + (FLOOD_MS + FLOODER_START_MS) * 1_000_000;
      Process flooder = startFlooder(node, "127.0.0.2", floodOutput);
      Map<String, Long> counts;
      List<Long> latenciesUs = new ArrayList<>();
      List<Long> timeouts = new ArrayList<>();
      try {
        // The second source: PUT then GET, one at a time, paced, while the flood lasts (from
        // a second on: the flooder's JVM starts, and the node compiles its path for the flood).
        Thread.sleep(FLOODER_START_MS + 500);
        long n = PROBE_BASE;
        while (System.nanoTime() < endNanos - 300_000_000L && n < PROBE_BASE + 2_000) {
          n = probePair(probe, node, n, latenciesUs, timeouts);
        }
        assertTrue(flooder.waitFor(FLOOD_MS + 30_000, TimeUnit.MILLISECONDS), "flooder ends");
        assertEquals(0, flooder.exitValue(), Files.readString(floodOutput));
        counts = flooderCounts(floodOutput);
      } finally {
        flooder.destroyForcibly();
        Files.deleteIfExists(floodOutput);
      }
      long floodMs = (System.nanoTime() - floodStart) / 1_000_000;
      Thread.sleep(300); // the last replies and the counters settle
      AdminReply after = status(admin, kvd);

      long[] sorted = latenciesUs.stream().mapToLong(Long::longValue).sorted().toArray();
      long p50 = sorted[sorted.length / 2];
      long p99 = sorted[sorted.length * 99 / 100];
      String summary = String.format("flood: %d sent, %d SUCCESS, %d OVERLOAD in %d ms; second"
              + " source: %d requests, p50 %d us (alone: %d us), p99 %d us, max %d us, attempts"
              + " timed out %s; node: limited %d, dropped %d, datagrams %d",
          counts.get("sent"), counts.get("success"), counts.get("overload"), floodMs,
          sorted.length, p50, baselineP50, p99, sorted[sorted.length - 1], timeouts,
          counter(after, "sourceLimits.limitedRequests")
              - counter(before, "sourceLimits.limitedRequests"),
          counter(after, "dropped.source_limit") - counter(before, "dropped.source_limit"),
          counter(after, "datagrams.received") - counter(before, "datagrams.received"));
      System.out.println(summary);

      assertTrue(counts.get("sent") > 10L * (RATE * FLOOD_MS / 1_000), "a flood: " + summary);
      assertTrue(counts.get("overload") > 0, summary);
      assertTrue(counts.get("overload") <= OVERLOAD_REPLIES * (1 + floodMs / 1_000),
          "OVERLOAD replies to the flooder are bounded too: " + summary);
      assertEquals(counts.get("overload"), counts.get("overloadWithWait"),
          "every OVERLOAD says how long to wait: " + summary);
      // The flooder's budget: the burst plus the rate over the flood (some replies may be lost).
      assertTrue(counts.get("success") <= BURST + RATE * floodMs / 1_000, summary);
      assertTrue(counts.get("success") >= RATE * (FLOOD_MS - 1_000) / 1_000 / 2, summary);
      assertTrue(counter(after, "sourceLimits.limitedRequests")
          > counter(before, "sourceLimits.limitedRequests"), summary);
      assertTrue(counter(after, "dropped.source_limit") > 0,
          "OVERLOAD replies beyond their bound are dropped: " + summary);
      // The second source is served: every request SUCCESS (call checks it), at its usual
      // latency. A 2-core machine runs the flooders, the node and the probe at once, so the
      // node drains its socket only as fast as it gets the CPU, and the kernel drops a little
      // of everything when the socket's buffer is full: a few attempts of the second source may
      // time out and be retried, as any client does.
      assertTrue(sorted.length >= 100, summary);
      assertTrue(timeouts.size() <= sorted.length / 20, "at most 5% retried: " + summary);
      assertTrue(p50 <= Math.max(5_000, 5 * baselineP50), summary);
      assertTrue(kvd.process().isAlive());
    }
  }

  @Test
  void putsFromAHundredThousandEndpointsLeaveTheNodeAliveWithinItsHeap() throws Exception {
    try (KvdProcess kvd = start(); KvClient admin = KvClient.open()) {
      InetSocketAddress node = kvd.address();
      AdminReply before = status(admin, kvd);
      long tableBytes = counter(before, "sourceLimits.tableBytes");
      assertEquals(512 * 1024 + 16, tableBytes);
      byte[] value = new byte[1_000];
      Arrays.fill(value, (byte) 'x');
      long deadline = System.nanoTime() + 90_000_000_000L;
      int endpoints = 0;
      int skipped = 0;
      long n = 0;
      long heapMaxUsed = 0;
      // 50,000 ports on each of two addresses; 500 sockets open at a time.
      String[] hosts = {"127.0.0.4", "127.0.0.5"};
      for (String host : hosts) {
        for (int base = 10_000; base < 60_000 && System.nanoTime() < deadline; base += 500) {
          List<DatagramSocket> pool = new ArrayList<>();
          try {
            for (int port = base; port < base + 500; port++) {
              try {
                pool.add(new DatagramSocket(new InetSocketAddress(host, port)));
              } catch (BindException taken) {
                skipped++;
              }
            }
            for (DatagramSocket socket : pool) {
              KVRequest put = KVRequest.newBuilder().setCommand(Command.PUT)
                  .setKey(ByteString.copyFromUtf8("many-" + n))
                  .setValue(ByteString.copyFrom(value)).build();
              byte[] datagram = ClientCodec.encodeRequest(id(n++), put);
              socket.send(new DatagramPacket(datagram, datagram.length, node));
              endpoints++;
            }
          } finally {
            pool.forEach(DatagramSocket::close);
          }
          if (base % 10_000 == 0) {
            heapMaxUsed = Math.max(heapMaxUsed, status(admin, kvd).getHeapUsedBytes());
          }
        }
      }
      assertTrue(endpoints + skipped == 100_000 && skipped < 1_000,
          endpoints + " endpoints sent from, " + skipped + " ports taken");
      admin.isAlive(node).join();
      AdminReply after = status(admin, kvd);
      heapMaxUsed = Math.max(heapMaxUsed, after.getHeapUsedBytes());
      String summary = String.format("%d endpoints; keys %d, store %d of %d bytes; heap used at"
              + " most %d of %d; limited %d, dropped %d, received %d",
          endpoints, after.getStoreKeys(), after.getStoreBytes(), after.getStoreBytesMax(),
          heapMaxUsed, after.getHeapMaxBytes(),
          counter(after, "sourceLimits.limitedRequests"), counter(after, "dropped.source_limit"),
          counter(after, "datagrams.received") - counter(before, "datagrams.received"));
      System.out.println(summary);
      assertTrue(kvd.process().isAlive(), summary);
      assertEquals(tableBytes, counter(after, "sourceLimits.tableBytes"), summary);
      assertTrue(heapMaxUsed > 0 && heapMaxUsed <= after.getHeapMaxBytes(), summary);
      assertTrue(after.getStoreBytes() <= after.getStoreBytesMax(), summary);
      assertTrue(after.getReplyCacheEntries() <= after.getReplyCacheCapacity(), summary);
      // Two addresses, whatever the ports: at most their budgets were executed.
      assertTrue(after.getStoreKeys() <= 2L * (BURST + RATE * 100), summary);
      assertTrue(counter(after, "sourceLimits.limitedRequests") > 0, summary);
      assertFalse(kvd.logText().contains("OutOfMemoryError"), kvd.logText());
    }
  }
}
