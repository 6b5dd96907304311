package io.kvd.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.kvd.testkit.KvdCluster;
import io.kvd.testkit.KvdProcess;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves --fault-script on real processes: kvbench loads a 5-member kvd cluster while a bash
 * script shuts one member down with kvctl mid-run; the script's lines are stamped into the
 * timeline at the second they appeared, the report splits the run into phases at those marks
 * with an availability for each, and with replication the cluster stays available (the writes
 * that were in flight on the member when it died may time out; everything else succeeds).
 */
@Timeout(180)
class KvbenchFaultScriptIT {
  @Test
  void aFaultScriptShutsAMemberDownMidRunAndThePhasesShowIt(@TempDir Path dir) throws Exception {
    try (KvdCluster cluster = KvdCluster.start(5, List.of())) {
      String victim = "127.0.0.1:" + cluster.address(4).getPort();
      Path kvctl = KvdProcess.launcher().resolveSibling("kvctl");
      Path script = dir.resolve("faults.sh");
      Files.writeString(script, String.join("\n",
          "set -euo pipefail",
          "sleep 1",
          "echo \"shutdown " + victim + "\"",
          "'" + kvctl + "' shutdown " + victim + " >/dev/null",
          "echo 'stopped'",
          "sleep 5",
          "echo 'after detection'",
          ""));
      Path out = dir.resolve("report.json");
      ByteArrayOutputStream err = new ByteArrayOutputStream();
      List<String> args = new java.util.ArrayList<>(List.of("--servers-file",
          cluster.serversFile().toString(), "--duration", "16", "--warmup", "1",
          "--clients", "8", "--workload", "a", "--keys", "300", "--fault-script",
          script.toString(), "--out", out.toString(), "--timeout-ms", "200", "--retries", "4"));
      int code = KvbenchMain.run(new PrintStream(new ByteArrayOutputStream()),
          new PrintStream(err, true), false, args.toArray(String[]::new));
      String stderr = err.toString(StandardCharsets.UTF_8);
      System.out.println(stderr);
      JsonNode report = new ObjectMapper().readTree(out.toFile());
      System.out.println(report.get("phases").toPrettyString());
      assertTrue(code == 0 || code == 1, "ran to the end: " + code);
      assertEquals(0, cluster.member(4).awaitExit(Duration.ofSeconds(5)), "the member stopped");
      JsonNode marks = report.get("marks");
      assertEquals(3, marks.size(), "every line stamped: " + marks);
      assertEquals("shutdown " + victim, marks.get(0).get("text").asText());
      assertEquals(1.0, marks.get(0).get("atSec").asDouble(), 1.0, "stamped when printed");
      assertEquals("stopped", marks.get(1).get("text").asText());
      assertEquals(5.0, marks.get(2).get("atSec").asDouble() - marks.get(1).get("atSec")
          .asDouble(), 1.0, "stamped when printed");
      JsonNode phases = report.get("phases");
      assertEquals(4, phases.size(), "a phase before each mark and after the last: " + phases);
      assertEquals("start", phases.get(0).get("after").asText());
      assertEquals("after detection", phases.get(3).get("after").asText());
      assertEquals(1.0, phases.get(0).get("availability").asDouble(), 1e-9, "all up");
      for (int p = 1; p < 3; p++) {
        assertTrue(phases.get(p).get("availability").isNull()
            || phases.get(p).get("availability").asDouble() > 0.9, "replicas serve on: "
            + phases.get(p));
      }
      assertTrue(phases.get(3).get("availability").asDouble() > 0.99, "after detection");
      assertTrue(phases.get(3).get("attempted").asLong() > 0, "load went on");
      long timelineSeconds = report.get("timeline").size();
      assertEquals(16, timelineSeconds);
    }
  }
}
