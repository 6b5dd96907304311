package io.kvd.ctl.command;

import com.fasterxml.jackson.databind.SerializationFeature;
import io.kvd.client.KvAuthException;
import io.kvd.ctl.Exit;
import io.kvd.ctl.KvctlException;
import io.kvd.ctl.KvctlMain;
import io.kvd.ctl.util.Table;
import io.kvd.proto.PeerProtocol.AdminReply;
import io.kvd.proto.PeerProtocol.AdminRequest;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.LocalTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.jline.terminal.Attributes;
import org.jline.terminal.Terminal;
import org.jline.terminal.TerminalBuilder;
import org.jline.utils.InfoCmp.Capability;
import org.jline.utils.NonBlockingReader;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * A live dashboard: cluster throughput and errors per second, and a row per node, refreshed every
 * second until q or Ctrl-C on a terminal (or for --iterations refreshes). Piped, each refresh is
 * printed below the previous one (JSON: one document per line).
 */
@Command(name = "top", description = {"A live dashboard of the cluster, refreshed every second:"
    + " throughput, errors and a row per node, until q or Ctrl-C.",
    "Piped or with --iterations, prints that many refreshes (default when piped: 1)."})
public final class TopCommand extends KvctlCommand {
  @Option(names = "--interval-ms", paramLabel = "MS",
      description = "Time between refreshes (default: ${DEFAULT-VALUE}).")
  long intervalMs = 1_000;

  @Option(names = "--iterations", paramLabel = "N",
      description = "Stop after N refreshes (default: until q on a terminal, 1 when piped).")
  Integer iterations;

  /** A node that does not answer within this is shown unreachable for the refresh. */
  private static final long STATUS_TIMEOUT_MS = 500;

  @Override
  public Integer call() throws IOException {
    if (intervalMs < 100) {
      throw new KvctlException(Exit.USAGE, "--interval-ms must be >= 100");
    }
    List<InetSocketAddress> nodes = nodes();
    boolean live = session().terminal() && format() == KvctlMain.Format.TABLE;
    int rounds = iterations != null ? iterations : live ? Integer.MAX_VALUE : 1;
    Terminal shell = session().shellTerminal();
    Terminal terminal = !live ? null : shell != null ? shell
        : TerminalBuilder.builder().system(true).build();
    Attributes saved = terminal != null ? terminal.enterRawMode() : null;
    try {
      for (int round = 0; round < rounds; round++) {
        long startNanos = System.nanoTime();
        List<AdminReply> replies = poll(nodes);
        show(nodes, replies, terminal);
        if (round == rounds - 1) {
          break;
        }
        long waitMs = intervalMs - TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos);
        if (!pause(terminal, Math.max(1, waitMs))) {
          break;
        }
      }
    } finally {
      if (terminal != null) {
        terminal.setAttributes(saved);
        terminal.writer().println();
        terminal.flush();
        if (terminal != shell) {
          terminal.close();
        }
      }
    }
    return Exit.OK;
  }

  /** Waits {@code waitMs}; false when the user pressed q or Ctrl-C (or the thread was interrupted). */
  private static boolean pause(Terminal terminal, long waitMs) throws IOException {
    if (terminal == null) {
      try {
        Thread.sleep(waitMs);
        return true;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return false;
      }
    }
    NonBlockingReader reader = terminal.reader();
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(waitMs);
    while (true) {
      long leftMs = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
      if (leftMs <= 0) {
        return true;
      }
      int c = reader.read(leftMs);
      if (c == 'q' || c == 'Q' || c == 3 || c == NonBlockingReader.EOF
          || Thread.currentThread().isInterrupted()) {
        return false;
      }
    }
  }

  private List<AdminReply> poll(List<InetSocketAddress> nodes) {
    AdminRequest request = AdminRequest.newBuilder().setKind(AdminRequest.Kind.STATUS).build();
    List<CompletableFuture<AdminReply>> futures = new ArrayList<>();
    for (InetSocketAddress node : nodes) {
      futures.add(client().admin(node, request,
          root().retryPolicy().withTimeoutMsInitial(STATUS_TIMEOUT_MS / 2).withRetriesMax(1)));
    }
    List<AdminReply> replies = new ArrayList<>();
    for (CompletableFuture<AdminReply> future : futures) {
      try {
        replies.add(future.get(STATUS_TIMEOUT_MS * 4, TimeUnit.MILLISECONDS));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new KvctlException(Exit.LOCAL_ERROR, "cancelled");
      } catch (ExecutionException e) {
        if (e.getCause() instanceof KvAuthException) {
          // Not a node that is down: kvctl and the cluster do not share a key. Say so.
          throw authFailure(List.of(KvctlMain.name(nodes.get(replies.size()))), e.getCause());
        }
        replies.add(null);
      } catch (TimeoutException e) {
        replies.add(null);
      }
    }
    return replies;
  }

  private void show(List<InetSocketAddress> nodes, List<AdminReply> replies, Terminal terminal) {
    long ops = 0;
    long errors = 0;
    int answering = 0;
    for (AdminReply r : replies) {
      if (r != null) {
        answering++;
        ops += Views.sumLastSecond(r);
        errors += Views.errorsLastSecond(r);
      }
    }
    String now = LocalTime.now().format(DateTimeFormatter.ofPattern("HH:mm:ss"));
    if (format() == KvctlMain.Format.JSON) {
      Map<String, Object> json = new LinkedHashMap<>();
      json.put("time", now);
      json.put("nodes", nodes.size());
      json.put("answering", answering);
      json.put("opsPerSec", ops);
      json.put("errorsPerSec", errors);
      List<Map<String, Object>> rows = new ArrayList<>();
      for (int i = 0; i < nodes.size(); i++) {
        rows.add(Views.statusJson(nodes.get(i), replies.get(i)));
      }
      json.put("perNode", rows);
      try {
        session().out().println(session().json().writer()
            .without(SerializationFeature.INDENT_OUTPUT).writeValueAsString(json));
      } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
        throw new IllegalStateException(e);
      }
      session().out().flush();
      return;
    }
    Table table = StatsCommand.table(nodes, replies);
    String header = String.format("kvctl top  %s  %d node%s, %d answering  %d ops/s  %d"
        + " errors/s%s%n%n", now, nodes.size(), nodes.size() == 1 ? "" : "s", answering, ops,
        errors,
        terminal != null ? "  (q quits)" : "");
    if (terminal != null) {
      terminal.puts(Capability.clear_screen);
      terminal.writer().print((header + table.render()).replace("\n", "\r\n"));
      terminal.flush();
    } else if (format() == KvctlMain.Format.PLAIN) {
      session().out().print(now + "\t" + ops + "\t" + errors + "\n" + table.plain());
      session().out().flush();
    } else {
      session().out().print(header + table.render() + "\n");
      session().out().flush();
    }
  }
}
