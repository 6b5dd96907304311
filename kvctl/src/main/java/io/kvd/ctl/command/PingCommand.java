package io.kvd.ctl.command;

import io.kvd.client.KvTimeoutException;
import io.kvd.ctl.Exit;
import io.kvd.ctl.KvctlException;
import io.kvd.ctl.KvctlMain;
import io.kvd.ctl.completion.NodeCandidates;
import io.kvd.ctl.util.Table;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** IS_ALIVE with the round-trip time. */
@Command(name = "ping", aliases = "is-alive",
    description = {"Ask nodes whether they are alive (IS_ALIVE) and show the round-trip time.",
        "Exit 3 when one of them answers none of the rounds."})
public final class PingCommand extends KvctlCommand {
  @Parameters(paramLabel = "HOST:PORT", arity = "0..*",
      completionCandidates = NodeCandidates.class,
      description = "The nodes (default: every node of the cluster).")
  List<String> named;

  @Option(names = {"-c", "--count"}, paramLabel = "N",
      description = "Rounds of IS_ALIVE; the table shows the fastest and the mean round trip"
          + " (default: ${DEFAULT-VALUE}; the first round also warms kvctl up).")
  int count = 3;

  @Override
  public Integer call() {
    if (count < 1 || count > 1_000) {
      throw new KvctlException(Exit.USAGE, "--count must be 1 to 1000");
    }
    List<InetSocketAddress> nodes = NodeArgs.orAll(named, this);
    long[] minNanos = new long[nodes.size()];
    long[] sumNanos = new long[nodes.size()];
    int[] answered = new int[nodes.size()];
    Arrays.fill(minNanos, Long.MAX_VALUE);
    for (int round = 0; round < count; round++) {
      List<CompletableFuture<Long>> rtts = new ArrayList<>();
      for (InetSocketAddress node : nodes) {
        long startNanos = System.nanoTime();
        rtts.add(client().isAlive(node).thenApply(ignored -> System.nanoTime() - startNanos));
      }
      for (int i = 0; i < nodes.size(); i++) {
        try {
          long rtt = rtts.get(i).get();
          answered[i]++;
          sumNanos[i] += rtt;
          minNanos[i] = Math.min(minNanos[i], rtt);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new KvctlException(Exit.LOCAL_ERROR, "cancelled");
        } catch (ExecutionException e) {
          if (!(e.getCause() instanceof KvTimeoutException)) {
            throw failure(e.getCause(), KvctlMain.name(nodes.get(i)));
          }
        }
      }
    }
    Table table = new Table("NODE", "ALIVE", "RTT MIN", "RTT MEAN", "ANSWERED");
    List<Map<String, Object>> json = new ArrayList<>();
    int down = 0;
    for (int i = 0; i < nodes.size(); i++) {
      boolean alive = answered[i] > 0;
      down += alive ? 0 : 1;
      String name = KvctlMain.name(nodes.get(i));
      table.row(name, alive ? "yes" : "no", alive ? ms(minNanos[i]) : "-",
          alive ? ms(sumNanos[i] / answered[i]) : "-", answered[i] + "/" + count);
      Map<String, Object> row = new LinkedHashMap<>();
      row.put("node", name);
      row.put("alive", alive);
      row.put("rttUs", alive ? minNanos[i] / 1000 : null);
      row.put("rttUsMean", alive ? sumNanos[i] / answered[i] / 1000 : null);
      row.put("answered", answered[i]);
      row.put("sent", count);
      json.add(row);
    }
    emit(json, () -> table, null);
    if (down > 0) {
      throw new KvctlException(Exit.UNREACHABLE, down + " of " + nodes.size()
          + " nodes did not answer");
    }
    return Exit.OK;
  }

  private static String ms(long nanos) {
    return String.format(Locale.ROOT, "%.2f ms", nanos / 1e6);
  }
}
