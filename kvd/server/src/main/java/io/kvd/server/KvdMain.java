package io.kvd.server;

import io.kvd.client.ClusterKeyFile;
import io.kvd.client.ServersFile;
import io.kvd.client.Transports;
import io.kvd.core.Addresses;
import io.kvd.core.ClientLimits;
import io.kvd.core.Node;
import io.kvd.core.NodeConfig;
import io.kvd.core.auth.ClusterKey;
import io.kvd.core.cluster.ClusterConfig;
import io.kvd.core.cluster.MembershipConfig;
import io.kvd.core.cluster.Ring;
import io.kvd.client.ServersFile.Member;
import io.kvd.server.fault.FaultConfig;
import io.kvd.server.log.LogSetup;
import io.kvd.server.log.LogSetup.LogLevel;
import io.kvd.server.log.LoggingNodeEvents;
import io.kvd.server.metrics.MetricsEndpoint;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.net.BindException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * The kvd executable: one node of the store, serving the client protocol over UDP, alone or as a
 * member of the cluster its servers file lists; {@code kvd cluster} starts a local cluster.
 */
@Command(
    name = "kvd",
    mixinStandardHelpOptions = true,
    versionProvider = KvdMain.Version.class,
    sortOptions = false,
    subcommands = ClusterCommand.class,
    description = {
        "Runs one kvd node: a key-value store speaking the CPEN 431 protocol (Protobuf over UDP).",
        "With --servers-file the node is a member of the cluster the file lists (it finds itself"
            + " by --host and --port); without it the node runs alone.",
        "The node keeps its data in the heap and answers OUT_OF_SPACE, never OutOfMemoryError,"
            + " when the heap's budget is spent."},
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {
        "0:stopped by SHUTDOWN or a signal",
        "1:internal error",
        "2:invalid arguments",
        "3:cannot bind the address (port in use or host not local)"})
public final class KvdMain implements Callable<Integer> {
  public static final int EXIT_OK = 0;
  public static final int EXIT_INTERNAL = 1;
  public static final int EXIT_USAGE = 2;
  public static final int EXIT_BIND = 3;

  public static final int PORT_DEFAULT = 43100;

  @Spec
  CommandLine.Model.CommandSpec spec;

  public static final String HOST_DEFAULT = "127.0.0.1";

  @Option(names = "--host", defaultValue = HOST_DEFAULT, paramLabel = "ADDRESS",
      description = "IPv4 address to bind, and with --servers-file this node's entry in it"
          + " (default: ${DEFAULT-VALUE}; with --servers-file and no --host, the one entry with"
          + " this port whose address is local).")
  String host;

  @Option(names = "--port", defaultValue = "" + PORT_DEFAULT, paramLabel = "PORT",
      description = "UDP port to bind (default: ${DEFAULT-VALUE}).")
  int port;

  @Option(names = "--servers-file", paramLabel = "FILE",
      description = "The cluster's members, one host:port per line (# comments); this node must"
          + " be one of them. Without it the node runs alone.")
  Path serversFile;

  @Option(names = "--virtual-nodes", defaultValue = "" + Ring.VIRTUAL_NODES_DEFAULT,
      paramLabel = "N", description = "Ring tokens per member; every member must use the same"
          + " value (default: ${DEFAULT-VALUE}, max " + Ring.VIRTUAL_NODES_MAX + ").")
  int virtualNodes;

  @Option(names = "--cluster-key-file", paramLabel = "FILE",
      description = "The cluster key: every internal message (gossip, replication, forwarded"
          + " requests, kvctl's admin requests and their replies) is tagged with it"
          + " (HMAC-SHA256) and internal messages without a valid tag are dropped; admin"
          + " requests must also be stamped within 30 s of this node's clock, once. Every member"
          + " and kvctl need the same key. FILE holds one line: at least 64 hex digits (32"
          + " bytes) or base64 of at least 32 bytes; it must be a regular file readable by its"
          + " owner only (chmod 600). Without it the node runs open: anyone who can reach its"
          + " port can join its gossip, write replicas and inject faults. Client requests never"
          + " need the key.")
  Path clusterKeyFile;

  @Mixin
  FaultOptions faultOptions = new FaultOptions();

  @Mixin
  ClientOptions clientOptions = new ClientOptions();

