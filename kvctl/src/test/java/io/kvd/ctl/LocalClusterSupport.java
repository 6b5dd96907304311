package io.kvd.ctl;

import io.kvd.client.KvClient;
import io.kvd.client.RetryPolicy;
import java.io.File;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A local cluster for kvctl's system tests, started as an operator would: {@code bin/kvd cluster
 * --nodes N --base-port P} (fixed ports, so that concurrent test runs of other modules, which use
 * other ranges, never collide with it). Its output goes to {@code cluster.log} beside the servers
 * file. {@link #close()} sends SIGTERM (the launcher then stops its members), and after a grace
 * SIGKILL to the launcher and to any member still up; a shutdown hook does the same if the test
 * JVM exits first.
 */
final class LocalClusterSupport implements AutoCloseable {
  private static final Duration STOP_GRACE = Duration.ofSeconds(15);
  /** A row of the member table bin/kvd cluster prints: index, address, pid, log. */
  private static final Pattern MEMBER_ROW =
      Pattern.compile("(?m)^\\s*\\d+\\s+127\\.0\\.0\\.1:(\\d+)\\s+(\\d+)\\s");

  private final Process launcher;
  private final Path serversFile;
  private final Path log;
  private final List<String> nodes;
  /** Each member's pid by port, from the table bin/kvd cluster prints. */
  private final Map<Integer, Long> memberPids = new TreeMap<>();
  private final Thread shutdownHook;

  private LocalClusterSupport(Process launcher, Path serversFile, Path log, List<String> nodes) {
    this.launcher = launcher;
    this.serversFile = serversFile;
    this.log = log;
    this.nodes = nodes;
    this.shutdownHook = new Thread(this::stop, "local-cluster-stop");
  }

  /** The repository: -Dkvd.home when it holds bin/kvctl, else the first ancestor that does. */
  static Path home() {
    String property = System.getProperty("kvd.home");
    if (property != null && Files.isExecutable(Paths.get(property, "bin", "kvctl"))) {
      return Paths.get(property).toAbsolutePath();
    }
    for (Path dir = Paths.get("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
      if (Files.isExecutable(dir.resolve("bin").resolve("kvctl"))) {
        return dir;
      }
    }
    throw new IllegalStateException("bin/kvctl not found above " + Paths.get("").toAbsolutePath());
  }

  /**
   * Starts {@code size} members on 127.0.0.1 ports {@code basePort}.. with their servers file and
   * logs in {@code dir}, and waits (at most {@code timeout}) until bin/kvd cluster says that every
   * member answers.
   */
  static LocalClusterSupport start(int size, int basePort, Path dir, Duration timeout)
      throws IOException, InterruptedException {
    Files.createDirectories(dir);
    Path serversFile = dir.resolve("servers.txt");
    Path log = dir.resolve("cluster.log");
    Process process = new ProcessBuilder(home().resolve("bin").resolve("kvd").toString(),
        "cluster", "--nodes", Integer.toString(size), "--base-port", Integer.toString(basePort),
        "--servers-file", serversFile.toString())
        .redirectErrorStream(true)
        .redirectOutput(log.toFile())
        .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
        .start();
    List<String> nodes = new ArrayList<>();
    for (int i = 0; i < size; i++) {
      nodes.add("127.0.0.1:" + (basePort + i));
    }
    LocalClusterSupport cluster = new LocalClusterSupport(process, serversFile, log, nodes);
    Runtime.getRuntime().addShutdownHook(cluster.shutdownHook);
    try {
      cluster.awaitUp(timeout);
    } catch (IOException | InterruptedException | RuntimeException e) {
      cluster.close();
      throw e;
    }
    return cluster;
  }

  private void awaitUp(Duration timeout) throws IOException, InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      String text = logText();
      Matcher row = MEMBER_ROW.matcher(text);
      memberPids.clear();
      while (row.find()) {
        memberPids.put(Integer.parseInt(row.group(1)), Long.parseLong(row.group(2)));
      }
      // Printed once every member answers, whether or not every member counts all yet.
      if (text.contains("SIGTERM stops them all")) {
        checkOwnMembersAnswer();
        return;
      }
      if (!launcher.isAlive()) {
        throw new IOException("bin/kvd cluster exited with " + launcher.exitValue()
            + " while starting:\n" + text);
      }
      if (System.nanoTime() > deadline) {
        throw new IOException("bin/kvd cluster did not start within " + timeout + ":\n" + text);
      }
      Thread.sleep(100);
    }
  }

  /**
   * Fails unless each port is answered by the member started on it: bin/kvd cluster counts a
   * member up when its port answers, so a kvd left running on these ports would pass for it
   * while the member, unable to bind, exits.
   */
  private void checkOwnMembersAnswer() throws IOException {
    try (KvClient client = KvClient.open(RetryPolicy.DEFAULT, 16)) {
      for (String node : nodes) {
        int port = Integer.parseInt(node.substring(node.lastIndexOf(':') + 1));
        Long started = memberPids.get(port);
        int answered;
        try {
          answered = client.pid(new InetSocketAddress("127.0.0.1", port)).join();
        } catch (CompletionException e) {
          throw new IOException(node + " does not answer GET_PID: " + e.getCause());
        }
        if (started == null || answered != started) {
          throw new IOException(node + " is answered by pid " + answered + ", not by the member"
              + " started on it (pid " + started + "): another kvd holds the port; stop it."
              + "\n" + logText());
        }
      }
    }
  }

  /** The members' addresses, HOST:PORT, in port order. */
  List<String> nodes() {
    return nodes;
  }

  Path serversFile() {
    return serversFile;
  }

  /** The cluster key bin/kvd cluster generated beside the servers file. */
  Path keyFile() {
    return serversFile.resolveSibling("cluster.key");
  }

  String logText() {
    try {
      return Files.readString(log, StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "(no log: " + e + ")";
    }
  }

  @Override
  public void close() {
    stop();
    try {
      Runtime.getRuntime().removeShutdownHook(shutdownHook);
    } catch (IllegalStateException shuttingDown) {
      // The hook is running or has run.
    }
  }

  private synchronized void stop() {
    launcher.destroy();
    try {
      if (!launcher.waitFor(STOP_GRACE.toMillis(), TimeUnit.MILLISECONDS)) {
        launcher.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      launcher.destroyForcibly();
    }
    // The launcher stops its members; these are the ones it could not (it was killed).
    for (long pid : memberPids.values()) {
      ProcessHandle.of(pid)
          .filter(p -> p.info().commandLine().map(c -> c.contains("kvd")).orElse(false))
          .ifPresent(ProcessHandle::destroyForcibly);
    }
  }
}
