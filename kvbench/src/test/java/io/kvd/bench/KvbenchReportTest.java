package io.kvd.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.kvd.client.KvClient;
import io.kvd.core.Addresses;
import io.kvd.core.Node;
import io.kvd.core.NodeConfig;
import io.kvd.core.cluster.ClusterConfig;
import io.kvd.core.cluster.MembershipConfig;
import io.kvd.server.NettyNode;
import io.kvd.testkit.KvdCluster;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves kvbench end to end against a 3-node kvd cluster (the real core behind the real Netty
 * shell, in this JVM, on loopback): a short run's JSON report has every documented field with
 * consistent values (counts add up, percentiles ordered, a timeline row per second), the .hgrm
 * files and the PNG plot are written, every targeting mode works, and 10,000-byte values
 * round-trip through kvd under load without a bad or truncated reply.
 */
@Timeout(120)
class KvbenchReportTest {
  private static final List<NettyNode> servers = new ArrayList<>();
  private static final List<String> names = new ArrayList<>();

  @BeforeAll
  static void startCluster() throws Exception {
    int[] ports = KvdCluster.freeUdpPorts(3);
    long[] addresses = new long[3];
    for (int i = 0; i < 3; i++) {
      addresses[i] = Addresses.of(0x7F00_0001, ports[i]);
      names.add("127.0.0.1:" + ports[i]);
    }
    for (int i = 0; i < 3; i++) {
      Node node = new Node(NodeConfig.defaults(1 + i, 32L << 20, 11 + i),
          new ClusterConfig(addresses, addresses[i], 1024, MembershipConfig.DEFAULT, 1, 3 + i));
      servers.add(NettyNode.start(node, "127.0.0.1", ports[i]));
    }
  }

  @AfterAll
  static void stopCluster() {
    servers.forEach(NettyNode::close);
  }

  private static JsonNode bench(Path dir, String name, String... args) throws Exception {
    Path out = dir.resolve(name + ".json");
    List<String> all = new ArrayList<>(List.of("--out", out.toString()));
    for (String node : names) {
      all.add("--node");
      all.add(node);
    }
    all.addAll(List.of(args));
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code = KvbenchMain.run(new PrintStream(new ByteArrayOutputStream()),
        new PrintStream(err, true), false, all.toArray(String[]::new));
    String stderr = err.toString(StandardCharsets.UTF_8);
    assertEquals(0, code, "kvbench exit code; stderr: " + stderr + "; report: "
        + (Files.exists(out) ? Files.readString(out) : "none"));
    return new ObjectMapper().readTree(out.toFile());
  }

  @Test
  void theReportHasEveryFieldAndTheyAddUp(@TempDir Path dir) throws Exception {
    JsonNode report = bench(dir, "a", "--workload", "a", "--duration", "3", "--warmup", "1",
        "--clients", "32", "--keys", "500", "--plot", dir.resolve("a.png").toString());
    for (String field : List.of("configuration", "seed", "measuredSec", "throughputOpsPerSec",
        "completed", "errors", "timeouts", "retries", "overloadWaits", "operations",
        "errorsByCode", "timeline", "phases")) {
      assertTrue(report.has(field), "field " + field + " in " + report);
    }
    assertEquals("closed", report.get("configuration").get("loop").asText());
    assertEquals(431, report.get("seed").asLong());
    long completed = report.get("completed").asLong();
    assertTrue(completed > 100, "some load: " + completed);
    assertEquals(completed / report.get("measuredSec").asDouble(),
        report.get("throughputOpsPerSec").asDouble(), completed * 0.01);
    long sum = 0;
    for (String op : List.of("GET", "PUT")) {
      JsonNode o = report.get("operations").get(op);
      sum += o.get("count").asLong();
      assertEquals(o.get("count").asLong(), o.get("ok").asLong() + o.get("notFound").asLong(),
          op + ": every answer SUCCESS or NOT_FOUND");
      long p50 = o.get("latencyUsP50").asLong();
      assertTrue(p50 > 0 && p50 <= o.get("latencyUsP90").asLong()
          && o.get("latencyUsP90").asLong() <= o.get("latencyUsP99").asLong()
          && o.get("latencyUsP99").asLong() <= o.get("latencyUsP999").asLong()
          && o.get("latencyUsP999").asLong() <= o.get("latencyUsMax").asLong(), op + " " + o);
      assertTrue(Files.size(dir.resolve("a-" + op.toLowerCase() + ".hgrm")) > 100);
    }
    assertEquals(completed, sum);
    double putShare = report.get("operations").get("PUT").get("count").asDouble() / completed;
    assertEquals(0.5, putShare, 0.05, "workload A is half updates");
    assertEquals(3, report.get("timeline").size(), "a row per measured second");
    long timelineOps = 0;
    for (JsonNode second : report.get("timeline")) {
      timelineOps += second.get("ops").asLong();
    }
    assertEquals(completed, timelineOps, completed * 0.02, "the timeline adds up");
    assertEquals(1.0, report.get("phases").get(0).get("availability").asDouble(), 1e-9);
    assertEquals(0, report.get("errors").asLong());
    assertEquals(0, report.get("timeouts").asLong());
    assertTrue(Files.size(dir.resolve("a.png")) > 10_000, "the plot");
  }