  @Option(names = "--reply-retention-ms", defaultValue = "" + NodeConfig.REPLY_RETENTION_MS_DEFAULT,
      paramLabel = "MS", description = "How long replies to PUT, REMOVE and WIPEOUT are kept for"
          + " retries (default: ${DEFAULT-VALUE}).")
  long replyRetentionMs;

  @Option(names = "--reply-cache-mib", defaultValue = "6", paramLabel = "MIB",
      description = "Heap reserved for the reply cache, about 24 bytes per entry; when it is full"
          + " the node answers OVERLOAD (default: ${DEFAULT-VALUE}).")
  long replyCacheMib;

  @Option(names = "--io-cpu", paramLabel = "CPU",
      description = "Pin the node's event-loop thread (all its network I/O and request handling)"
          + " to this CPU; the JVM's other threads stay free. For a machine shared with a load"
          + " generator or other busy processes: pin them elsewhere (kvbench --io-cpus). Default:"
          + " not pinned.")
  Integer ioCpu;

  @Option(names = "--heap-reserve-mib", defaultValue = "-1", paramLabel = "MIB",
      description = "Heap kept free of stored data for the JVM and the collector (default:"
          + " max(12, heap/8)).")
  long heapReserveMib;

  @Option(names = "--metrics-port", paramLabel = "PORT",
      description = "Serve Prometheus metrics over HTTP at http://HOST:PORT/metrics (TCP). Off"
          + " unless given.")
  Integer metricsPort;

  @Option(names = "--metrics-host", paramLabel = "ADDRESS",
      description = "Address the metrics endpoint binds (default: the address the node binds"
          + " for UDP; 0.0.0.0 for every interface). Only with --metrics-port.")
  String metricsHost;

  @Option(names = "--log-level", defaultValue = "INFO", paramLabel = "LEVEL",
      description = "The least severe log events shown: ${COMPLETION-CANDIDATES} (default:"
          + " ${DEFAULT-VALUE}). At INFO a node logs its start, each change of a member's status,"
          + " repair cycles that moved keys, operator faults and errors; never a request.")
  LogLevel logLevel;

  @Option(names = "--log-json",
      description = "Log one JSON object per line (logback's JsonEncoder) instead of text.")
  boolean logJson;

