package io.kvd.ctl.command;

import io.kvd.ctl.Exit;
import io.kvd.ctl.KvctlException;
import io.kvd.ctl.KvctlMain;
import io.kvd.ctl.Session;
import io.kvd.ctl.completion.NodeCandidates;
import io.kvd.ctl.util.Table;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** WIPEOUT of one node or all. */
@Command(name = "wipeout", description = {"Delete every key held by a node, or by every node"
    + " with --all (WIPEOUT). The shell asks for confirmation unless --yes is given."})
public final class WipeoutCommand extends KvctlCommand {
  @Parameters(paramLabel = "HOST:PORT", arity = "0..1",
      completionCandidates = NodeCandidates.class, description = "The node to wipe.")
  String node;

  @Option(names = "--all", description = "Wipe every node of the cluster.")
  boolean all;

  @Option(names = {"-y", "--yes"}, description = "Do not ask for confirmation in the shell.")
  boolean yes;

  @Override
  public Integer call() {
    if ((node == null) == !all) {
      throw new KvctlException(Exit.USAGE, "give one node, or --all");
    }
    List<InetSocketAddress> targets = all ? nodes() : List.of(KvctlMain.parseNode(node));
    Session.Confirmer confirmer = session().confirmer();
    if (!yes && confirmer != null && !confirmer.confirm("Delete every key on "
        + (all ? "all " + targets.size() + " nodes" : KvctlMain.name(targets.get(0)))
        + "? [y/N] ")) {
      throw new KvctlException(Exit.USAGE, "wipeout not confirmed; nothing deleted");
    }
    Table table = new Table("NODE", "RESULT");
    List<Map<String, Object>> json = new ArrayList<>();
    for (InetSocketAddress target : targets) {
      String name = KvctlMain.name(target);
      await(client().operatorWipeout(target), "wipeout " + name);
      table.row(name, "wiped");
      Map<String, Object> row = new LinkedHashMap<>();
      row.put("node", name);
      row.put("wiped", true);
      json.add(row);
    }
    emit(json, () -> table, () -> "");
    return Exit.OK;
  }
}
