package io.kvd.ctl.command;

import io.kvd.core.Command;
import io.kvd.core.ErrorCode;
import io.kvd.ctl.Exit;
import io.kvd.ctl.KvctlMain;
import io.kvd.ctl.completion.NodeCandidates;
import io.kvd.ctl.util.Table;
import io.kvd.ctl.util.Units;
import io.kvd.proto.PeerProtocol.AdminReply;
import io.kvd.proto.PeerProtocol.Counter;
import io.kvd.proto.PeerProtocol.LatencyHistogram;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** Per-node counters: requests per second by command, errors, caches, memory, traffic. */
@picocli.CommandLine.Command(name = "stats", description = {"Show each node's requests per"
    + " second by command (over its last whole second), errors per second, reply-cache entries,"
    + " store and heap use against the budget, gossip and replication traffic, and faults.",
    "--counters lists every counter of every node instead (totals since start), and each"
        + " command's latency histogram (requests answered within each bucket's bound in ms,"
        + " cumulative)."})
public final class StatsCommand extends KvctlCommand {
  @Parameters(paramLabel = "HOST:PORT", arity = "0..*",
      completionCandidates = NodeCandidates.class,
      description = "The nodes (default: every node of the cluster).")
  List<String> named;

  @Option(names = "--counters", description = "List every counter, one per line.")
  boolean counters;

  @Override
  public Integer call() {
    List<InetSocketAddress> nodes = NodeArgs.orAll(named, this);
    List<AdminReply> replies = statusOfAll(nodes);
    List<Map<String, Object>> json = new ArrayList<>();
    for (int i = 0; i < nodes.size(); i++) {
      json.add(Views.statusJson(nodes.get(i), replies.get(i)));
    }
    if (counters) {
      Table table = new Table("NODE", "COUNTER", "VALUE");
      for (int i = 0; i < nodes.size(); i++) {
        AdminReply r = replies.get(i);
        if (r == null) {
          continue;
        }
        String name = KvctlMain.name(nodes.get(i));
        for (int c = 0; c < r.getRequestsCount(); c++) {
          table.row(name, "requests." + (c < Command.COUNT ? Command.name(c) : "UNKNOWN"),
              r.getRequests(c));
        }
        for (int e = 0; e < r.getRepliesCount(); e++) {
          table.row(name, "replies." + ErrorCode.name(e), r.getReplies(e));
        }
        for (Counter c : r.getCountersList()) {
          table.row(name, c.getName(), c.getValue());
        }
        for (LatencyHistogram h : r.getLatencyList()) {
          String command = "latencyMs." + (h.getCommand() < Command.COUNT
              ? Command.name(h.getCommand()) : "UNKNOWN");
          Map<String, Long> buckets = Views.latencyBuckets(r, h);
          long count = buckets.isEmpty() ? 0 : buckets.get("inf");
          if (count == 0) {
            continue;
          }
          table.row(name, command + ".count", count);
          table.row(name, command + ".sum", h.getSumMs());
          buckets.forEach((bucket, n) -> table.row(name, command + "." + bucket, n));
        }
      }
      emit(json, () -> table, null);
    } else {
      emit(json, () -> table(nodes, replies), null);
    }
    return Exit.OK;
  }

  /** "OVERLOAD 3, OUT_OF_SPACE 1" over the last second; "0" when none. */
  static String errorsByCode(AdminReply r) {
    StringBuilder text = new StringBuilder();
    for (int e = 0; e < r.getRepliesLastSecondCount(); e++) {
      if (e != ErrorCode.SUCCESS && e != ErrorCode.NOT_FOUND && r.getRepliesLastSecond(e) > 0) {
        text.append(text.length() > 0 ? ", " : "").append(ErrorCode.name(e)).append(' ')
            .append(r.getRepliesLastSecond(e));
      }
    }
    return text.length() == 0 ? "0" : text.toString();
  }

  /** One row per node; shared with top. */
  static Table table(List<InetSocketAddress> nodes, List<AdminReply> replies) {
    Table table = new Table("NODE", "REQ/S", "GET/S", "PUT/S", "REMOVE/S", "ERRORS/S", "CACHE",
        "STORE", "HEAP", "GOSSIP OUT/IN", "REPL OUT/IN", "FAULTS");
    for (int i = 0; i < nodes.size(); i++) {
      AdminReply r = replies.get(i);
      String name = KvctlMain.name(nodes.get(i));
      if (r == null) {
        table.row(name, "unreachable", "", "", "", "", "", "", "", "", "", "");
        continue;
      }
      table.row(name, Views.sumLastSecond(r),
          Views.requestsLastSecond(r, Command.GET), Views.requestsLastSecond(r, Command.PUT),
          Views.requestsLastSecond(r, Command.REMOVE), errorsByCode(r),
          r.getReplyCacheEntries() + "/" + r.getReplyCacheCapacity(),
          Units.bytes(r.getStoreBytes()) + "/" + Units.bytes(r.getStoreBytesMax()),
          r.getHeapMaxBytes() > 0 ? Units.bytes(r.getHeapUsedBytes()) + "/"
              + Units.bytes(r.getHeapMaxBytes()) : "-",
          Views.counter(r, "gossip.sent") + "/" + Views.counter(r, "gossip.received"),
          Views.counter(r, "replication.sent") + "/" + Views.counter(r, "replication.received"),
          Views.faults(r));
    }
    return table;
  }
}
