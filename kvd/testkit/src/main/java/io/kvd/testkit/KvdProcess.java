package io.kvd.testkit;

import io.kvd.client.KvClient;
import io.kvd.client.RetryPolicy;
import java.io.File;
import java.io.IOException;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real kvd process started through {@code bin/kvd} on a free loopback port, for system tests.
 * Its output (standard output, where kvd logs, and standard error) goes to a log file under
 * {@code target/kvd-logs}. {@link #close()} kills it (also when it is suspended). {@link
 * #suspend()} and {@link #resume()} send SIGSTOP and SIGCONT.
 */
public final class KvdProcess implements AutoCloseable {
  private static final Duration START_TIMEOUT = Duration.ofSeconds(20);

  private final Process process;
  private final InetSocketAddress address;
  private final Path log;

  private KvdProcess(Process process, InetSocketAddress address, Path log) {
    this.process = process;
    this.address = address;
    this.log = log;
  }

  /** Starts {@code bin/kvd --port P extraArgs...} with the launcher's defaults and waits for it. */
  public static KvdProcess start(String... extraArgs) throws IOException, InterruptedException {
    return start(List.of(), extraArgs);
  }

  /**
   * Starts kvd with {@code environment} entries of the form NAME=VALUE added (for example
   * KVD_HEAP=128m), on a free port, and waits until it answers IS_ALIVE.
   */
  public static KvdProcess start(List<String> environment, String... extraArgs)
      throws IOException, InterruptedException {
    int port = freeUdpPort();
    Path logs = Paths.get("target", "kvd-logs");
    Files.createDirectories(logs);
    KvdProcess kvd = launch(port, logs.resolve("kvd-" + port + "-" + System.nanoTime() + ".log"),
        environment, extraArgs);
    kvd.awaitAlive(START_TIMEOUT);
    return kvd;
  }

  /**
   * Starts {@code bin/kvd --port PORT extraArgs...} with {@code environment} entries (NAME=VALUE)
   * added and its output in {@code log}, without waiting for it; see {@link #awaitAlive}.
   */
  public static KvdProcess launch(int port, Path log, List<String> environment,
      String... extraArgs) throws IOException {
    List<String> command = new ArrayList<>();
    command.add(launcher().toString());
    command.add("--port");
    command.add(Integer.toString(port));
    command.addAll(List.of(extraArgs));
    ProcessBuilder builder = new ProcessBuilder(command)
        .redirectErrorStream(true)
        .redirectOutput(log.toFile());
    for (String entry : environment) {
      int eq = entry.indexOf('=');
      builder.environment().put(entry.substring(0, eq), entry.substring(eq + 1));
    }
    Process process = builder.start();
    return new KvdProcess(process, new InetSocketAddress("127.0.0.1", port), log);
  }

  /** The repository's bin/kvd: from -Dkvd.home, else the first ancestor directory holding it. */
  public static Path launcher() {
    String home = System.getProperty("kvd.home");
    if (home != null && Files.isExecutable(Paths.get(home, "bin", "kvd"))) {
      return Paths.get(home, "bin", "kvd").toAbsolutePath();
    }
    for (Path dir = Paths.get("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
      Path candidate = dir.resolve("bin").resolve("kvd");
      if (Files.isExecutable(candidate)) {
        return candidate;
      }
    }
    throw new IllegalStateException("bin/kvd not found above " + new File("").getAbsolutePath());
  }

  /** A UDP port that was free a moment ago on 127.0.0.1. */
  public static int freeUdpPort() throws IOException {
    try (DatagramSocket socket = new DatagramSocket(new InetSocketAddress("127.0.0.1", 0))) {
      return socket.getLocalPort();
    }
  }

  /**
   * Waits until the process answers IS_ALIVE; kills it and throws, with its log, when it exits
   * first or {@code timeout} passes.
   */
  public void awaitAlive(Duration timeout) throws InterruptedException, IOException {
    long deadline = System.nanoTime() + timeout.toNanos();
    try (KvClient client = KvClient.open(RetryPolicy.DEFAULT.withRetriesMax(0), 16)) {
      while (System.nanoTime() < deadline) {
        if (!process.isAlive()) {
          throw new IOException("kvd exited with " + process.exitValue() + " before answering: "
              + logText());
        }
        try {
          client.isAlive(address).join();
          return;
        } catch (RuntimeException notYet) {
          Thread.sleep(50);
        }
      }
    }
    close();
    throw new IOException("kvd did not answer IS_ALIVE within " + timeout + ": " + logText());
  }

  /** Suspends the process (SIGSTOP), as the course harness does to simulate a pause. */
  public void suspend() throws IOException, InterruptedException {
    signal("STOP");
  }

  /** Resumes a suspended process (SIGCONT). */
  public void resume() throws IOException, InterruptedException {
    signal("CONT");
  }

  private void signal(String name) throws IOException, InterruptedException {
    Process kill = new ProcessBuilder("kill", "-" + name, Long.toString(process.pid()))
        .redirectErrorStream(true).start();
    if (!kill.waitFor(10, TimeUnit.SECONDS) || kill.exitValue() != 0) {
      throw new IOException("kill -" + name + " " + process.pid() + " failed: "
          + new String(kill.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
    }
  }

  /** The file the process's output goes to. */
  public Path log() {
    return log;
  }

  public InetSocketAddress address() {
    return address;
  }

  public long pid() {
    return process.pid();
  }

  public Process process() {
    return process;
  }

  /** Everything the process wrote so far. */
  public String logText() {
    try {
      return Files.readString(log, StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "(no log: " + e + ")";
    }
  }

  /** Waits up to {@code timeout} for the process to exit; returns its exit code or -1. */
  public int awaitExit(Duration timeout) throws InterruptedException {
    return process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS) ? process.exitValue() : -1;
  }

  @Override
  public void close() {
    process.destroyForcibly();
    try {
      process.waitFor(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
