package io.kvd.bench;

import io.kvd.client.ClusterKeyFile;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Runs a bash script while the load runs (for example one that shuts nodes down, suspends and
 * resumes them with kvctl) and stamps every line it prints on stdout into the timeline, at the
 * second of the measured run it appeared. Its stderr goes to kvbench's. The script learns the
 * nodes from KVCTL_SERVERS, and kvctl the cluster key from KVD_CLUSTER_KEY_FILE: unless it is set
 * already, the cluster.key beside the servers file when there is one (kvd cluster writes it
 * there). It is killed (with its children) if it outlives the run.
 */
final class FaultScript implements AutoCloseable {
  private final Process process;
  private final Thread reader;

  FaultScript(Path script, String servers, Path serversFile, long measureStartNanos,
      Timeline timeline, PrintStream log) throws IOException {
    ProcessBuilder builder = new ProcessBuilder("bash", script.toString())
        .redirectError(ProcessBuilder.Redirect.INHERIT);
    Map<String, String> env = builder.environment();
    env.put("KVCTL_SERVERS", servers);
    Path key = serversFile == null ? null
        : serversFile.toAbsolutePath().resolveSibling(ClusterKeyFile.NAME);
    String given = env.get("KVD_CLUSTER_KEY_FILE");
    if ((given == null || given.isBlank()) && key != null && Files.exists(key)) {
      env.put("KVD_CLUSTER_KEY_FILE", key.toString());
    }
    process = builder.start();
    process.getOutputStream().close();
    reader = new Thread(() -> {
      try (BufferedReader lines = new BufferedReader(new InputStreamReader(
          process.getInputStream(), StandardCharsets.UTF_8))) {
        for (String line = lines.readLine(); line != null; line = lines.readLine()) {
          double at = Math.max(0, (System.nanoTime() - measureStartNanos) / 1e9);
          timeline.mark(at, line);
          log.printf("kvbench: fault script at %.1f s: %s%n", at, line);
        }
      } catch (IOException e) {
        log.println("kvbench: fault script output: " + e);
      }
    }, "kvbench-fault-script");
    reader.setDaemon(true);
    reader.start();
  }

  /** The script's exit status once it has ended, or -1 (it is then killed). */
  int finish(long waitMs) throws InterruptedException {
    if (!process.waitFor(waitMs, TimeUnit.MILLISECONDS)) {
      close();
      return -1;
    }
    reader.join(1_000);
    return process.exitValue();
  }

  @Override
  public void close() {
    process.descendants().forEach(ProcessHandle::destroyForcibly);
    process.destroyForcibly();
  }
}
