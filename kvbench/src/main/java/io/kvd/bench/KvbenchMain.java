package io.kvd.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.kvd.bench.KeyChooser.Distribution;
import io.kvd.check.Checker;
import io.kvd.check.Operation;
import io.kvd.client.ServersFile;
import io.kvd.client.ServersFile.Member;
import io.kvd.core.Addresses;
import io.kvd.core.cluster.Ring;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.HdrHistogram.Histogram;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * kvbench: a load generator for kvd (and, as a baseline, a UDP echo server). It runs a warm-up,
 * then measures for --duration (or --ops operations), and prints one JSON report.
 */
@Command(name = "kvbench", mixinStandardHelpOptions = true,
    versionProvider = KvbenchMain.Version.class,
    description = {"Load generator for kvd: logical clients over a few UDP sockets, closed or"
        + " open loop, YCSB-style workloads; prints one JSON report (stdout, or --out FILE)."},
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {"0:the run completed", "1:the run completed with errors, timeouts or (with"
        + " --check) anomalies",
        "2:usage error"})
public final class KvbenchMain implements Callable<Integer> {
  /** How results are routed to nodes. */
  public enum Target { RANDOM, FIXED, PRIMARY, ECHO }

  @Option(names = {"-n", "--node"}, paramLabel = "HOST:PORT",
      description = "A node (repeatable); with --target echo, the echo server.")
  List<String> nodeOptions = new ArrayList<>();

  @Option(names = "--servers-file", paramLabel = "FILE",
      description = "The cluster's servers file, instead of --node.")
  Path serversFile;

  @Option(names = "--target", paramLabel = "HOW",
      description = "random (a random node per request, as course clients do, and another for"
          + " each resend), fixed (the"
          + " first node), primary (the key's primary on the ring: client-side routing), or"
          + " echo (a plain UDP echo server, the baseline). Default: ${DEFAULT-VALUE}.")
  Target target = Target.RANDOM;

  @Option(names = "--virtual-nodes", paramLabel = "N",
      description = "The cluster's virtual nodes per member, for --target primary (default:"
          + " ${DEFAULT-VALUE}, kvd's).")
  int virtualNodes = Ring.VIRTUAL_NODES_DEFAULT;

  @Option(names = {"-c", "--clients"}, paramLabel = "N",
      description = "Logical clients, each with one request in flight (closed loop), or the"
          + " most requests in flight (open loop). Default: ${DEFAULT-VALUE}.")
  int clients = 64;

  @Option(names = "--sockets", paramLabel = "N",
      description = "UDP sockets, each with its own thread (default: half the machine's cores,"
          + " at least 1: the kernel's share of each request, and the server on the same"
          + " machine, need the rest).")
  int sockets = Math.max(1, Runtime.getRuntime().availableProcessors() / 2);

  @Option(names = "--io-cpus", paramLabel = "CPU[,CPU...]",
      description = "Pin the sockets' threads to these CPUs, the i-th thread to the i-th CPU of"
          + " the list (round robin), away from a server on the same machine (kvd --io-cpu)."
          + " Default: not pinned.")
  String ioCpus;

  @Option(names = "--rate", paramLabel = "OPS_PER_SEC",
      description = "Open loop at this rate; latency from each request's intended send time.")
  double rate;

  @Option(names = {"-d", "--duration"}, paramLabel = "SECONDS",
      description = "Measure this long (default: ${DEFAULT-VALUE}).")
  double durationS = 10;

  @Option(names = "--ops", paramLabel = "N",
      description = "Stop after N measured operations (or --duration, whichever is first).")
  long opsMax = Long.MAX_VALUE;

  @Option(names = "--warmup", paramLabel = "SECONDS",
      description = "Run this long before measuring (default: ${DEFAULT-VALUE}).")
  double warmupS = 2;

  @Option(names = "--seed", paramLabel = "SEED",
      description = "Seeds every client's key and operation sequence (default: ${DEFAULT-VALUE}).")
  long seed = 431;

  @Option(names = {"-w", "--workload"}, paramLabel = "NAME",
      description = "a, b, c, d, f (YCSB), course (put-get-remove per client) or custom (--mix)."
          + " Default: ${DEFAULT-VALUE}.")
  Workload.Name workload = Workload.Name.B;

