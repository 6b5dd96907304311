package io.kvd.ctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvd.client.ClusterKeyFile;
import io.kvd.testkit.KvdProcess;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.Map;
import java.util.function.IntPredicate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves the kvctl commands that end or freeze processes, on real kvd processes: shutdown stops
 * a node (exit 0, the process exits 0), suspend freezes one named by HOST:PORT (its /proc state
 * becomes T, stopped) so that it no longer answers, resume brings it back, and suspend refuses a
 * process that is not kvd; and with kvd --client-admin off, shutdown and wipeout go over the
 * authenticated admin path with the cluster key, are refused with exit 6 without it (the node
 * keeps running and its data), and fall back to the admin path at a node without a key. How: single kvd processes started through bin/kvd; kvctl in-process.
 */
@Timeout(60)
class KvctlProcessIT {
  private static int run(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    try (Session session = new Session(new PrintStream(out, true), new PrintStream(err, true),
        new ByteArrayInputStream(new byte[0]), false, Map.of())) {
      int code = KvctlMain.run(session, args);
      System.out.printf("kvctl %s -> %d%n%s%s", String.join(" ", args), code,
          out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
      return code;
    }
  }

  private static char state(long pid) throws IOException {
    String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
    return stat.charAt(stat.lastIndexOf(')') + 2);
  }

  /**
   * The state once it satisfies {@code wanted}, polled for up to 5 s: a signal is delivered
   * asynchronously (kill returns once it is queued; every thread of the JVM must then stop).
   */
  private static char awaitState(long pid, IntPredicate wanted)
      throws IOException, InterruptedException {
    long deadline = System.nanoTime() + 5_000_000_000L;
    char state = state(pid);
    while (!wanted.test(state) && System.nanoTime() < deadline) {
      Thread.sleep(10);
      state = state(pid);
    }
    return state;
  }

  private static String name(KvdProcess kvd) {
    return "127.0.0.1:" + kvd.address().getPort();
  }

  @Test
  void shutdownStopsTheNode() throws Exception {
    try (KvdProcess kvd = KvdProcess.start()) {
      assertEquals(Exit.OK, run("shutdown", name(kvd)));
      assertEquals(0, kvd.awaitExit(Duration.ofSeconds(5)), "kvd exited with status 0");
      assertEquals(Exit.UNREACHABLE, run("--timeout-ms", "20", "--retries", "1", "ping",
          name(kvd)));
    }
  }

  @Test
  void suspendFreezesAndResumeThawsANodeNamedByItsAddress() throws Exception {
    try (KvdProcess kvd = KvdProcess.start()) {
      assertEquals(Exit.OK, run("suspend", name(kvd)));
      assertEquals('T', awaitState(kvd.pid(), c -> c == 'T'), "stopped by SIGSTOP");
      assertEquals(Exit.UNREACHABLE, run("--node", name(kvd), "--timeout-ms", "20",
          "--retries", "1", "get", "k"));
      assertEquals(Exit.OK, run("resume", name(kvd)), "found through /proc while stopped");
      assertTrue(awaitState(kvd.pid(), c -> c != 'T') != 'T', "running again");
      assertEquals(Exit.NOT_FOUND, run("--node", name(kvd), "get", "k"), "answers again");
      assertEquals(Exit.OK, run("suspend", Long.toString(kvd.pid())), "by pid too");
      assertEquals(Exit.OK, run("resume", Long.toString(kvd.pid())));
    }
  }

  @Test
  void suspendRefusesAProcessThatIsNotKvd() throws Exception {
    Process sleeper = new ProcessBuilder("sleep", "30").start();
    try {
      assertEquals(Exit.USAGE, run("suspend", Long.toString(sleeper.pid())));
      Thread.sleep(200); // a SIGSTOP sent by mistake would show by now
      assertTrue(state(sleeper.pid()) != 'T', "left alone");
    } finally {
      sleeper.destroyForcibly();
    }
  }

  @Test
  void withClientAdminOffShutdownAndWipeoutTakeTheAdminPathWithTheKey(@TempDir Path dir)
      throws Exception {
    Path key = dir.resolve("cluster.key");
    ClusterKeyFile.write(key, ClusterKeyFile.generate(new SecureRandom()), "test");
    try (KvdProcess kvd = KvdProcess.start("--client-admin", "off", "--cluster-key-file",
        key.toString())) {
      String node = name(kvd);
      assertEquals(Exit.OK, run("--node", node, "put", "k", "v"), "data needs no key");
      assertEquals(Exit.AUTH, run("--timeout-ms", "50", "--retries", "1", "wipeout", node,
          "--yes"), "refused from clients, and the admin path needs the key");
      assertEquals(Exit.OK, run("--node", node, "get", "k"), "kept");
      assertEquals(Exit.AUTH, run("--timeout-ms", "50", "--retries", "1", "shutdown", node));
      assertEquals(-1, kvd.awaitExit(Duration.ofMillis(300)), "still running");

      assertEquals(Exit.OK, run("--cluster-key-file", key.toString(), "wipeout", node, "--yes"));
      assertEquals(Exit.NOT_FOUND, run("--node", node, "get", "k"), "wiped");
      assertEquals(Exit.OK, run("--cluster-key-file", key.toString(), "shutdown", node));
      assertEquals(0, kvd.awaitExit(Duration.ofSeconds(5)), "kvd exited with status 0");
    }
  }

  @Test
  void withClientAdminOffAndNoKeyKvctlFallsBackToTheAdminPath() throws Exception {
    try (KvdProcess kvd = KvdProcess.start("--client-admin", "off")) {
      String node = name(kvd);
      assertEquals(Exit.OK, run("--node", node, "put", "k", "v"));
      assertEquals(Exit.OK, run("wipeout", node, "--yes"));
      assertEquals(Exit.NOT_FOUND, run("--node", node, "get", "k"), "wiped");
      assertEquals(Exit.OK, run("shutdown", node));
      assertEquals(0, kvd.awaitExit(Duration.ofSeconds(5)));
    }
  }
}
