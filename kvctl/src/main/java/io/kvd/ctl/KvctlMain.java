package io.kvd.ctl;

import io.kvd.client.ClusterKeyFile;
import io.kvd.client.KvAuthException;
import io.kvd.client.KvClient;
import io.kvd.client.KvErrorException;
import io.kvd.client.KvTimeoutException;
import io.kvd.client.RetryPolicy;
import io.kvd.client.ServersFile;
import io.kvd.client.ServersFile.Member;
import io.kvd.core.Addresses;
import io.kvd.core.ErrorCode;
import io.kvd.core.auth.ClusterKey;
import io.kvd.ctl.command.FaultCommand;
import io.kvd.ctl.command.GetCommand;
import io.kvd.ctl.command.LocateCommand;
import io.kvd.ctl.command.MembersCommand;
import io.kvd.ctl.command.PidCommand;
import io.kvd.ctl.command.PingCommand;
import io.kvd.ctl.command.PutCommand;
import io.kvd.ctl.command.RemoveCommand;
import io.kvd.ctl.command.ResumeCommand;
import io.kvd.ctl.command.RingCommand;
import io.kvd.ctl.command.ShutdownCommand;
import io.kvd.ctl.command.StatsCommand;
import io.kvd.ctl.command.SuspendCommand;
import io.kvd.ctl.command.TopCommand;
import io.kvd.ctl.command.WipeoutCommand;
import io.kvd.ctl.completion.NodeCandidates;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.HelpCommand;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

/**
 * kvctl, the operator console of a kvd cluster: one picocli command tree, run one-shot ({@code
 * kvctl get KEY}), as a script (commands on stdin or in {@code -f FILE}, one per line), or as an
 * interactive JLine shell when started on a terminal with no command. The options below are
 * global: they may come before or after the command.
 */
@Command(name = "kvctl", mixinStandardHelpOptions = true, scope = ScopeType.INHERIT,
    versionProvider = KvctlMain.Version.class,
    description = {"The operator console of a kvd cluster: data commands, inspection (members,"
        + " ring, stats, top), failure injection (fault, suspend, resume).",
        "",
        "With no command: runs the commands on stdin (or in --file), one per line, or starts an"
            + " interactive shell when stdin is a terminal."},
    subcommands = {GetCommand.class, PutCommand.class, RemoveCommand.class,
        WipeoutCommand.class, ShutdownCommand.class, PingCommand.class, PidCommand.class,
        MembersCommand.class, RingCommand.class, LocateCommand.class, StatsCommand.class,
        TopCommand.class, FaultCommand.class, SuspendCommand.class, ResumeCommand.class,
        HelpCommand.class},
    exitCodeListHeading = "%nExit codes (the same in every mode):%n",
    exitCodeList = {
        "0:done",
        "1:the key does not exist (get, remove)",
        "2:usage error: unknown command or option, bad value, no nodes given",
        "3:unreachable: no reply in time after the retries",
        "4:server error: a node answered with an error code or refused",
        "5:local error: a file kvctl could not read (or a cluster key file it refuses), a"
            + " process it could not signal",
        "6:no answer to admin requests from nodes that answer client requests: wrong or missing"
            + " cluster key (--cluster-key-file), or clocks more than 30 s apart"},
    footerHeading = "%nEnvironment:%n",
    footer = {"  KVCTL_SERVERS         the nodes when neither --node nor --servers-file is",
        "                        given: HOST:PORT entries separated by commas or spaces",
        "  KVD_CLUSTER_KEY_FILE  the cluster key file, when --cluster-key-file is not",
        "                        given (see below)",
        "",
        "Cluster key: --cluster-key-file, else KVD_CLUSTER_KEY_FILE, else cluster.key beside"
            + " --servers-file when it exists (where kvd cluster writes it), else none. Admin"
            + " commands (members, ring, locate, stats, top, fault) need the cluster's key when"
            + " its nodes have one; data commands, ping and pid never do. With a key, shutdown and"
            + " wipeout go over the authenticated admin path (as they must to a node run with"
            + " --client-admin off); without one, over the client protocol, then the admin path"
            + " if the node refuses them from clients."})
public final class KvctlMain implements Callable<Integer> {
  /** The first attempt's timeout by default, in ms; each retry doubles it. */
  public static final long TIMEOUT_MS_DEFAULT = 200;
  public static final int RETRIES_DEFAULT = 3;

  /** How results are printed. */
  public enum Format { TABLE, PLAIN, JSON }

  @Option(names = {"-n", "--node"}, paramLabel = "HOST:PORT", scope = ScopeType.INHERIT,
      completionCandidates = NodeCandidates.class,
      description = "A node of the cluster (repeatable). Key commands go to a random one.")
  List<String> nodeOptions = new ArrayList<>();

  @Option(names = "--servers-file", paramLabel = "FILE", scope = ScopeType.INHERIT,
      description = "The cluster's servers file (one HOST:PORT per line), instead of --node.")
  Path serversFile;