  @Option(names = "--mix", paramLabel = "OP=SHARE,...",
      description = "The custom mix, e.g. get=90,put=10 (ops: get, put, remove, insert, rmw).")
  String mix;

  @Option(names = "--distribution", paramLabel = "NAME",
      description = "uniform, zipfian or latest (default: the workload's).")
  Distribution distribution;

  @Option(names = "--keys", paramLabel = "N", description = "Key space (default: ${DEFAULT-VALUE}).")
  long keys = 10_000;

  @Option(names = "--key-prefix", paramLabel = "TEXT",
      description = "Keys are TEXT and a number (default: ${DEFAULT-VALUE}); a fresh prefix"
          + " gives a run keys no earlier run wrote.")
  String keyPrefix = "k";

  @Option(names = "--value-size", paramLabel = "BYTES|MIN-MAX",
      description = "Value length, or a uniform range, up to 10000 (default: ${DEFAULT-VALUE}).")
  String valueSize = "100";

  @Option(names = "--timeout-ms", paramLabel = "MS",
      description = "First attempt's timeout; retries double it (default: ${DEFAULT-VALUE}).")
  long timeoutMs = 500;

  @Option(names = "--retries", paramLabel = "N",
      description = "Resends before a request counts as timed out (default: ${DEFAULT-VALUE}).")
  int retries = 3;

  @Option(names = "--fault-script", paramLabel = "FILE",
      description = "Run this bash script while measuring (KVCTL_SERVERS names the nodes, and"
          + " KVD_CLUSTER_KEY_FILE the cluster.key beside --servers-file, if there is one, for"
          + " kvctl); every line it prints marks the timeline, and the report gives"
          + " availability per phase.")
  Path faultScript;

  @Option(names = "--check",
      description = "Record the history (each PUT writes a unique identity) and check it per key"
          + " for linearizability and sequential consistency; the report counts anomalies.")
  boolean check;

  @Option(names = "--plot", paramLabel = "FILE.png",
      description = "Draw the timeline and the latency percentile curves into this PNG.")
  Path plot;

  @Option(names = "--out", paramLabel = "FILE",
      description = "Write the report here (and FILE-OP.hgrm percentile files beside it).")
  Path out;

  private final PrintStream stdout;
  private final PrintStream stderr;
  private final boolean terminal;

  public KvbenchMain(PrintStream stdout, PrintStream stderr, boolean terminal) {
    this.stdout = stdout;
    this.stderr = stderr;
    this.terminal = terminal;
  }

  public static void main(String[] args) {
    System.exit(run(System.out, System.err, System.console() != null, args));
  }

  public static int run(PrintStream stdout, PrintStream stderr, boolean terminal,
      String... args) {
    CommandLine cl = new CommandLine(new KvbenchMain(stdout, stderr, terminal));
    cl.setCaseInsensitiveEnumValuesAllowed(true);
    cl.setOut(new java.io.PrintWriter(stdout, true));
    cl.setErr(new java.io.PrintWriter(stderr, true));
    cl.setExecutionExceptionHandler((e, line, parse) -> {
      stderr.println("kvbench: " + (e instanceof IllegalArgumentException ? e.getMessage()
          : e.toString()));
      return e instanceof IllegalArgumentException ? 2 : 1;
    });
    return cl.execute(args);
  }