  @Override
  public Integer call() {
    PrintWriter err = spec.commandLine().getErr();
    SecureRandom secureRandom = new SecureRandom();
    MemoryBudget budget;
    NodeConfig config;
    FaultConfig faults;
    ClusterConfig cluster = null;
    ClusterKey clusterKey = null;
    String bindHost = host;
    long selfAddress;
    try {
      budget = MemoryBudget.of(Runtime.getRuntime().maxMemory(),
          heapReserveMib < 0 ? -1 : heapReserveMib * MemoryBudget.MIB,
          replyCacheMib * MemoryBudget.MIB);
      config = NodeConfig.defaults(ProcessHandle.current().pid(), budget.storeLengthMax(),
              secureRandom.nextLong())
          .withReplyRetentionMs(replyRetentionMs)
          .withReplyCacheLengthMax(budget.replyCacheLength())
          .validate();
      if (port < 1 || port > Addresses.PORT_MAX) {
        throw new IllegalArgumentException("--port must be in 1.." + Addresses.PORT_MAX);
      }
      if (virtualNodes < 1 || virtualNodes > Ring.VIRTUAL_NODES_MAX) {
        throw new IllegalArgumentException("--virtual-nodes must be in 1.."
            + Ring.VIRTUAL_NODES_MAX);
      }
      faults = faultOptions.config(secureRandom.nextLong());
      if (clusterKeyFile != null) {
        try {
          clusterKey = ClusterKeyFile.read(clusterKeyFile);
        } catch (ClusterKeyFile.Invalid e) {
          throw new IllegalArgumentException("--cluster-key-file " + e.getMessage());
        }
      }
      if (metricsPort != null && (metricsPort < 1 || metricsPort > Addresses.PORT_MAX)) {
        throw new IllegalArgumentException("--metrics-port must be in 1.." + Addresses.PORT_MAX);
      }
      if (metricsHost != null && metricsPort == null) {
        throw new IllegalArgumentException("--metrics-host needs --metrics-port");
      }
      if (serversFile != null) {
        List<Member> members;
        try {
          members = ServersFile.read(serversFile, ServersFile.SYSTEM);
        } catch (IOException e) {
          throw new IllegalArgumentException("cannot read --servers-file " + serversFile + ": "
              + e);
        }
        Member self = findSelf(members,
            spec.commandLine().getParseResult().hasMatchedOption("--host"));
        bindHost = dottedQuad(self.address());
        selfAddress = self.address();
        // Wall-clock seconds: a restarted member starts above any incarnation it had before
        // (refutations add one per suspicion, far fewer than one per second).
        cluster = new ClusterConfig(ServersFile.addresses(members), selfAddress, virtualNodes,
            MembershipConfig.DEFAULT, System.currentTimeMillis() / 1000, secureRandom.nextLong());
      } else {
        selfAddress = Addresses.of(ipv4(host), port);
      }
      // Client admin and per-source limits; auto resolves against the address bound. The
      // source table's heap comes out of the store's budget.
      ClientLimits clientLimits = clientOptions.limits(bindHost);
      budget = budget.withSourceTableLength(clientLimits.tableLength());
      config = config.withClientLimits(clientLimits).withStoreLengthMax(budget.storeLengthMax())
          .validate();
    } catch (IllegalArgumentException e) {
      err.println("kvd: " + e.getMessage());
      err.flush();
      return EXIT_USAGE;
    }
    LogSetup.configure(logLevel, logJson);
    Logger log = LoggerFactory.getLogger(LogSetup.SERVER);
    log.info("kvd clients: {}", ClientOptions.describe(config.clientLimits()));
    // Alone, the node still knows its own address: a request spoofed from it is dropped
    // (reply_to_member) rather than answered to itself, where the reply would read as a request.
    Node node = new Node(config, cluster != null ? cluster : ClusterConfig.alone(selfAddress));
    node.setClusterKey(clusterKey);
    if (clusterKey == null) {
      log.warn("kvd runs open (no --cluster-key-file): internal messages are not"
          + " authenticated, so anyone who can reach its port can join its gossip, write"
          + " replicas and inject faults");
    } else {
      log.info("kvd tags and checks internal messages with the cluster key in {}"
          + " (fingerprint {})", clusterKeyFile, clusterKey.fingerprint());
    }
    FaultConfig nodeFaults = faults.withSeed(FaultOptions.streamSeed(faults.seed(), selfAddress));
    // Membership changes, repair cycles, operator faults and errors, a line each; requests are
    // never logged.
    node.setEvents(new LoggingNodeEvents(selfAddress, nodeFaults.seed()));
    NettyNode server;
    try {
      server = NettyNode.start(node, bindHost, port, nodeFaults);
    } catch (Exception e) {
      if (isBindFailure(e)) {
        log.error("kvd: cannot bind {}:{}: {} (is another kvd running there? choose another"
            + " --port)", bindHost, port, e.getMessage());
        return EXIT_BIND;
      }
      log.error("kvd: failed to start: {}", e.toString(), e);
      return EXIT_INTERNAL;
    }
    if (ioCpu != null) {
      try {
        server.pinEventLoop(ioCpu);
      } catch (RuntimeException e) {
        server.close();
        log.error("kvd: --io-cpu {}: {}", ioCpu, e.getMessage());
        return EXIT_USAGE;
      }
      log.info("kvd event loop pinned to CPU {}", ioCpu);
    }
    MetricsEndpoint metrics = null;
    if (metricsPort != null) {
      String host = metricsHost != null ? metricsHost : bindHost;
      try {
        metrics = MetricsEndpoint.start(host, metricsPort, server::status,
            Addresses.toString(selfAddress), Version.string());
      } catch (IOException | RuntimeException e) {
        server.close();
        if (isBindFailure(e)) {
          log.error("kvd: cannot bind the metrics endpoint {}:{}: {} (choose another"
              + " --metrics-port)", host, metricsPort, e.getMessage());
          return EXIT_BIND;
        }
        log.error("kvd: cannot start the metrics endpoint on {}:{}: {}", host, metricsPort,
            e.toString());
        return EXIT_USAGE;
      }
    }
    String role = cluster == null ? "alone"
        : String.format("member %d of a cluster of %d (%s, %d virtual nodes, incarnation %d)",
            node.ring().indexOf(selfAddress), node.ring().size(), serversFile, virtualNodes,
            cluster.incarnationInitial());
    if (log.isInfoEnabled()) {
      log.info(String.format("kvd %s listening on %s (%s), pid %d, %s; heap %.1f MiB: store %.1f"
              + " MiB, reply cache %.1f MiB (%d entries kept %d ms), reserve %.1f MiB; faults:"
              + " %s%s", Version.string(), server.localAddress(), Transports.name(), config.pid(),
          role, MemoryBudget.mib(budget.heapMax()), MemoryBudget.mib(config.storeLengthMax()),
          MemoryBudget.mib(node.replyCache().length()), node.replyCache().capacity(),
          config.replyRetentionMs(), MemoryBudget.mib(budget.reserveLength()),
          faults.describe(), metrics == null ? "" : "; metrics at http://"
              + (metricsHost != null ? metricsHost : bindHost) + ":" + metrics.port()
              + "/metrics"));
    }
    try {
      server.awaitClose();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      if (metrics != null) {
        metrics.close();
      }
    }
    return EXIT_OK;
  }

