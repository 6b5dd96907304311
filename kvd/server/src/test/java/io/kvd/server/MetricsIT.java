package io.kvd.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.kvd.client.KvClient;
import io.kvd.core.Command;
import io.kvd.core.codec.ClientCodec;
import io.kvd.proto.ClientProtocol.KVRequest;
import io.kvd.proto.ClientProtocol.Msg;
import io.kvd.testkit.KvdProcess;
import io.kvd.testkit.RawUdp;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Proves kvd's Prometheus endpoint on a real bin/kvd process: with --metrics-port it serves
 * /metrics over HTTP, and after known traffic (PUTs, GETs of present and absent keys, an unknown
 * command, and garbage datagrams of three kinds) the counters say exactly that: requests by
 * command and replies by code, drops by reason, keys stored, and a latency histogram whose count
 * per command equals the requests answered (all within the same millisecond on a node alone).
 * Without --metrics-port the process listens on no TCP port at all (read from /proc: the
 * process's socket inodes against the kernel's TCP tables); with it, on exactly that port.
 */
@Timeout(120)
class MetricsIT {
  private static final int PUTS = 120;
  private static final int GETS = 80;
  private static final int ABSENT_GETS = 15;
  private static final int BAD_CHECKSUMS = 7;
  private static final int MALFORMED = 5;
  private static final int IDS_TOO_LONG = 3;

  @Test
  void countersHistogramsAndDropsMatchTheTrafficSent() throws Exception {
    int metricsPort = freeTcpPort();
    try (KvdProcess kvd = KvdProcess.start("--metrics-port", Integer.toString(metricsPort));
        KvClient client = KvClient.open()) {
      InetSocketAddress node = kvd.address();
      assertEquals(Set.of(metricsPort), listeningTcpPorts(kvd.pid()),
          "the metrics port, and only it, listens");
      Map<String, Double> before = scrape(metricsPort);
      assertEquals(0, before.get("kvd_store_keys"));
      assertEquals(1, before.get("kvd_members{state=\"alive\"}"));
      assertEquals(0, before.get("kvd_members{state=\"dead\"}"));

      for (int i = 0; i < PUTS; i++) {
        client.put(node, key(i), ("value-" + i).getBytes(StandardCharsets.UTF_8), i).join();
      }
      for (int i = 0; i < GETS; i++) {
        assertTrue(client.get(node, key(i % PUTS)).join().isPresent());
      }
      for (int i = 0; i < ABSENT_GETS; i++) {
        assertTrue(client.get(node, ("absent-" + i).getBytes(StandardCharsets.UTF_8)).join()
            .isEmpty());
      }
      client.request(node, KVRequest.newBuilder().setCommand(77).build()).join();
      try (RawUdp raw = new RawUdp(node)) {
        ByteString payload = KVRequest.newBuilder().setCommand(Command.IS_ALIVE).build()
            .toByteString();
        for (int i = 0; i < BAD_CHECKSUMS; i++) {
          ByteString id = ByteString.copyFromUtf8("bad-checksum-" + i);
          raw.send(Msg.newBuilder().setMessageID(id).setPayload(payload)
              .setCheckSum(ClientCodec.checksum(id, payload) ^ 1).build().toByteArray());
        }
        for (int i = 0; i < MALFORMED; i++) {
          raw.send(new byte[] {(byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) i});
        }
        for (int i = 0; i < IDS_TOO_LONG; i++) {
          ByteString id = ByteString.copyFrom(new byte[17 + i]);
          raw.send(Msg.newBuilder().setMessageID(id).setPayload(payload)
              .setCheckSum(ClientCodec.checksum(id, payload)).build().toByteArray());
        }
        assertTrue(raw.drain(200).isEmpty(), "garbage is never answered");
      }

      Map<String, Double> after = awaitDrops(metricsPort, before,
          BAD_CHECKSUMS + MALFORMED + IDS_TOO_LONG);
      assertEquals(PUTS, delta(before, after, "kvd_requests_total{command=\"PUT\"}"));
      assertEquals(GETS + ABSENT_GETS, delta(before, after, "kvd_requests_total{command=\"GET\"}"));
      assertEquals(1, delta(before, after, "kvd_requests_total{command=\"UNKNOWN\"}"));
      assertEquals(0, delta(before, after, "kvd_requests_total{command=\"REMOVE\"}"));
      assertEquals(PUTS + GETS, delta(before, after, "kvd_replies_total{code=\"SUCCESS\"}"));
      assertEquals(ABSENT_GETS, delta(before, after, "kvd_replies_total{code=\"NOT_FOUND\"}"));
      assertEquals(1, delta(before, after,
          "kvd_replies_total{code=\"UNRECOGNIZED_COMMAND\"}"));
      assertEquals(BAD_CHECKSUMS, delta(before, after,
          "kvd_dropped_datagrams_total{reason=\"bad_checksum\"}"));
      assertEquals(MALFORMED, delta(before, after,
          "kvd_dropped_datagrams_total{reason=\"malformed\"}"));
      assertEquals(IDS_TOO_LONG, delta(before, after,
          "kvd_dropped_datagrams_total{reason=\"message_id_too_long\"}"));
      assertEquals(0, delta(before, after, "kvd_dropped_datagrams_total{reason=\"oversize\"}"));
      assertEquals(PUTS, after.get("kvd_store_keys"));
      assertTrue(after.get("kvd_store_bytes") > before.get("kvd_store_bytes"));
      assertTrue(after.get("kvd_store_bytes") <= after.get("kvd_store_budget_bytes"));
      assertTrue(after.get("kvd_heap_used_bytes") > 0
          && after.get("kvd_heap_used_bytes") <= after.get("kvd_heap_max_bytes"));
      assertTrue(after.get("kvd_reply_cache_entries") <= after.get(
          "kvd_reply_cache_capacity_entries"));

      // The latency histogram counts every request answered, per command; a node alone answers
      // each in the millisecond it arrived.
      String putCount = "kvd_request_duration_seconds_count{command=\"PUT\"}";
      String getCount = "kvd_request_duration_seconds_count{command=\"GET\"}";
      assertEquals(PUTS, delta(before, after, putCount));
      assertEquals(GETS + ABSENT_GETS, delta(before, after, getCount));
      assertEquals(after.get(putCount),
          after.get("kvd_request_duration_seconds_bucket{command=\"PUT\",le=\"0.0\"}"));
      assertEquals(after.get(putCount),
          after.get("kvd_request_duration_seconds_bucket{command=\"PUT\",le=\"+Inf\"}"));
      assertEquals(0, after.get("kvd_request_duration_seconds_sum{command=\"PUT\"}"));
      double requests = sum(after, "kvd_requests_total{");
      double replies = sum(after, "kvd_replies_total{");
      double observed = sum(after, "kvd_request_duration_seconds_count{");
      assertEquals(requests, replies, "every request answered: " + after);
      assertEquals(replies, observed, "every reply observed once");
      assertTrue(after.get("kvd_datagrams_received_total") >= requests + BAD_CHECKSUMS
          + MALFORMED + IDS_TOO_LONG);
      assertTrue(kvd.logText().contains("metrics at http://127.0.0.1:" + metricsPort
          + "/metrics"), kvd.logText());
    }
  }

