package io.kvd.server;

import io.kvd.client.ClusterKeyFile;
import io.kvd.client.ServersFile;
import io.kvd.client.KvClient;
import io.kvd.client.RetryPolicy;
import io.kvd.core.Addresses;
import io.kvd.core.cluster.Ring;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code kvd cluster}: a local cluster in one command. It writes the servers file (the members
 * read it at start-up, so it comes first), builds or reuses an AppCDS archive of kvd's classes
 * ({@link ClassDataSharing}), starts one {@code bin/kvd} JVM per member on 127.0.0.1, a few at a
 * time, waits until every member answers IS_ALIVE, prints a table of members, ports, pids and
 * logs, and reports when every member counts them all. Unless told otherwise it generates a fresh
 * cluster key first ({@link ClusterKeyFile#NAME} beside the servers file, mode 0600) and gives it
 * to every member, so kvctl finds it there. It then stays in the foreground; on Ctrl-C
 * or SIGTERM a shutdown hook stops every process it started (SIGTERM, then SIGKILL after {@link
 * #STOP_GRACE_MS}). It exits by itself when every member has exited.
 */
@Command(
    name = "cluster",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    description = {
        "Starts a local cluster: N kvd members on 127.0.0.1, ports P..P+N-1, each its own JVM"
            + " (bin/kvd), sharing a servers file written first. Member logs go beside the"
            + " servers file. Ctrl-C or SIGTERM stops every member it started.",
        "The members share a fresh random cluster key, written to cluster.key beside the"
            + " servers file (mode 0600) and given to each with --cluster-key-file; kvctl"
            + " --servers-file finds it there (--no-cluster-key: run open, without one).",
        "Options after -- are passed to every member, for example:"
            + " kvd cluster --nodes 5 -- --fault-loss-pct 1 --fault-delay-ms 5"},
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {
        "0:every member exited by itself (SHUTDOWN)",
        "1:internal error",
        "2:invalid arguments",
        "4:a member failed to start or to answer in time (all were stopped)",
        "130/143:stopped by Ctrl-C or SIGTERM (all members were stopped)"})
public final class ClusterCommand implements Callable<Integer> {
  public static final int EXIT_START_FAILED = 4;
  public static final String HOST = "127.0.0.1";
  public static final String SERVERS_FILE_DEFAULT = "kvd-cluster/servers.txt";
  /** How long stopping waits for members to exit after SIGTERM before it sends SIGKILL. */
  static final long STOP_GRACE_MS = 3_000;
  private static final long POLL_INTERVAL_MS = 100;
  /**
   * Members starting at once by default. Start-up is CPU-bound (about 1.1 s of CPU alone, 2.5 s
   * when 20 compete for 2 cores). Measured on 2 cores, 20 members with the class-data archive,
   * 3 runs each: 8 at a time 19.5 to 21.6 s, all 20 at once 19.8 to 22.6 s, 4 at a time 21.4 to
   * 29.1 s; 8 is as fast as all at once and leaves the machine some room.
   */
  static final int START_PARALLELISM_DEFAULT = 8;

  @Spec
  CommandLine.Model.CommandSpec spec;

  @Option(names = "--nodes", required = true, paramLabel = "N",
      description = "Members to start, 1 to " + Ring.MEMBERS_MAX + ".")
  int nodes;

  @Option(names = "--base-port", defaultValue = "" + KvdMain.PORT_DEFAULT, paramLabel = "P",
      description = "Port of the first member; the others follow (default: ${DEFAULT-VALUE}).")
  int basePort;

  @Option(names = "--servers-file", defaultValue = SERVERS_FILE_DEFAULT, paramLabel = "FILE",
      description = "Servers file to write (overwritten); members' logs node-PORT.log go in its"
          + " directory (default: ${DEFAULT-VALUE}).")
  Path serversFile;

  @Option(names = "--heap", defaultValue = "64m", paramLabel = "SIZE",
      description = "Maximum heap of each member, as for -Xmx (default: ${DEFAULT-VALUE}).")
  String heap;

  @Option(names = "--start-timeout-s", defaultValue = "120", paramLabel = "S",
      description = "Time allowed for every member to answer IS_ALIVE (default:"
          + " ${DEFAULT-VALUE}).")
  long startTimeoutS;

  @Option(names = "--start-parallelism", defaultValue = "" + START_PARALLELISM_DEFAULT,
      paramLabel = "K", description = "Members starting at once: the next starts when one"
          + " answers IS_ALIVE (default: ${DEFAULT-VALUE}).")
  int startParallelism;

  @Option(names = "--cds", negatable = true, defaultValue = "true", fallbackValue = "true",
      description = "Share an AppCDS archive of kvd's classes among the members, built once per"
          + " jar by a training run into the servers file's directory; it cuts each member's"
          + " start-up CPU by about a quarter (default: on; --no-cds turns it off).")
  boolean cds;

  @Option(names = "--cluster-key", negatable = true, defaultValue = "true",
      fallbackValue = "true",
      description = "Generate a fresh random cluster key into cluster.key beside the servers"
          + " file (mode 0600, replacing any there) and start every member with"
          + " --cluster-key-file: internal messages are authenticated, and kvctl needs the key"
          + " for admin commands (kvctl --servers-file finds it beside the servers file). On by"
          + " default, unless the member options give --cluster-key-file; --no-cluster-key"
          + " runs the members open and removes a cluster.key left there.")
  boolean clusterKey;

  @Parameters(paramLabel = "MEMBER_OPTION", arity = "0..*",
      description = "Options for every member, after --.")
  List<String> memberOptions = new ArrayList<>();

  private final List<Member> members = new ArrayList<>();
  private final AtomicBoolean stopping = new AtomicBoolean();
  /** The class-data training run, if one was started; a stop ends it too. */
  private volatile Process training;
  /** KVD_JAVA_OPTS of the members, or null to inherit ours. */
  private String memberJavaOptions;
  /** --cluster-key-file FILE of the generated key, for every member; empty without. */
  private List<String> memberKeyOptions = List.of();

  /** One started member. */
  private record Member(int index, int port, Process process, Path log) {
    InetSocketAddress address() {
      return new InetSocketAddress(HOST, port);
    }
  }

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    long startNanos = System.nanoTime();
    if (nodes < 1 || nodes > Ring.MEMBERS_MAX) {
      return usage(err, "--nodes must be in 1.." + Ring.MEMBERS_MAX);
    }
    if (basePort < 1 || basePort + nodes - 1 > Addresses.PORT_MAX) {
      return usage(err, "ports " + basePort + ".." + (basePort + nodes - 1) + " are not all in 1.."
          + Addresses.PORT_MAX);
    }
    if (startParallelism < 1) {
      return usage(err, "--start-parallelism must be >= 1");
    }
    if (!heap.matches("[0-9]+[kKmMgG]?")) {
      return usage(err, "--heap must look like 64m, got " + heap);
    }
    Path launcher = launcher();
    if (launcher == null) {
      return usage(err, "bin/kvd not found: run kvd cluster through bin/kvd (which sets"
          + " -Dkvd.home)");
    }
    Path file = serversFile.toAbsolutePath();
    Path dir = file.getParent();
    List<Integer> ports = new ArrayList<>();
    for (int i = 0; i < nodes; i++) {
      ports.add(basePort + i);
    }
    Files.createDirectories(dir);
    Files.writeString(file, ServersFile.format("kvd cluster --nodes " + nodes + " --base-port "
        + basePort + ": one host:port per member", HOST, ports), StandardCharsets.UTF_8);
    Path keyFile = dir.resolve(ClusterKeyFile.NAME);
    boolean keyGiven = memberOptions.stream().anyMatch(o -> o.equals("--cluster-key-file")
        || o.startsWith("--cluster-key-file="));
    String keyNote;
    if (keyGiven) {
      keyNote = "the members use the --cluster-key-file given after --";
    } else if (clusterKey) {
      ClusterKeyFile.write(keyFile, ClusterKeyFile.generate(new SecureRandom()),
          "cluster key of kvd cluster --nodes " + nodes + " --base-port " + basePort
              + " (kvd --cluster-key-file, kvctl --cluster-key-file)");
      memberKeyOptions = List.of("--cluster-key-file", keyFile.toString());
      keyNote = "cluster key " + keyFile + " (kvctl --servers-file " + file + " finds it; or"
          + " kvctl --cluster-key-file " + keyFile + ", or KVD_CLUSTER_KEY_FILE)";
    } else {
      keyNote = "no cluster key: the members run open"
          + (Files.deleteIfExists(keyFile) ? " (removed the old " + keyFile + ")" : "");
    }

    Runtime.getRuntime().addShutdownHook(new Thread(() -> stopAll(err), "kvd-cluster-stop"));
    Path archive = cds ? ClassDataSharing.archive(launcher, dir, heap, err, p -> training = p)
        : null;
    if (archive != null) {
      // Before the user's KVD_JAVA_OPTS, which come last and win.
      memberJavaOptions = "-XX:SharedArchiveFile=" + archive + " "
          + System.getenv().getOrDefault("KVD_JAVA_OPTS", "");
    }
    out.printf("kvd cluster: starting %d members on %s:%d..%d, %d at a time; servers file %s;"
        + " %s%n", nodes, HOST, basePort, basePort + nodes - 1, startParallelism, file, keyNote);
    out.flush();
    try (KvClient client = KvClient.open(RetryPolicy.DEFAULT.withRetriesMax(0), 4 * nodes)) {
      String failure = startAll(client, launcher, file, dir, ports, err, startNanos);
      if (failure != null) {
        err.println("kvd cluster: " + failure + "; stopping every member");
        err.flush();
        stopAll(err);
        return EXIT_START_FAILED;
      }
      out.printf("kvd cluster: all %d members answer IS_ALIVE after %.1f s%n", nodes,
          secondsSince(startNanos));
      printTable(out);
      double countedS = awaitFullMembership(client, startNanos);
      if (countedS >= 0) {
        out.printf("kvd cluster: every member counts %d members after %.1f s. Ctrl-C or SIGTERM"
            + " stops them all.%n", nodes, countedS);
      } else {
        out.printf("kvd cluster: not every member counts %d members yet (see the logs). Ctrl-C"
            + " or SIGTERM stops them all.%n", nodes);
      }
      out.flush();
    }
    for (Member member : members) {
      member.process().waitFor();
    }
    if (!stopping.get()) {
      out.println("kvd cluster: every member has exited");
      out.flush();
    }
    return KvdMain.EXIT_OK;
  }

  /**
   * Starts the members, at most {@code startParallelism} at a time (a member counts as starting
   * until it answers IS_ALIVE), and waits until all answer; returns null, or why not.
   */
  private String startAll(KvClient client, Path launcher, Path file, Path dir, List<Integer> ports,
      PrintWriter err, long startNanos) throws IOException, InterruptedException {
    long deadline = startNanos + TimeUnit.SECONDS.toNanos(startTimeoutS);
    boolean[] alive = new boolean[nodes];
    int aliveCount = 0;
    while (aliveCount < nodes) {
      while (members.size() < nodes && members.size() - aliveCount < startParallelism) {
        if (launch(launcher, file, dir, ports.get(members.size()), err) == null) {
          return "stopped while starting";
        }
      }
      // GET_PID rather than IS_ALIVE: a member counts as up only when the process answering on
      // its port is the one this command launched (bin/kvd execs java, so the pids match), not
      // a kvd left running on that port by someone else.
      List<CompletableFuture<Integer>> probes = new ArrayList<>();
      for (Member member : members) {
        if (!member.process().isAlive()) {
          return String.format("member %d (port %d) exited with status %d before answering;"
                  + " its log %s says:%n%s", member.index(), member.port(),
              member.process().exitValue(), member.log(), tail(member.log()));
        }
        probes.add(alive[member.index()] ? null : client.pid(member.address()));
      }
      for (int i = 0; i < probes.size(); i++) {
        if (probes.get(i) == null) {
          continue;
        }
        int pid = probes.get(i).handle((answer, e) -> e == null ? answer : -1).join();
        Member member = members.get(i);
        if (pid >= 0 && pid != member.process().pid()) {
          return String.format("port %d is answered by another process (pid %d), not by member"
              + " %d (pid %d); stop it or choose another --base-port", member.port(), pid,
              member.index(), member.process().pid());
        }
        if (pid >= 0) {
          alive[i] = true;
          aliveCount++;
        }
      }
      if (aliveCount < nodes) {
        if (System.nanoTime() > deadline) {
          return (nodes - aliveCount) + " of " + nodes + " members did not answer IS_ALIVE"
              + " within " + startTimeoutS + " s";
        }
        Thread.sleep(POLL_INTERVAL_MS);
      }
    }
    return null;
  }

  /** Starts member {@code members.size()} on {@code port}; null when stopping has begun. */
  private Member launch(Path launcher, Path file, Path dir, int port, PrintWriter err)
      throws IOException {
    Path log = dir.resolve("node-" + port + ".log");
    List<String> command = new ArrayList<>(List.of(launcher.toString(), "--servers-file",
        file.toString(), "--host", HOST, "--port", Integer.toString(port)));
    command.addAll(memberKeyOptions);
    command.addAll(memberOptions);
    ProcessBuilder builder = new ProcessBuilder(command)
        .redirectErrorStream(true)
        .redirectOutput(log.toFile());
    builder.environment().put("KVD_HEAP", heap);
    if (memberJavaOptions != null) {
      builder.environment().put("KVD_JAVA_OPTS", memberJavaOptions);
    }
    Member member;
    synchronized (members) {
      if (stopping.get()) {
        return null;
      }
      member = new Member(members.size(), port, builder.start(), log);
      members.add(member);
    }
    member.process().onExit().thenAccept(p -> {
      if (!stopping.get()) {
        err.printf("kvd cluster: member %d (%s:%d, pid %d) exited with status %d; log %s%n",
            member.index(), HOST, member.port(), p.pid(), p.exitValue(), member.log());
        err.flush();
      }
    });
    return member;
  }

  /**
   * Waits a bounded time until every member counts all; returns the seconds since start, or -1
   * when some did not (a warning, not a failure: membership may still converge).
   */
  private double awaitFullMembership(KvClient client, long startNanos)
      throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (System.nanoTime() < deadline) {
      List<CompletableFuture<Integer>> counts = new ArrayList<>();
      for (Member member : members) {
        counts.add(client.membershipCount(member.address()));
      }
      boolean all = true;
      for (CompletableFuture<Integer> count : counts) {
        all &= count.handle((n, e) -> e == null && n == nodes).join();
      }
      if (all) {
        return secondsSince(startNanos);
      }
      Thread.sleep(POLL_INTERVAL_MS);
    }
    return -1;
  }

  private void printTable(PrintWriter out) {
    Path cwd = Paths.get("").toAbsolutePath();
    out.printf("%6s  %-21s  %8s  %s%n", "member", "address", "pid", "log");
    for (Member member : members) {
      Path log = member.log().startsWith(cwd) ? cwd.relativize(member.log()) : member.log();
      out.printf("%6d  %-21s  %8d  %s%n", member.index(), HOST + ":" + member.port(),
          member.process().pid(), log);
    }
  }

  /** Stops every member started: SIGTERM, then SIGKILL for those still up after the grace. */
  private void stopAll(PrintWriter err) {
    if (!stopping.compareAndSet(false, true)) {
      return;
    }
    Process trainingRun = training;
    if (trainingRun != null) {
      trainingRun.destroyForcibly();
    }
    List<Member> started;
    synchronized (members) {
      started = new ArrayList<>(members);
    }
    long up = started.stream().filter(m -> m.process().isAlive()).count();
    if (up == 0) {
      return;
    }
    err.printf("kvd cluster: stopping %d members%n", up);
    err.flush();
    for (Member member : started) {
      member.process().destroy();
    }
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(STOP_GRACE_MS);
    for (Member member : started) {
      try {
        long leftNanos = deadline - System.nanoTime();
        // A suspended (SIGSTOP) member cannot act on SIGTERM; SIGKILL still ends it.
        if (leftNanos <= 0 || !member.process().waitFor(leftNanos, TimeUnit.NANOSECONDS)) {
          member.process().destroyForcibly().waitFor(STOP_GRACE_MS, TimeUnit.MILLISECONDS);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        member.process().destroyForcibly();
      }
    }
    long left = started.stream().filter(m -> m.process().isAlive()).count();
    err.printf("kvd cluster: stopped%s%n", left == 0 ? "" : "; " + left + " did not exit");
    err.flush();
  }

  private static String tail(Path log) {
    try {
      List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
      return String.join(System.lineSeparator(),
          lines.subList(Math.max(0, lines.size() - 10), lines.size()));
    } catch (IOException e) {
      return "(cannot read it: " + e + ")";
    }
  }

  private static double secondsSince(long startNanos) {
    return (System.nanoTime() - startNanos) / 1e9;
  }

  private static int usage(PrintWriter err, String message) {
    err.println("kvd cluster: " + message);
    err.flush();
    return KvdMain.EXIT_USAGE;
  }

  /** bin/kvd of the installation bin/kvd ran us from (-Dkvd.home), or null. */
  static Path launcher() {
    String home = System.getProperty("kvd.home");
    if (home == null) {
      return null;
    }
    Path candidate = Paths.get(home, "bin", "kvd").toAbsolutePath();
    return Files.isExecutable(candidate) ? candidate : null;
  }
}
