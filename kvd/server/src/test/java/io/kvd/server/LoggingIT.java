package io.kvd.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.kvd.client.KvClient;
import io.kvd.proto.PeerProtocol.AdminRequest;
import io.kvd.proto.PeerProtocol.LinkFaults;
import io.kvd.testkit.KvdProcess;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Proves kvd's logs on real bin/kvd processes: at the default INFO level, text lines start with an
 * ISO-8601 time and the level, the start-up line keeps its text, an operator's faults make a line
 * each, and a burst of 1,000 requests adds no line at all; with --log-json every line is one JSON
 * object (time, level, logger, message, and the event's figures as key-value pairs); with
 * --log-level WARN no INFO line appears (not even the start-up line) while a WARN one (a stall,
 * made by suspending the process) does.
 */
@Timeout(120)
class LoggingIT {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Test
  void infoTextLinesAndNoLinePerRequest() throws Exception {
    try (KvdProcess kvd = KvdProcess.start();
        KvClient client = KvClient.open()) {
      String start = awaitLine(kvd, l -> l.contains("listening on"));
      assertTrue(start.contains(" INFO "), start);
      assertTrue(start.contains("kvd ") && start.contains("faults: none"), start);
      Instant.parse(start.substring(0, start.indexOf(' '))); // an ISO-8601 time first

      int before = lines(kvd).size();
      burst(client, kvd.address(), 1_000);
      Thread.sleep(300);
      assertEquals(before, lines(kvd).size(), "1,000 requests added log lines: "
          + kvd.logText());

      setAndClearFaults(client, kvd.address());
      String set = awaitLine(kvd, l -> l.contains("faults on sent datagrams now: loss"));
      assertTrue(set.contains(" INFO ") && set.contains("[operator]"), set);
      assertTrue(set.contains("for 60000 ms (set by 127.0.0.1:"), set);
      awaitLine(kvd, l -> l.contains("faults on sent datagrams now: none (cleared by"));
      assertEquals(before + 2, lines(kvd).size(), "one line per operator action: "
          + kvd.logText());
    }
  }

  @Test
  void logJsonWritesOneJsonObjectPerLine() throws Exception {
    try (KvdProcess kvd = KvdProcess.start("--log-json");
        KvClient client = KvClient.open()) {
      awaitLine(kvd, l -> l.contains("listening on"));
      int before = lines(kvd).size();
      burst(client, kvd.address(), 1_000);
      setAndClearFaults(client, kvd.address());
      awaitLine(kvd, l -> l.contains("none (cleared by"));
      List<String> lines = lines(kvd);
      assertEquals(before + 2, lines.size(), kvd.logText());
      JsonNode operator = null;
      for (String line : lines) {
        JsonNode event = JSON.readTree(line);
        assertTrue(event.isObject(), line);
        assertTrue(event.get("timestamp").isNumber(), line);
        assertTrue(List.of("ERROR", "WARN", "INFO", "DEBUG", "TRACE")
            .contains(event.get("level").asText()), line);
        assertTrue(event.get("loggerName").asText().startsWith("io.kvd."), line);
        assertTrue(event.get("formattedMessage").asText().startsWith("kvd "), line);
        if (event.get("formattedMessage").asText().contains("now: loss")) {
          operator = event;
        }
      }
      // Start-up lines: a warning that the node runs without a cluster key, then the start line.
      int warning = -1;
      int start = -1;
      for (int i = 0; i < lines.size(); i++) {
        String message = JSON.readTree(lines.get(i)).get("formattedMessage").asText();
        warning = warning < 0 && message.contains("no --cluster-key-file") ? i : warning;
        start = start < 0 && message.contains("listening on") ? i : start;
      }
      assertTrue(warning >= 0 && warning < start, kvd.logText());
      assertEquals("WARN", JSON.readTree(lines.get(warning)).get("level").asText());
      assertTrue(operator != null, kvd.logText());
      assertEquals("io.kvd.operator", operator.get("loggerName").asText());
      assertEquals("INFO", operator.get("level").asText());
      assertTrue(operator.toString().contains("\"expiryMs\""), "key-value pairs: " + operator);
    }
  }

  @Test
  void logLevelWarnSuppressesInfoLines() throws Exception {
    try (KvdProcess kvd = KvdProcess.start("--log-level", "WARN");
        KvClient client = KvClient.open()) {
      burst(client, kvd.address(), 100);
      setAndClearFaults(client, kvd.address()); // INFO events: not shown
      kvd.suspend();
      Thread.sleep(1_500);
      kvd.resume();
      client.isAlive(kvd.address()).join();
      String stalled = awaitLine(kvd, l -> l.contains("stalled: no event for"));
      assertTrue(stalled.contains(" WARN ") && stalled.contains("[node]"), stalled);
      for (String line : lines(kvd)) {
        assertFalse(line.contains(" INFO "), "an INFO line at --log-level WARN: " + line);
      }
      assertFalse(kvd.logText().contains("listening on"), kvd.logText());
      assertFalse(kvd.logText().contains("faults on sent datagrams"), kvd.logText());
    }
  }

  /** {@code count} requests, half PUTs and half GETs, 100 in flight at a time. */
  private static void burst(KvClient client, InetSocketAddress node, int count) {
    List<CompletableFuture<?>> batch = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      byte[] key = ("log-key-" + (i % 50)).getBytes(StandardCharsets.UTF_8);
      batch.add(i % 2 == 0 ? client.put(node, key, key, i) : client.get(node, key));
      if (batch.size() == 100) {
        batch.forEach(CompletableFuture::join);
        batch.clear();
      }
    }
    batch.forEach(CompletableFuture::join);
  }

  private static void setAndClearFaults(KvClient client, InetSocketAddress node) {
    client.admin(node, AdminRequest.newBuilder().setKind(AdminRequest.Kind.FAULT_SET)
        .setFaults(LinkFaults.newBuilder().setDelayMs(1)).setExpiryMs(60_000).build())
        .join();
    client.admin(node, AdminRequest.newBuilder().setKind(AdminRequest.Kind.FAULT_CLEAR)
        .build()).join();
  }

  private static List<String> lines(KvdProcess kvd) throws IOException {
    return Files.readAllLines(kvd.log(), StandardCharsets.UTF_8);
  }

  /** The first log line matching {@code wanted}, waiting up to 10 s for it. */
  private static String awaitLine(KvdProcess kvd, Predicate<String> wanted) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (true) {
      for (String line : lines(kvd)) {
        if (wanted.test(line)) {
          return line;
        }
      }
      if (System.nanoTime() > deadline) {
        throw new AssertionError("no such line in the log:\n" + kvd.logText());
      }
      Thread.sleep(50);
    }
  }
}