  /**
   * This node's entry: the one at --host and --port when --host was given, else the one entry
   * with --port whose address is local to this machine.
   */
  private Member findSelf(List<Member> members, boolean hostGiven) {
    if (hostGiven) {
      long self = Addresses.of(ipv4(host), port);
      for (Member m : members) {
        if (m.address() == self) {
          return m;
        }
      }
      throw new IllegalArgumentException(String.format("%s (--host %s --port %d) is not one of"
              + " the %d members in %s: %s", Addresses.toString(self), host, port,
          members.size(), serversFile, sample(members)));
    }
    List<Member> local = new ArrayList<>();
    for (Member m : members) {
      if (m.port() == port && isLocal(m.address())) {
        local.add(m);
      }
    }
    if (local.size() == 1) {
      return local.get(0);
    }
    if (local.isEmpty()) {
      throw new IllegalArgumentException(String.format("no member of %s has port %d and an"
              + " address of this machine; its %d members: %s (give --host and --port of this"
              + " node's line)", serversFile, port, members.size(), sample(members)));
    }
    throw new IllegalArgumentException(String.format("several members of %s have port %d and an"
        + " address of this machine (%s); give --host", serversFile, port, sample(local)));
  }

  private static String sample(List<Member> members) {
    int shown = Math.min(5, members.size());
    return members.subList(0, shown).stream().map(Member::toString)
        .collect(Collectors.joining(", ")) + (shown < members.size() ? ", ..." : "");
  }

  private static boolean isLocal(long address) {
    try {
      InetAddress a = InetAddress.getByAddress(Addresses.ipv4Bytes(address));
      return a.isLoopbackAddress() || NetworkInterface.getByInetAddress(a) != null;
    } catch (UnknownHostException | SocketException e) {
      return false;
    }
  }

  private static byte[] ipv4(String host) {
    try {
      InetAddress address = InetAddress.getByName(host);
      if (!(address instanceof Inet4Address)) {
        throw new IllegalArgumentException("kvd speaks IPv4 only; " + host + " is " + address);
      }
      return address.getAddress();
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException("cannot resolve --host " + host + ": " + e.getMessage());
    }
  }

  private static String dottedQuad(long address) {
    String text = Addresses.toString(address);
    return text.substring(0, text.lastIndexOf(':'));
  }

  private static boolean isBindFailure(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof BindException
          || (t.getMessage() != null && t.getMessage().contains("Address already in use"))) {
        return true;
      }
    }
    return false;
  }

  public static void main(String[] args) {
    CommandLine commandLine = new CommandLine(new KvdMain())
        .setCaseInsensitiveEnumValuesAllowed(true);
    int code = commandLine.execute(args);
    if (code != EXIT_OK) {
      System.exit(code);
    }
  }

  /** Reads the version Maven wrote into kvd-version.properties. */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      return new String[] {"kvd " + string()};
    }

    static String string() {
      try (InputStream in = KvdMain.class.getResourceAsStream("/kvd-version.properties")) {
        Properties properties = new Properties();
        if (in != null) {
          properties.load(in);
        }
        return properties.getProperty("version", "unknown");
      } catch (IOException e) {
        return "unknown";
      }
    }
  }
}
