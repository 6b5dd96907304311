package io.kvd.ctl.command;

import io.kvd.ctl.Exit;
import io.kvd.ctl.KvctlException;
import io.kvd.ctl.KvctlMain;
import io.kvd.ctl.completion.NodeCandidates;
import io.kvd.ctl.util.Table;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * SHUTDOWN, over the admin path with a cluster key (retried: a node either exits or answers) or
 * the client protocol without one (sent once: a node that executed it cannot answer a retry;
 * then the admin path if the node refuses it from clients); when no acknowledgement arrives, an
 * IS_ALIVE tells whether the node is gone.
 */
@Command(name = "shutdown", description = {"Stop nodes at once (SHUTDOWN), as a crash would.",
    "Exit 3 when a node is still alive afterwards."})
public final class ShutdownCommand extends KvctlCommand {
  @Parameters(paramLabel = "HOST:PORT", arity = "1..*",
      completionCandidates = NodeCandidates.class, description = "The nodes to stop.")
  List<String> named;

  @Override
  public Integer call() {
    Table table = new Table("NODE", "RESULT");
    List<Map<String, Object>> json = new ArrayList<>();
    List<String> alive = new ArrayList<>();
    for (String text : named) {
      InetSocketAddress node = KvctlMain.parseNode(text);
      String name = KvctlMain.name(node);
      boolean acked = await(client().operatorShutdown(node), name);
      String result = "stopped";
      if (!acked) {
        boolean stillAlive = client().isAlive(node).handle((ok, error) -> error == null).join();
        result = stillAlive ? "still alive" : "stopped (no acknowledgement)";
        if (stillAlive) {
          alive.add(name);
        }
      }
      table.row(name, result);
      Map<String, Object> row = new LinkedHashMap<>();
      row.put("node", name);
      row.put("acknowledged", acked);
      row.put("stopped", !alive.contains(name));
      json.add(row);
    }
    emit(json, () -> table, null);
    if (!alive.isEmpty()) {
      throw new KvctlException(Exit.UNREACHABLE, "did not stop: " + String.join(", ", alive));
    }
    return Exit.OK;
  }
}