  @Option(names = "--cluster-key-file", paramLabel = "FILE", scope = ScopeType.INHERIT,
      description = "The cluster key for admin requests (stamped and tagged with it; replies"
          + " are checked). Default: KVD_CLUSTER_KEY_FILE, else cluster.key beside"
          + " --servers-file if there is one. The file must be readable by its owner only.")
  Path clusterKeyFile;

  @Option(names = "--timeout-ms", paramLabel = "MS", scope = ScopeType.INHERIT,
      description = "Timeout of a request's first attempt; each retry doubles it (default: "
          + TIMEOUT_MS_DEFAULT + ").")
  long timeoutMs = TIMEOUT_MS_DEFAULT;

  @Option(names = "--retries", paramLabel = "N", scope = ScopeType.INHERIT,
      description = "Resends of a request before the node counts as unreachable (default: "
          + RETRIES_DEFAULT + ").")
  int retries = RETRIES_DEFAULT;

  @Option(names = {"-o", "--output"}, paramLabel = "FORMAT", scope = ScopeType.INHERIT,
      description = "table (the default on a terminal), plain (the default when piped: bare"
          + " values, tab-separated rows) or json.")
  Format format;

  @Option(names = {"-f", "--file"}, paramLabel = "FILE",
      description = "Run the commands in FILE, one per line ('#' starts a comment).")
  Path scriptFile;

  @Option(names = "--keep-going",
      description = "In a script, go on after a failed line (the exit code is the first"
          + " failure's).")
  boolean keepGoing;

  @Option(names = "--history-file", paramLabel = "FILE",
      description = "The shell's history (default: ~/.kvctl_history; /dev/null keeps none).")
  Path historyFile;

  private final Session session;
  /** Where the command came from in a script ("FILE:LINE"), for error messages; else null. */
  String location;

  public KvctlMain(Session session) {
    this.session = session;
  }

  public Session session() {
    return session;
  }

  /** The command line for one command of this session, with kvctl's exit-code handling. */
  public static CommandLine commandLine(KvctlMain root) {
    CommandLine cl = new CommandLine(root);
    cl.setCaseInsensitiveEnumValuesAllowed(true);
    cl.setOut(new PrintWriter(root.session.out, true));
    cl.setErr(new PrintWriter(root.session.err, true));
    cl.setExecutionExceptionHandler((e, line, parseResult) -> {
      int code = exitCodeOf(e);
      root.session.err.println("kvctl: " + (root.location != null ? root.location + ": " : "")
          + messageOf(e));
      root.session.err.flush();
      return code;
    });
    return cl;
  }

  /** Runs kvctl with {@code args} in {@code session}; returns the exit code. */
  public static int run(Session session, String... args) {
    KvctlMain root = new KvctlMain(session);
    int code = commandLine(root).execute(args);
    session.out.flush();
    session.err.flush();
    return code;
  }

  public static void main(String[] args) {
    int code;
    try (Session session = Session.system()) {
      code = run(session, args);
    }
    System.exit(code);
  }

  /** No command given: a script (from --file or a non-terminal stdin), else the shell. */
  @Override
  public Integer call() throws IOException {
    if (scriptFile != null) {
      return new ScriptRunner(this).runFile(scriptFile);
    }
    if (!session.terminal) {
      return new ScriptRunner(this).run(session.in, "stdin");
    }
    return new Shell(this).run();
  }

  /** Copies the global options of {@code other} (the shell's own) as this one's defaults. */
  void inheritGlobals(KvctlMain other) {
    nodeOptions = new ArrayList<>(other.nodeOptions);
    serversFile = other.serversFile;
    clusterKeyFile = other.clusterKeyFile;
    timeoutMs = other.timeoutMs;
    retries = other.retries;
    format = other.format;
    keepGoing = other.keepGoing;
  }

  public boolean keepGoing() {
    return keepGoing;
  }

  Path historyFile() {
    return historyFile;
  }

  /** The output format: as given, else a table on a terminal and plain when piped. */
  public Format format() {
    if (format != null) {
      return format;
    }
    return session.terminal ? Format.TABLE : Format.PLAIN;
  }

  public RetryPolicy retryPolicy() {
    if (timeoutMs < 1 || retries < 0) {
      throw new KvctlException(Exit.USAGE, "--timeout-ms must be >= 1 and --retries >= 0");
    }
    return RetryPolicy.DEFAULT.withTimeoutMsInitial(timeoutMs).withRetriesMax(retries);
  }

  public KvClient client() {
    return session.client(retryPolicy(), clusterKey());
  }

  /** The environment variable that names the cluster key file. */
  public static final String KEY_FILE_VARIABLE = "KVD_CLUSTER_KEY_FILE";

  private boolean keyResolved;
  private ClusterKey clusterKey;
  private String keySource = "no cluster key";

