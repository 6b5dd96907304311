package io.kvd.server;

import io.kvd.client.Transports;
import io.kvd.core.Node;
import io.kvd.core.NodeConfig;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.net.BindException;
import java.security.SecureRandom;
import java.util.Properties;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** The kvd executable: one node of the store, serving the client protocol over UDP. */
@Command(
    name = "kvd",
    mixinStandardHelpOptions = true,
    versionProvider = KvdMain.Version.class,
    sortOptions = false,
    description = {
        "Runs one kvd node: a key-value store speaking the CPEN 431 protocol (Protobuf over UDP).",
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

  @Option(names = "--host", defaultValue = "127.0.0.1", paramLabel = "ADDRESS",
      description = "IPv4 address to bind (default: ${DEFAULT-VALUE}).")
  String host;

  @Option(names = "--port", defaultValue = "" + PORT_DEFAULT, paramLabel = "PORT",
      description = "UDP port to bind (default: ${DEFAULT-VALUE}).")
  int port;

  @Option(names = "--reply-retention-ms", defaultValue = "" + NodeConfig.REPLY_RETENTION_MS_DEFAULT,
      paramLabel = "MS", description = "How long replies to PUT, REMOVE and WIPEOUT are kept for"
          + " retries (default: ${DEFAULT-VALUE}).")
  long replyRetentionMs;

  @Option(names = "--reply-cache-mib", defaultValue = "6", paramLabel = "MIB",
      description = "Heap reserved for the reply cache, about 40 bytes per entry; when it is full"
          + " the node answers OVERLOAD (default: ${DEFAULT-VALUE}).")
  long replyCacheMib;

  @Option(names = "--heap-reserve-mib", defaultValue = "-1", paramLabel = "MIB",
      description = "Heap kept free of stored data for the JVM and the collector (default:"
          + " max(12, heap/8)).")
  long heapReserveMib;

  @Override
  public Integer call() {
    PrintWriter err = spec.commandLine().getErr();
    MemoryBudget budget;
    NodeConfig config;
    try {
      budget = MemoryBudget.of(Runtime.getRuntime().maxMemory(),
          heapReserveMib < 0 ? -1 : heapReserveMib * MemoryBudget.MIB,
          replyCacheMib * MemoryBudget.MIB);
      config = NodeConfig.defaults(ProcessHandle.current().pid(), budget.storeLengthMax(),
              new SecureRandom().nextLong())
          .withReplyRetentionMs(replyRetentionMs)
          .withReplyCacheLengthMax(budget.replyCacheLength())
          .validate();
      if (port < 1 || port > 65_535) {
        throw new IllegalArgumentException("--port must be in 1..65535");
      }
    } catch (IllegalArgumentException e) {
      err.println("kvd: " + e.getMessage());
      err.flush();
      return EXIT_USAGE;
    }
    Node node = new Node(config);
    NettyNode server;
    try {
      server = NettyNode.start(node, host, port);
    } catch (Exception e) {
      if (isBindFailure(e)) {
        err.printf("kvd: cannot bind %s:%d: %s (is another kvd running there? choose another"
            + " --port)%n", host, port, e.getMessage());
        err.flush();
        return EXIT_BIND;
      }
      err.println("kvd: failed to start: " + e);
      err.flush();
      return EXIT_INTERNAL;
    }
    err.printf("kvd %s listening on %s (%s), pid %d; heap %.1f MiB: store %.1f MiB, reply cache"
            + " %.1f MiB (%d entries kept %d ms), reserve %.1f MiB%n",
        Version.string(), server.localAddress(), Transports.name(), config.pid(),
        MemoryBudget.mib(budget.heapMax()), MemoryBudget.mib(config.storeLengthMax()),
        MemoryBudget.mib(node.replyCache().length()), node.replyCache().capacity(),
        config.replyRetentionMs(), MemoryBudget.mib(budget.reserveLength()));
    err.flush();
    try {
      server.awaitClose();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return EXIT_OK;
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
    CommandLine commandLine = new CommandLine(new KvdMain());
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