  @Override
  public Integer call() throws Exception {
    List<InetSocketAddress> nodes = nodes();
    int[] sizes = valueSizes();
    Workload load = Workload.of(workload, mix, distribution);
    LoadEngine.Targeting targeting = targeting(nodes);
    LoadEngine.Settings settings = new LoadEngine.Settings(nodes, targeting,
        target == Target.ECHO, clients, sockets, rate, timeoutMs, retries, 20, load, keys,
        sizes[0], sizes[1], seed, check, keyPrefix);
    Results results = new Results();
    Timeline timeline = new Timeline();
    List<Operation> history = null;
    boolean truncated = false;
    long runStartNanos;
    long measuredNanos;
    List<Integer> cpus = ioCpus == null ? List.of() : io.kvd.client.Affinity.parseList(ioCpus);
    LoadEngine engine = new LoadEngine(settings, results);
    try {
      engine.pinThreads(cpus);
      engine.start();
      runStartNanos = System.nanoTime();
      // The warm-up samples the interval histograms each second as the measured run does, so
      // that the JIT has seen the recorders swap before measuring: sampled only at its end, the
      // swap deoptimised the reply path and the first measured second's p99 was 10 times the
      // rest's.
      long warmupEnd = runStartNanos + seconds(warmupS);
      for (long tick = runStartNanos + TimeUnit.SECONDS.toNanos(1); tick < warmupEnd;
          tick += TimeUnit.SECONDS.toNanos(1)) {
        sleepUntil(tick);
        engine.intervalHistogram();
      }
      sleepUntil(warmupEnd);
      engine.intervalHistogram();
      engine.startRecording();
      long measureStart = System.nanoTime();
      long end = measureStart + seconds(durationS);
      long nextTick = measureStart + TimeUnit.SECONDS.toNanos(1);
      long previousAnswered = 0;
      long previousErrors = 0;
      long previousTimeouts = 0;
      FaultScript script = faultScript == null ? null : new FaultScript(faultScript,
          serversText(nodes), serversFile, measureStart, timeline, stderr);
      try {
        while (System.nanoTime() < end && results.completedCount() < opsMax) {
          // Wake every 10 ms, so that --ops stops the run within 10 ms of its count.
          sleepUntil(Math.min(Math.min(nextTick, end), System.nanoTime() + 10_000_000L));
          if (System.nanoTime() >= nextTick || System.nanoTime() >= end
              || results.completedCount() >= opsMax) {
            long answered = results.completedCount();
            long errors = results.errorCount();
            long timeouts = results.timeoutCount();
            Histogram interval = engine.intervalHistogram();
            long p99 = interval.getTotalCount() == 0 ? 0 : interval.getValueAtPercentile(99);
            timeline.add(answered - previousAnswered, errors - previousErrors,
                timeouts - previousTimeouts, p99);
            if (terminal) {
              stderr.printf(Locale.ROOT, "\r%5.0f s  %,10d ops/s  p99 %,8d us  errors %,d"
                  + "  timeouts %,d   ", (System.nanoTime() - measureStart) / 1e9,
                  answered - previousAnswered, p99, errors, timeouts);
              stderr.flush();
            }
            previousAnswered = answered;
            previousErrors = errors;
            previousTimeouts = timeouts;
            nextTick += TimeUnit.SECONDS.toNanos(1);
          }
        }
      } finally {
        if (script != null) {
          int status = script.finish(0);
          if (status > 0) {
            stderr.println("kvbench: the fault script exited with status " + status);
          } else if (status < 0) {
            stderr.println("kvbench: the fault script outlived the run and was stopped");
          }
        }
      }
      measuredNanos = System.nanoTime() - measureStart;
      engine.stop();
      long drainEnd = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(
          Math.min(10_000, timeoutMs * ((1L << Math.min(retries + 1, 10)) - 1)));
      while (engine.inFlight() > 0 && System.nanoTime() < drainEnd) {
        Thread.sleep(5);
      }
    } finally {
      engine.close();
    }
    if (check) {
      history = engine.history();
      truncated = engine.historyTruncated();
    }
    if (terminal) {
      stderr.println();
    }
    if (plot != null) {
      Plot.write(plot, timeline, timeline.marks(), results);
    }
    Report report = new Report(this, settings, results, timeline, measuredNanos);
    Map<String, Object> json = report.json();
    boolean anomalies = false;
    if (history != null) {
      Checker.Report checked = new Checker().check(history);
      Map<String, Object> c = new LinkedHashMap<>();
      c.put("operations", history.size());
      c.put("truncated", truncated);
      c.put("keys", checked.keys());
      c.put("linearizableOk", checked.linearizableOk());
      c.put("linearizableViolations", checked.linearizableViolations());
      c.put("linearizableUnknown", checked.linearizableUnknown());
      c.put("sequentialOk", checked.sequentialOk());
      c.put("sequentialViolations", checked.sequentialViolations());
      c.put("sequentialUnknown", checked.sequentialUnknown());
      c.put("smallestViolation", checked.smallestViolation());
      json.put("check", c);
      anomalies = !checked.clean();
    }
    ObjectMapper mapper = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    String text = mapper.writeValueAsString(json);
    if (out != null) {
      Files.writeString(out, text + "\n", StandardCharsets.UTF_8);
      report.writeHistograms(out);
    } else {
      stdout.println(text);
    }
    return results.errorCount() + results.timeoutCount() > 0 || anomalies ? 1 : 0;
  }

