package io.kvd.ctl.command;

import io.kvd.ctl.Exit;
import io.kvd.ctl.KvctlMain;
import io.kvd.ctl.completion.NodeCandidates;
import io.kvd.ctl.util.Table;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** GET_PID. */
@Command(name = "pid", description = "Show the process id of nodes (GET_PID).")
public final class PidCommand extends KvctlCommand {
  @Parameters(paramLabel = "HOST:PORT", arity = "0..*",
      completionCandidates = NodeCandidates.class,
      description = "The nodes (default: every node of the cluster).")
  List<String> named;

  @Override
  public Integer call() {
    List<InetSocketAddress> nodes = NodeArgs.orAll(named, this);
    List<CompletableFuture<Integer>> pids = new ArrayList<>();
    for (InetSocketAddress node : nodes) {
      pids.add(client().pid(node));
    }
    Table table = new Table("NODE", "PID");
    List<Map<String, Object>> json = new ArrayList<>();
    for (int i = 0; i < nodes.size(); i++) {
      String name = KvctlMain.name(nodes.get(i));
      int pid = await(pids.get(i), name);
      table.row(name, pid);
      Map<String, Object> row = new LinkedHashMap<>();
      row.put("node", name);
      row.put("pid", pid);
      json.add(row);
    }
    emit(json, () -> table, nodes.size() == 1 && named != null && !named.isEmpty()
        ? () -> table.plain().split("\t")[1] : null);
    return Exit.OK;
  }
}
