package io.kvd.ctl.command;

import io.kvd.core.cluster.Ring;
import io.kvd.core.replication.ReplicationConfig;
import io.kvd.ctl.Exit;
import io.kvd.ctl.KvctlMain;
import io.kvd.ctl.completion.KeyCandidates;
import io.kvd.ctl.completion.NodeCandidates;
import io.kvd.ctl.util.Table;
import io.kvd.proto.PeerProtocol.AdminReply;
import io.kvd.proto.PeerProtocol.Update;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** Where a key lives: its primary and replicas in a node's current view. */
@Command(name = "locate", description = {"Show KEY's primary and replicas (4 members: the"
    + " primary and the next 3 live ones on the ring) and whether each is alive."})
public final class LocateCommand extends KvctlCommand {
  @Parameters(index = "0", paramLabel = "KEY", completionCandidates = KeyCandidates.class,
      description = "The key.")
  String key;

  @Option(names = "--from", paramLabel = "HOST:PORT", completionCandidates = NodeCandidates.class,
      description = "Whose view of the members to use (default: the first node that answers).")
  String from;

  @Mixin
  DataOptions data;

  @Override
  public Integer call() {
    byte[] k = data.decode(key, "KEY");
    session().sawKey(key);
    Views.NodeStatus view = from != null
        ? new Views.NodeStatus(KvctlMain.parseNode(from), status(KvctlMain.parseNode(from)))
        : Views.firstAnswering(this, nodes());
    AdminReply r = view.reply();
    Ring ring = Views.ring(r);
    boolean[] live = Views.live(r, ring);
    int liveCount = 0;
    for (boolean l : live) {
      liveCount += l ? 1 : 0;
    }
    long token = Ring.keyToken(k, 0, k.length);
    int[] replicas = new int[ReplicationConfig.DEFAULT.replicationFactor()];
    int n = ring.replicas(token, live, liveCount, replicas);
    Table table = new Table("ROLE", "NODE", "STATUS");
    List<Map<String, Object>> rows = new ArrayList<>();
    StringBuilder plain = new StringBuilder();
    for (int i = 0; i < n; i++) {
      long address = ring.member(replicas[i]);
      Update.Status status = r.getMembersList().stream()
          .filter(m -> m.getAddress() == address).findFirst().orElseThrow().getStatus();
      String role = i == 0 ? "primary" : "replica " + i;
      table.row(role, Views.name(address), status.name());
      plain.append(Views.name(address)).append('\n');
      Map<String, Object> row = new LinkedHashMap<>();
      row.put("role", i == 0 ? "primary" : "replica");
      row.put("node", Views.name(address));
      row.put("status", status.name());
      rows.add(row);
    }
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("key", key);
    json.put("token", Long.toUnsignedString(token, 16));
    json.put("viewOf", KvctlMain.name(view.node()));
    json.put("replicas", rows);
    if (format() == KvctlMain.Format.TABLE) {
      session().out().print("Key " + key + " (token " + Long.toUnsignedString(token, 16)
          + ") as " + KvctlMain.name(view.node()) + " sees the ring:\n" + table.render());
      session().out().flush();
    } else {
      emit(json, () -> table, plain::toString);
    }
    return Exit.OK;
  }
}