  /**
   * The cluster key: from --cluster-key-file, else KVD_CLUSTER_KEY_FILE, else cluster.key beside
   * --servers-file when that exists; null when none. A key file kvd would refuse (unreadable, not
   * a key, or readable by others) is a local error.
   */
  public ClusterKey clusterKey() {
    if (keyResolved) {
      return clusterKey;
    }
    Path file = null;
    String source = null;
    String variable = session.env.get(KEY_FILE_VARIABLE);
    if (clusterKeyFile != null) {
      file = clusterKeyFile;
      source = "--cluster-key-file";
    } else if (variable != null && !variable.isBlank()) {
      file = Paths.get(variable.strip());
      source = KEY_FILE_VARIABLE;
    } else if (serversFile != null) {
      Path beside = serversFile.toAbsolutePath().resolveSibling(ClusterKeyFile.NAME);
      if (Files.exists(beside)) {
        file = beside;
        source = "the cluster key beside --servers-file";
      }
    }
    if (file != null) {
      try {
        clusterKey = ClusterKeyFile.read(file);
      } catch (ClusterKeyFile.Invalid e) {
        throw new KvctlException(Exit.LOCAL_ERROR, source + ": " + e.getMessage());
      }
      keySource = "the key in " + file + " (fingerprint " + clusterKey.fingerprint() + ")";
    }
    keyResolved = true;
    return clusterKey;
  }

  /** Which key kvctl uses, for messages: "no cluster key" or "the key in FILE (...)". */
  public String keySource() {
    clusterKey();
    return keySource;
  }

  /** The nodes: --node, else --servers-file, else KVCTL_SERVERS; a usage error when none. */
  public List<InetSocketAddress> nodes() {
    List<Member> members;
    try {
      if (!nodeOptions.isEmpty()) {
        members = ServersFile.parse(String.join("\n", nodeOptions), "--node", ServersFile.SYSTEM);
      } else if (serversFile != null) {
        members = ServersFile.read(serversFile, ServersFile.SYSTEM);
      } else if (session.env.get("KVCTL_SERVERS") != null
          && !session.env.get("KVCTL_SERVERS").isBlank()) {
        members = ServersFile.parse(String.join("\n",
            session.env.get("KVCTL_SERVERS").trim().split("[,\\s]+")), "KVCTL_SERVERS",
            ServersFile.SYSTEM);
      } else {
        throw new KvctlException(Exit.USAGE, "no nodes: give --node HOST:PORT, --servers-file"
            + " FILE or KVCTL_SERVERS");
      }
    } catch (IOException e) {
      throw new KvctlException(Exit.LOCAL_ERROR, "cannot read " + serversFile + ": " + e);
    } catch (IllegalArgumentException e) {
      throw new KvctlException(Exit.USAGE, e.getMessage());
    }
    if (members.isEmpty()) {
      throw new KvctlException(Exit.USAGE, "no nodes listed");
    }
    List<InetSocketAddress> nodes = new ArrayList<>();
    List<String> names = new ArrayList<>();
    for (Member m : members) {
      nodes.add(m.socketAddress());
      names.add(Addresses.toString(m.address()));
    }
    session.sawNodes(names);
    return nodes;
  }

  /** Parses one HOST:PORT argument (a node named by a command). */
  public static InetSocketAddress parseNode(String text) {
    try {
      List<Member> members = ServersFile.parse(text, "node", ServersFile.SYSTEM);
      if (members.size() != 1) {
        throw new KvctlException(Exit.USAGE, "expected one HOST:PORT, got '" + text + "'");
      }
      return members.get(0).socketAddress();
    } catch (IllegalArgumentException e) {
      throw new KvctlException(Exit.USAGE, e.getMessage().replaceFirst("^node:1: ", ""));
    }
  }

  public static InetSocketAddress socketAddress(long address) {
    try {
      return new InetSocketAddress(InetAddress.getByAddress(Addresses.ipv4Bytes(address)),
          Addresses.port(address));
    } catch (UnknownHostException e) {
      throw new IllegalStateException("four bytes are an IPv4 address", e);
    }
  }

  public static String name(InetSocketAddress node) {
    return node.getAddress().getHostAddress() + ":" + node.getPort();
  }

  static int exitCodeOf(Throwable e) {
    Throwable cause = unwrap(e);
    if (cause instanceof KvctlException k) {
      return k.exitCode();
    }
    if (cause instanceof KvTimeoutException) {
      return Exit.UNREACHABLE;
    }
    if (cause instanceof KvAuthException) {
      return Exit.AUTH;
    }
    if (cause instanceof KvErrorException k) {
      return k.errCode() == ErrorCode.NOT_FOUND ? Exit.NOT_FOUND : Exit.SERVER_ERROR;
    }
    return Exit.LOCAL_ERROR;
  }

  static String messageOf(Throwable e) {
    Throwable cause = unwrap(e);
    String message = cause.getMessage();
    return message != null ? message : cause.toString();
  }

  private static Throwable unwrap(Throwable e) {
    Throwable t = e;
    while ((t instanceof CompletionException || t instanceof ExecutionException)
        && t.getCause() != null) {
      t = t.getCause();
    }
    return t;
  }

  /** The version from the jar's manifest, else "development". */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String version = KvctlMain.class.getPackage().getImplementationVersion();
      return new String[] {"kvctl " + (version != null ? version : "development")};
    }
  }
}