  @Test
  void everyTargetingModeAndTheOpenLoopWork(@TempDir Path dir) throws Exception {
    for (String target : List.of("random", "fixed", "primary")) {
      JsonNode report = bench(dir, target, "--target", target, "--workload", "b",
          "--duration", "1", "--warmup", "0.5", "--clients", "16");
      assertTrue(report.get("completed").asLong() > 50, target + ": " + report);
      assertEquals(target, report.get("configuration").get("target").asText());
    }
    JsonNode open = bench(dir, "open", "--rate", "2000", "--duration", "2", "--warmup", "0.5",
        "--clients", "256", "--workload", "c");
    assertEquals("open", open.get("configuration").get("loop").asText());
    assertEquals(2000 * open.get("measuredSec").asDouble(), open.get("completed").asDouble(),
        400, "the open loop keeps its rate");
  }

  @Test
  void tenThousandByteValuesRoundTripUnderLoad(@TempDir Path dir) throws Exception {
    JsonNode report = bench(dir, "big", "--workload", "custom", "--mix", "get=50,put=50",
        "--value-size", "10000", "--keys", "200", "--duration", "2", "--warmup", "0.5",
        "--clients", "32");
    assertEquals(0, report.get("badReplies").asLong(), "no truncated or corrupt reply");
    assertEquals(0, report.get("errors").asLong());
    assertTrue(report.get("operations").get("GET").get("ok").asLong() > 0);
    byte[] value = new byte[NodeConfig.VALUE_LENGTH_MAX];
    new Random(7).nextBytes(value);
    InetSocketAddress node = new InetSocketAddress("127.0.0.1",
        Integer.parseInt(names.get(0).split(":")[1]));
    try (KvClient client = KvClient.open()) {
      client.put(node, "whole".getBytes(StandardCharsets.UTF_8), value, 1).join();
      assertArrayEquals(value, client.get(node, "whole".getBytes(StandardCharsets.UTF_8))
          .join().orElseThrow().value(), "10,000 bytes back, every one");
    }
  }

  @Test
  void checkRecordsTheHistoryAndFindsNoAnomalies(@TempDir Path dir) throws Exception {
    JsonNode report = bench(dir, "check", "--check", "--key-prefix", "checked-", "--workload",
        "f", "--keys", "20",
        "--duration", "2", "--warmup", "0.5", "--clients", "16", "--distribution", "uniform");
    JsonNode check = report.get("check");
    assertTrue(check.get("operations").asLong() > 100, "a history: " + check);
    assertEquals(20, check.get("keys").asInt(), "every key was used: " + check);
    assertEquals(0, check.get("linearizableViolations").asInt(), check.toString());
    assertEquals(0, check.get("sequentialViolations").asInt(), check.toString());
    assertEquals(20, check.get("linearizableOk").asInt() + check.get("linearizableUnknown")
        .asInt(), check.toString());
    assertTrue(check.get("smallestViolation").isNull());
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    assertEquals(2, KvbenchMain.run(new PrintStream(new ByteArrayOutputStream()),
        new PrintStream(err), false, "--node", names.get(0), "--check", "--value-size", "4"),
        "--check needs room for the identity");
  }

  @Test
  void opsBoundsTheRun(@TempDir Path dir) throws Exception {
    JsonNode report = bench(dir, "ops", "--ops", "500", "--duration", "60", "--warmup", "0",
        "--clients", "8", "--workload", "c");
    assertTrue(report.get("measuredSec").asDouble() < 10, "stopped by --ops: " + report);
    long completed = report.get("completed").asLong();
    assertTrue(completed >= 500 && completed < 2_000, "about 500: " + completed);
  }

  @Test
  void ioCpusPinsTheSocketThreadsAndRefusesACpuItCannotUse(@TempDir Path dir) throws Exception {
    String[] allowed = io.kvd.client.Affinity.allowedCpus().split("[-,]");
    int last = Integer.parseInt(allowed[allowed.length - 1].trim());
    JsonNode report = bench(dir, "pinned", "--ops", "300", "--duration", "30", "--warmup", "0",
        "--clients", "8", "--sockets", "2", "--io-cpus", String.valueOf(last), "--workload", "c");
    assertEquals(String.valueOf(last), report.get("configuration").get("ioCpus").asText());
    assertTrue(report.get("completed").asLong() >= 300, report.toString());
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    assertEquals(2, KvbenchMain.run(new PrintStream(new ByteArrayOutputStream()),
        new PrintStream(err, true), false, "--node", names.get(0), "--ops", "10",
        "--io-cpus", String.valueOf(last + 1)));
    assertTrue(err.toString(StandardCharsets.UTF_8).contains("cannot pin to CPU " + (last + 1)),
        err.toString(StandardCharsets.UTF_8));
  }

  @Test
  void usageErrorsAreExit2() {
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    PrintStream devNull = new PrintStream(new ByteArrayOutputStream());
    assertEquals(2, KvbenchMain.run(devNull, new PrintStream(err), false, "--duration", "1"));
    assertEquals(2, KvbenchMain.run(devNull, new PrintStream(err), false, "--node",
        names.get(0), "--value-size", "10001"));
    assertEquals(2, KvbenchMain.run(devNull, new PrintStream(err), false, "--node",
        names.get(0), "--workload", "custom"));
  }
}
