package io.kvd.ctl.command;

import io.kvd.core.cluster.Ring;
import io.kvd.ctl.Exit;
import io.kvd.ctl.KvctlMain;
import io.kvd.ctl.completion.NodeCandidates;
import io.kvd.ctl.util.Table;
import io.kvd.ctl.util.Units;
import io.kvd.proto.PeerProtocol.AdminReply;
import io.kvd.proto.PeerProtocol.MemberView;
import io.kvd.proto.PeerProtocol.Update;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** The ring as nodetool status shows a Cassandra ring. */
@Command(name = "ring", description = {"Show the ring: each member's state, virtual nodes,"
    + " share of the key space, and the keys and bytes it holds, with a legend and a summary."})
public final class RingCommand extends KvctlCommand {
  @Option(names = "--from", paramLabel = "HOST:PORT", completionCandidates = NodeCandidates.class,
      description = "Whose view of the members to use (default: the first node that answers).")
  String from;

  @Override
  public Integer call() {
    Views.NodeStatus view = from != null
        ? new Views.NodeStatus(KvctlMain.parseNode(from), status(KvctlMain.parseNode(from)))
        : Views.firstAnswering(this, nodes());
    AdminReply r = view.reply();
    Ring ring = Views.ring(r);
    boolean[] live = Views.live(r, ring);
    double[] shares = ring.shares(live);
    List<InetSocketAddress> members = new ArrayList<>();
    for (MemberView m : r.getMembersList()) {
      members.add(KvctlMain.socketAddress(m.getAddress()));
    }
    List<AdminReply> held = statusOfAll(members);
    Table table = new Table("STATE", "ADDRESS", "VNODES", "OWNS", "KEYS", "LOAD", "BUDGET");
    List<Map<String, Object>> rows = new ArrayList<>();
    int up = 0;
    int suspect = 0;
    int down = 0;
    long keys = 0;
    long bytes = 0;
    for (int i = 0; i < r.getMembersCount(); i++) {
      MemberView m = r.getMembers(i);
      int index = ring.indexOf(m.getAddress());
      AdminReply h = held.get(i);
      up += m.getStatus() == Update.Status.ALIVE ? 1 : 0;
      suspect += m.getStatus() == Update.Status.SUSPECT ? 1 : 0;
      down += m.getStatus() == Update.Status.DEAD ? 1 : 0;
      if (h != null) {
        keys += h.getStoreKeys();
        bytes += h.getStoreBytes();
      }
      table.row(Views.state(m.getStatus()), Views.name(m.getAddress()),
          ring.virtualNodesPerMember(), Units.percent(shares[index]),
          h != null ? h.getStoreKeys() : "?", h != null ? Units.bytes(h.getStoreBytes()) : "?",
          h != null ? Units.percent((double) h.getStoreBytes() / Math.max(1,
              h.getStoreBytesMax())) : "?");
      Map<String, Object> row = new LinkedHashMap<>();
      row.put("address", Views.name(m.getAddress()));
      row.put("status", m.getStatus().name());
      row.put("virtualNodes", ring.virtualNodesPerMember());
      row.put("ownsShare", shares[index]);
      row.put("reachable", h != null);
      row.put("storeKeys", h != null ? h.getStoreKeys() : null);
      row.put("storeBytes", h != null ? h.getStoreBytes() : null);
      row.put("storeBytesMax", h != null ? h.getStoreBytesMax() : null);
      rows.add(row);
    }
    String viewer = KvctlMain.name(view.node());
    String summary = String.format(Locale.ROOT, "%d members: %d up, %d suspect, %d down;"
        + " %d keys held (replicas included), %s", r.getMembersCount(), up, suspect, down, keys,
        Units.bytes(bytes));
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("viewOf", viewer);
    json.put("members", rows);
    json.put("up", up);
    json.put("suspect", suspect);
    json.put("down", down);
    json.put("storeKeys", keys);
    json.put("storeBytes", bytes);
    if (format() == KvctlMain.Format.TABLE) {
      session().out().print("State as " + viewer + " sees it: UP alive, SUSPECT suspected,"
          + " DOWN declared dead\n"
          + "OWNS: share of the key space the member is primary for (among members not down);"
          + " KEYS/LOAD: what it holds, replicas included (? = no answer); BUDGET: LOAD against"
          + " its store budget\n\n"
          + table.render() + "\n" + summary + "\n");
      session().out().flush();
    } else {
      emit(json, () -> table, null);
    }
    return Exit.OK;
  }
}