  Map<String, Object> configuration() {
    Map<String, Object> config = new LinkedHashMap<>();
    config.put("target", target.name().toLowerCase(Locale.ROOT));
    config.put("nodes", nodeOptions.isEmpty() && serversFile != null ? serversFile.toString()
        : String.join(",", nodeOptions));
    config.put("clients", clients);
    config.put("sockets", sockets);
    config.put("ioCpus", ioCpus);
    config.put("loop", rate > 0 ? "open" : "closed");
    config.put("rateOpsPerSec", rate > 0 ? rate : null);
    config.put("durationSec", durationS);
    config.put("warmupSec", warmupS);
    config.put("opsMax", opsMax == Long.MAX_VALUE ? null : opsMax);
    config.put("workload", workload.name().toLowerCase(Locale.ROOT));
    config.put("mix", mix);
    config.put("keys", keys);
    config.put("keyPrefix", keyPrefix);
    config.put("valueSize", valueSize);
    config.put("timeoutMs", timeoutMs);
    config.put("retries", retries);
    config.put("seed", seed);
    config.put("faultScript", faultScript == null ? null : faultScript.toString());
    config.put("check", check);
    return config;
  }

  private static String serversText(List<InetSocketAddress> nodes) {
    List<String> names = new ArrayList<>();
    for (InetSocketAddress node : nodes) {
      names.add(node.getAddress().getHostAddress() + ":" + node.getPort());
    }
    return String.join(",", names);
  }

  private static long seconds(double s) {
    return (long) (s * 1e9);
  }

  private static void sleepUntil(long deadlineNanos) throws InterruptedException {
    long left = deadlineNanos - System.nanoTime();
    if (left > 0) {
      TimeUnit.NANOSECONDS.sleep(left);
    }
  }

  private int[] valueSizes() {
    String[] parts = valueSize.split("-");
    try {
      int min = Integer.parseInt(parts[0].trim());
      int max = parts.length > 1 ? Integer.parseInt(parts[1].trim()) : min;
      return new int[] {min, max};
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("--value-size: expected BYTES or MIN-MAX, got "
          + valueSize);
    }
  }

  private List<InetSocketAddress> nodes() throws IOException {
    List<Member> members;
    if (!nodeOptions.isEmpty()) {
      members = ServersFile.parse(String.join("\n", nodeOptions), "--node", ServersFile.SYSTEM);
    } else if (serversFile != null) {
      members = ServersFile.read(serversFile, ServersFile.SYSTEM);
    } else {
      throw new IllegalArgumentException("give --node HOST:PORT or --servers-file FILE");
    }
    List<InetSocketAddress> nodes = new ArrayList<>();
    for (Member m : members) {
      nodes.add(m.socketAddress());
    }
    if (nodes.isEmpty()) {
      throw new IllegalArgumentException("no nodes");
    }
    return nodes;
  }

  private LoadEngine.Targeting targeting(List<InetSocketAddress> nodes) {
    switch (target) {
      case FIXED:
      case ECHO:
        return (key, random) -> nodes.get(0);
      case PRIMARY: {
        long[] members = new long[nodes.size()];
        for (int i = 0; i < members.length; i++) {
          members[i] = Addresses.of(nodes.get(i).getAddress().getAddress(),
              nodes.get(i).getPort());
        }
        Ring ring = new Ring(members, virtualNodes);
        boolean[] live = new boolean[ring.size()];
        java.util.Arrays.fill(live, true);
        InetSocketAddress[] byIndex = new InetSocketAddress[ring.size()];
        for (InetSocketAddress node : nodes) {
          byIndex[ring.indexOf(Addresses.of(node.getAddress().getAddress(), node.getPort()))] =
              node;
        }
        return (key, random) -> byIndex[ring.owner(Ring.keyToken(key, 0, key.length), live)];
      }
      default:
        return new LoadEngine.Targeting() {
          @Override
          public InetSocketAddress node(byte[] key, java.util.SplittableRandom random) {
            return nodes.get(random.nextInt(nodes.size()));
          }

          @Override
          public boolean retryElsewhere() {
            return true;
          }
        };
    }
  }

  /** The version from the jar's manifest, else "development". */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String version = KvbenchMain.class.getPackage().getImplementationVersion();
      return new String[] {"kvbench " + (version != null ? version : "development")};
    }
  }
}
