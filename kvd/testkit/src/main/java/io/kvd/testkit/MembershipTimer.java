package io.kvd.testkit;

import io.kvd.client.KvClient;
import io.kvd.client.RetryPolicy;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Measures failure detection and rejoin on a running local cluster of real kvd processes: for each
 * round it crashes one node (SHUTDOWN) or suspends one (SIGSTOP), times how long until every other
 * node's GET_MEMBERSHIP_COUNT drops, then restarts it (bin/kvd with the same servers file and port)
 * or resumes it (SIGCONT) and times how long until every node counts it again. Prints one line per
 * event and a JSON summary with p50 and max.
 *
 * <pre>java -cp ... io.kvd.testkit.MembershipTimer SERVERS_FILE ROUNDS [SEED]</pre>
 * Only for clusters on this machine (it signals processes by pid).
 */
public final class MembershipTimer {
  private static final long POLL_INTERVAL_MS = 100;
  private static final long EVENT_TIMEOUT_MS = 30_000;

  private MembershipTimer() {}

  public static void main(String[] args) throws Exception {
    Path serversFile = Paths.get(args[0]);
    int rounds = Integer.parseInt(args[1]);
    SplittableRandom random = new SplittableRandom(args.length > 2 ? Long.parseLong(args[2]) : 1);
    List<InetSocketAddress> nodes = new ArrayList<>();
    for (String line : Files.readAllLines(serversFile)) {
      line = line.trim();
      if (!line.isEmpty() && !line.startsWith("#")) {
        int colon = line.lastIndexOf(':');
        nodes.add(new InetSocketAddress(line.substring(0, colon),
            Integer.parseInt(line.substring(colon + 1))));
      }
    }
    List<Long> detect = new ArrayList<>();
    List<Long> rejoin = new ArrayList<>();
    try (KvClient client = KvClient.open(RetryPolicy.DEFAULT.withTimeoutMsInitial(200)
        .withRetriesMax(2), 4_096)) {
      awaitCount(client, nodes, -1, nodes.size());
      for (int round = 0; round < rounds; round++) {
        int victim = random.nextInt(nodes.size());
        boolean crash = round % 2 == 0;
        InetSocketAddress node = nodes.get(victim);
        long pid = client.pid(node).join();
        long start = System.nanoTime();
        if (crash) {
          client.shutdown(node).join();
        } else {
          signal(pid, "STOP");
        }
        long detected = awaitCount(client, nodes, victim, nodes.size() - 1);
        detect.add(detected);
        System.out.printf("%s node %s: every other node counts %d after %d ms%n",
            crash ? "crashed" : "suspended", node, nodes.size() - 1, detected);
        Thread.sleep(1_000);
        start = System.nanoTime();
        if (crash) {
          restart(serversFile, node);
        } else {
          signal(pid, "CONT");
        }
        long back = awaitCount(client, nodes, -1, nodes.size());
        rejoin.add(back);
        System.out.printf("%s node %s: every node counts %d after %d ms%n",
            crash ? "restarted" : "resumed", node, nodes.size(), back);
        Thread.sleep(1_000);
      }
    }
    System.out.printf("{\"nodes\":%d,\"events\":%d,\"detectionMsP50\":%d,\"detectionMsMax\":%d,"
            + "\"rejoinMsP50\":%d,\"rejoinMsMax\":%d}%n", nodes.size(), detect.size(),
        percentile(detect, 50), percentile(detect, 100), percentile(rejoin, 50),
        percentile(rejoin, 100));
  }

  /** Polls every node but {@code skip} until each answers {@code expected}; returns ms taken. */
  private static long awaitCount(KvClient client, List<InetSocketAddress> nodes, int skip,
      int expected) throws InterruptedException {
    long start = System.nanoTime();
    while (true) {
      List<CompletableFuture<Integer>> counts = new ArrayList<>();
      for (int i = 0; i < nodes.size(); i++) {
        counts.add(i == skip ? CompletableFuture.completedFuture(expected)
            : client.membershipCount(nodes.get(i)).exceptionally(e -> -1));
      }
      boolean all = true;
      for (CompletableFuture<Integer> c : counts) {
        all &= c.join() == expected;
      }
      long elapsedMs = (System.nanoTime() - start) / 1_000_000;
      if (all) {
        return elapsedMs;
      }
      if (elapsedMs > EVENT_TIMEOUT_MS) {
        throw new IllegalStateException("membership did not reach " + expected + " in "
            + EVENT_TIMEOUT_MS + " ms");
      }
      Thread.sleep(POLL_INTERVAL_MS);
    }
  }

  private static void signal(long pid, String signal) throws IOException, InterruptedException {
    Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(pid)).inheritIO().start();
    if (!kill.waitFor(5, TimeUnit.SECONDS) || kill.exitValue() != 0) {
      throw new IOException("kill -" + signal + " " + pid + " failed");
    }
  }

  private static void restart(Path serversFile, InetSocketAddress node) throws IOException {
    Path log = Paths.get(serversFile.toAbsolutePath().getParent().toString(),
        "restarted-" + node.getPort() + ".log");
    new ProcessBuilder(KvdProcess.launcher().toString(), "--servers-file",
        serversFile.toAbsolutePath().toString(), "--host", node.getHostString(), "--port",
        Integer.toString(node.getPort()))
        .redirectErrorStream(true).redirectOutput(log.toFile()).start();
  }

  private static long percentile(List<Long> values, double p) {
    List<Long> sorted = new ArrayList<>(values);
    Collections.sort(sorted);
    int index = (int) Math.min(sorted.size() - 1, Math.ceil(p / 100 * sorted.size()) - 1);
    return sorted.get(Math.max(0, index));
  }
}
