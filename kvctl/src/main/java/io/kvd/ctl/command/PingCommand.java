package io.kvd.ctl.command;

import io.kvd.client.KvTimeoutException;
import io.kvd.ctl.Exit;
import io.kvd.ctl.KvctlException;
import io.kvd.ctl.KvctlMain;
import io.kvd.ctl.completion.NodeCandidates;
import io.kvd.ctl.util.Table;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** IS_ALIVE with the round-trip time. */
@Command(name = "ping", aliases = "is-alive",
    description = {"Ask nodes whether they are alive (IS_ALIVE) and show the round-trip time.",
        "Exit 3 when one of them does not answer."})
public final class PingCommand extends KvctlCommand {
  @Parameters(paramLabel = "HOST:PORT", arity = "0..*",
      completionCandidates = NodeCandidates.class,
      description = "The nodes (default: every node of the cluster).")
  List<String> named;

  @Override
  public Integer call() {
    List<InetSocketAddress> nodes = NodeArgs.orAll(named, this);
    List<CompletableFuture<Long>> rtts = new ArrayList<>();
    for (InetSocketAddress node : nodes) {
      long startNanos = System.nanoTime();
      rtts.add(client().isAlive(node).thenApply(ignored -> System.nanoTime() - startNanos));
    }
    Table table = new Table("NODE", "ALIVE", "RTT");
    List<Map<String, Object>> json = new ArrayList<>();
    int down = 0;
    for (int i = 0; i < nodes.size(); i++) {
      Long rttNanos;
      try {
        rttNanos = rtts.get(i).get();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new KvctlException(Exit.LOCAL_ERROR, "cancelled");
      } catch (ExecutionException e) {
        if (!(e.getCause() instanceof KvTimeoutException)) {
          throw failure(e.getCause(), KvctlMain.name(nodes.get(i)));
        }
        rttNanos = null;
        down++;
      }
      String name = KvctlMain.name(nodes.get(i));
      table.row(name, rttNanos != null ? "yes" : "no",
          rttNanos != null ? String.format(Locale.ROOT, "%.2f ms", rttNanos / 1e6) : "-");
      Map<String, Object> row = new LinkedHashMap<>();
      row.put("node", name);
      row.put("alive", rttNanos != null);
      row.put("rttUs", rttNanos != null ? rttNanos / 1000 : null);
      json.add(row);
    }
    emit(json, () -> table, null);
    if (down > 0) {
      throw new KvctlException(Exit.UNREACHABLE, down + " of " + nodes.size()
          + " nodes did not answer");
    }
    return Exit.OK;
  }
}
