package io.kvd.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvd.client.ClusterKeyFile;
import io.kvd.client.KvAuthException;
import io.kvd.client.KvClient;
import io.kvd.client.RetryPolicy;
import io.kvd.proto.PeerProtocol.AdminRequest;
import io.kvd.testkit.KvdProcess;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Proves {@code bin/kvd cluster} end to end as an operator runs it: it writes the servers file,
 * starts the members on consecutive ports, prints a table of their pids, every member counts them
 * all, and SIGTERM to the command stops every member it started, a suspended one included.
 */
@Timeout(180)
class ClusterCommandIT {
  private static final int NODES = 3;
  private static final Pattern ROW =
      Pattern.compile("^\\s*(\\d+)\\s+127\\.0\\.0\\.1:(\\d+)\\s+(\\d+)\\s+(\\S+)$");

  @Test
  void clusterStartsTheMembersAndSigtermStopsThemAll() throws Exception {
    int basePort = freeConsecutivePorts(NODES);
    Path dir = Paths.get("target", "kvd-logs", "cluster-command-" + System.nanoTime())
        .toAbsolutePath();
    Path serversFile = dir.resolve("servers.txt");
    Process command = new ProcessBuilder(KvdProcess.launcher().toString(), "cluster",
        "--nodes", Integer.toString(NODES), "--base-port", Integer.toString(basePort),
        "--servers-file", serversFile.toString())
        .redirectError(ProcessBuilder.Redirect.DISCARD)
        .start();
    List<Long> pids = new ArrayList<>();
    List<String> output = new ArrayList<>();
    try {
      BufferedReader out = new BufferedReader(new InputStreamReader(command.getInputStream(),
          StandardCharsets.UTF_8));
      for (String line = out.readLine(); line != null; line = out.readLine()) {
        output.add(line);
        Matcher row = ROW.matcher(line);
        if (row.matches()) {
          assertEquals(basePort + pids.size(), Integer.parseInt(row.group(2)), line);
          pids.add(Long.parseLong(row.group(3)));
        }
        if (line.contains("Ctrl-C")) {
          break;
        }
      }
      assertEquals(NODES, pids.size(), "a row per member in:\n" + String.join("\n", output));
      assertTrue(output.get(output.size() - 1).contains("every member counts " + NODES),
          String.join("\n", output));
      List<String> listed = Files.readAllLines(serversFile, StandardCharsets.UTF_8).stream()
          .filter(l -> !l.startsWith("#")).toList();
      assertEquals(List.of("127.0.0.1:" + basePort, "127.0.0.1:" + (basePort + 1),
          "127.0.0.1:" + (basePort + 2)), listed);
      try (KvClient client = KvClient.open()) {
        for (int i = 0; i < NODES; i++) {
          InetSocketAddress node = new InetSocketAddress("127.0.0.1", basePort + i);
          assertEquals(NODES, client.membershipCount(node).join());
          assertEquals(pids.get(i), (long) client.pid(node).join());
        }
      }
      // A fresh cluster key beside the servers file, for the owner only, used by every member:
      // admin requests need it.
      Path keyFile = dir.resolve("cluster.key");
      assertEquals("rw-------", PosixFilePermissions.toString(
          Files.getPosixFilePermissions(keyFile)));
      assertTrue(output.get(0).contains("cluster key " + keyFile), output.get(0));
      AdminRequest status = AdminRequest.newBuilder().setKind(AdminRequest.Kind.STATUS).build();
      InetSocketAddress first = new InetSocketAddress("127.0.0.1", basePort);
      try (KvClient keyed = KvClient.open(RetryPolicy.DEFAULT, 16,
          ClusterKeyFile.read(keyFile));
          KvClient keyless = KvClient.open(RetryPolicy.DEFAULT.withRetriesMax(1), 16)) {
        assertEquals(NODES, keyed.admin(first, status).join().getMembersCount());
        CompletionException refused = assertThrows(CompletionException.class,
            () -> keyless.admin(first, status).join());
        assertTrue(refused.getCause() instanceof KvAuthException, refused.toString());
      }
      // A suspended member cannot act on SIGTERM: the command must still stop it.
      new ProcessBuilder("kill", "-STOP", Long.toString(pids.get(1))).start().waitFor();
      command.destroy();
      assertTrue(command.waitFor(30, TimeUnit.SECONDS), "kvd cluster exits on SIGTERM");
      assertEquals(143, command.exitValue(), "the JVM's status for SIGTERM");
      for (long pid : pids) {
        ProcessHandle handle = ProcessHandle.of(pid).orElse(null);
        if (handle != null) {
          handle.onExit().get(10, TimeUnit.SECONDS);
        }
        assertFalse(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false),
            "member pid " + pid + " was stopped");
      }
      assertTrue(Files.exists(dir.resolve("node-" + basePort + ".log")));
    } finally {
      command.destroyForcibly();
      for (long pid : pids) {
        ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
      }
    }
  }

  /** A port P such that P..P+count-1 were free a moment ago, below the ephemeral range. */
  private static int freeConsecutivePorts(int count) throws IOException {
    Random random = new Random();
    for (int attempt = 0; attempt < 100; attempt++) {
      int base = 20_000 + random.nextInt(10_000);
      List<DatagramSocket> held = new ArrayList<>();
      try {
        for (int i = 0; i < count; i++) {
          held.add(new DatagramSocket(new InetSocketAddress("127.0.0.1", base + i)));
        }
        return base;
      } catch (IOException taken) {
        // Try another base.
      } finally {
        held.forEach(DatagramSocket::close);
      }
    }
    throw new IOException("no " + count + " consecutive free UDP ports found");
  }
}
