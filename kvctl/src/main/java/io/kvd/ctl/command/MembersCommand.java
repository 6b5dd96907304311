package io.kvd.ctl.command;

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
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** Each node's membership view, as riak-admin member-status shows it. */
@Command(name = "members", description = {"Show how nodes see the cluster's members: alive,"
    + " suspect or dead, incarnation, when last heard, and links blocked by fault partition.",
    "Without HOST:PORT: the view of the first node that answers."})
public final class MembersCommand extends KvctlCommand {
  @Parameters(paramLabel = "HOST:PORT", arity = "0..*",
      completionCandidates = NodeCandidates.class, description = "Whose views to show.")
  List<String> named;

  @Override
  public Integer call() {
    List<Views.NodeStatus> views = new ArrayList<>();
    if (named == null || named.isEmpty()) {
      views.add(Views.firstAnswering(this, nodes()));
    } else {
      for (InetSocketAddress node : NodeArgs.orAll(named, this)) {
        views.add(new Views.NodeStatus(node, status(node)));
      }
    }
    List<Map<String, Object>> json = new ArrayList<>();
    StringBuilder text = new StringBuilder();
    StringBuilder plain = new StringBuilder();
    for (Views.NodeStatus view : views) {
      AdminReply r = view.reply();
      String viewer = KvctlMain.name(view.node());
      Table table = new Table("MEMBER", "STATUS", "INCARNATION", "LAST HEARD", "BLOCKED");
      List<Object> members = new ArrayList<>();
      int live = 0;
      for (MemberView m : r.getMembersList()) {
        boolean self = m.getAddress() == r.getSelf();
        live += m.getStatus() != Update.Status.DEAD ? 1 : 0;
        table.row(Views.name(m.getAddress()) + (self ? " (self)" : ""), m.getStatus().name(),
            m.getIncarnation(),
            self ? "-" : m.hasLastHeardAgoMs() ? Units.millis(m.getLastHeardAgoMs()) + " ago"
                : "never",
            m.hasBlockedRemainingMs() ? "for " + Units.millis(m.getBlockedRemainingMs()) : "-");
        members.add(Views.memberJson(m));
        plain.append(viewer).append('\t').append(Views.name(m.getAddress())).append('\t')
            .append(m.getStatus().name()).append('\t').append(m.getIncarnation()).append('\t')
            .append(m.hasLastHeardAgoMs() ? m.getLastHeardAgoMs() : -1).append('\n');
      }
      text.append(String.format("View of %s (pid %d, up %s): %d of %d members live%n", viewer,
          r.getPid(), Units.millis(r.getUptimeMs()), live, r.getMembersCount()));
      text.append(table.render()).append('\n');
      Map<String, Object> one = new LinkedHashMap<>();
      one.put("node", viewer);
      one.put("pid", r.getPid());
      one.put("uptimeMs", r.getUptimeMs());
      one.put("liveCount", live);
      one.put("members", members);
      json.add(one);
    }
    if (format() == KvctlMain.Format.TABLE) {
      session().out().print(text.toString().stripTrailing() + "\n");
    } else {
      emit(json.size() == 1 ? json.get(0) : json, null, plain::toString);
    }
    return Exit.OK;
  }
}