  @Test
  void withoutAMetricsPortNoTcpPortIsOpened() throws Exception {
    try (KvdProcess kvd = KvdProcess.start();
        KvClient client = KvClient.open()) {
      client.put(kvd.address(), key(1), key(2), 0).join();
      assertEquals(Set.of(), listeningTcpPorts(kvd.pid()), "no TCP port listens");
      assertTrue(!kvd.logText().contains("metrics at"), kvd.logText());
    }
  }

  private static byte[] key(int i) {
    return ("metrics-key-" + i).getBytes(StandardCharsets.UTF_8);
  }

  private static double delta(Map<String, Double> before, Map<String, Double> after,
      String series) {
    assertTrue(after.containsKey(series), "no series " + series + " in " + after.keySet());
    return after.get(series) - before.getOrDefault(series, 0.0);
  }

  private static double sum(Map<String, Double> metrics, String prefix) {
    return metrics.entrySet().stream().filter(e -> e.getKey().startsWith(prefix))
        .mapToDouble(Map.Entry::getValue).sum();
  }

  /** Scrapes until the drop counters have grown by {@code drops} (garbage gets no reply). */
  private static Map<String, Double> awaitDrops(int port, Map<String, Double> before,
      int drops) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (true) {
      Map<String, Double> now = scrape(port);
      double dropped = sum(now, "kvd_dropped_datagrams_total{")
          - sum(before, "kvd_dropped_datagrams_total{");
      if (dropped >= drops || System.nanoTime() > deadline) {
        return now;
      }
      Thread.sleep(50);
    }
  }

  /** GET /metrics in the text format: series (name and labels as written) to value. */
  static Map<String, Double> scrape(int port) throws IOException, InterruptedException {
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    HttpResponse<String> response = http.send(HttpRequest.newBuilder(
            URI.create("http://127.0.0.1:" + port + "/metrics"))
        .timeout(Duration.ofSeconds(10)).GET().build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(200, response.statusCode(), response.body());
    assertTrue(response.headers().firstValue("Content-Type").orElse("").startsWith("text/plain"),
        response.headers().toString());
    Map<String, Double> series = new HashMap<>();
    for (String line : response.body().split("\n")) {
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      int space = line.lastIndexOf(' ');
      String name = line.substring(0, space);
      double value = Double.parseDouble(line.substring(space + 1));
      assertTrue(series.put(name, value) == null, "series twice: " + name);
    }
    return series;
  }

  static int freeTcpPort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0, 1,
        java.net.InetAddress.getByName("127.0.0.1"))) {
      return socket.getLocalPort();
    }
  }

  /**
   * The TCP ports process {@code pid} listens on: its sockets (/proc/PID/fd links to
   * socket:[INODE]) found in LISTEN state (0A) in the kernel's TCP tables of its namespace.
   */
  static Set<Integer> listeningTcpPorts(long pid) throws IOException {
    Set<String> inodes = new HashSet<>();
    try (Stream<Path> fds = Files.list(Paths.get("/proc", Long.toString(pid), "fd"))) {
      for (Path fd : (Iterable<Path>) fds::iterator) {
        try {
          String target = Files.readSymbolicLink(fd).toString();
          if (target.startsWith("socket:[")) {
            inodes.add(target.substring("socket:[".length(), target.length() - 1));
          }
        } catch (IOException closedMeanwhile) {
          // The fd went away while listing: not a listening socket then.
        }
      }
    }
    assertTrue(!inodes.isEmpty(), "kvd has sockets (its UDP socket at least)");
    Set<Integer> ports = new HashSet<>();
    for (String table : List.of("tcp", "tcp6")) {
      Path file = Paths.get("/proc", Long.toString(pid), "net", table);
      if (!Files.exists(file)) {
        continue;
      }
      List<String> lines = Files.readAllLines(file, StandardCharsets.US_ASCII);
      for (String line : lines.subList(1, lines.size())) {
        String[] f = line.trim().split("\\s+");
        // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
        if (f.length > 9 && f[3].equals("0A") && inodes.contains(f[9])) {
          String local = f[1];
          ports.add(Integer.parseInt(local.substring(local.indexOf(':') + 1), 16));
        }
      }
    }
    return ports;
  }
}
