package io.kvd.ctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Proves that scripts/failure-drill.sh passes on a fresh cluster: with kvctl alone it shuts one
 * node down, suspends and resumes another, makes a third lossy and partitions a fourth, checking
 * after each what the members see, and reads back every key it wrote. How: runs the script with
 * --start (its own 5 kvd processes through bin/kvd cluster, ports 46110-46114, logs in
 * target/failure-drill), streams its lines to stdout, and asserts exit code 0 within 170 s; on a
 * timeout it stops the script (whose trap stops the cluster) and kills whatever it left.
 */
@Timeout(230)
class FailureDrillIT {
  private static final int BASE_PORT = 46110;
  private static final long DRILL_TIMEOUT_S = 170;
  /** Time the script's trap gets to stop its cluster after SIGTERM. */
  private static final long STOP_GRACE_S = 20;

  @Test
  void drillPasses() throws IOException, InterruptedException {
    Path home = LocalClusterSupport.home();
    Path workdir = Paths.get("target", "failure-drill").toAbsolutePath();
    Process drill = new ProcessBuilder(List.of("bash",
        home.resolve("scripts").resolve("failure-drill.sh").toString(), "--start",
        "--base-port", Integer.toString(BASE_PORT), "--workdir", workdir.toString()))
        .redirectErrorStream(true)
        .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
        .start();
    Thread echo = new Thread(() -> {
      try (BufferedReader lines = new BufferedReader(new InputStreamReader(
          drill.getInputStream(), StandardCharsets.UTF_8))) {
        for (String line = lines.readLine(); line != null; line = lines.readLine()) {
          System.out.println(line);
        }
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }, "failure-drill-output");
    echo.setDaemon(true);
    echo.start();
    try {
      if (!drill.waitFor(DRILL_TIMEOUT_S, TimeUnit.SECONDS)) {
        fail("scripts/failure-drill.sh did not finish within " + DRILL_TIMEOUT_S + " s");
      }
      echo.join(TimeUnit.SECONDS.toMillis(5));
      assertEquals(0, drill.exitValue(), "scripts/failure-drill.sh failed: its output is above;"
          + " logs in " + workdir);
    } finally {
      stop(drill);
    }
  }

  /** SIGTERM (the script's trap stops its cluster), then SIGKILL to all it left running. */
  private static void stop(Process drill) throws InterruptedException {
    if (!drill.isAlive()) {
      return;
    }
    List<ProcessHandle> descendants = drill.descendants().toList();
    drill.destroy();
    if (!drill.waitFor(STOP_GRACE_S, TimeUnit.SECONDS)) {
      drill.destroyForcibly();
    }
    for (ProcessHandle process : descendants) {
      process.destroyForcibly();
    }
  }
}
