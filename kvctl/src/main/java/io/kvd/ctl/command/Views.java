package io.kvd.ctl.command;

import io.kvd.core.AdminReplies;
import io.kvd.core.Addresses;
import io.kvd.core.Command;
import io.kvd.core.ErrorCode;
import io.kvd.core.cluster.Ring;
import io.kvd.ctl.Exit;
import io.kvd.ctl.KvctlException;
import io.kvd.ctl.KvctlMain;
import io.kvd.ctl.util.Units;
import io.kvd.proto.PeerProtocol.AdminReply;
import io.kvd.proto.PeerProtocol.Counter;
import io.kvd.proto.PeerProtocol.LatencyHistogram;
import io.kvd.proto.PeerProtocol.MemberView;
import io.kvd.proto.PeerProtocol.Update;
import java.net.InetSocketAddress;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Reading a node's STATUS reply: its view, its ring, its counters, and JSON forms of them. */
final class Views {
  private Views() {}

  /** A node and its STATUS. */
  record NodeStatus(InetSocketAddress node, AdminReply reply) {}

  /** The first node (in list order) that answers STATUS; unreachable when none does. */
  static NodeStatus firstAnswering(KvctlCommand command, List<InetSocketAddress> nodes) {
    List<AdminReply> replies = command.statusOfAll(nodes);
    for (int i = 0; i < nodes.size(); i++) {
      if (replies.get(i) != null) {
        return new NodeStatus(nodes.get(i), replies.get(i));
      }
    }
    throw new KvctlException(Exit.UNREACHABLE, "none of the " + nodes.size()
        + " nodes answered");
  }

  /** The ring the node uses: its member list (sorted, as kvd sorts it) and virtual nodes. */
  static Ring ring(AdminReply reply) {
    long[] members = new long[reply.getMembersCount()];
    for (int i = 0; i < members.length; i++) {
      members[i] = reply.getMembers(i).getAddress();
    }
    return new Ring(members, Math.max(1, reply.getVirtualNodes()));
  }

  /** Per ring index: not declared dead in the node's view (the ring routes to these). */
  static boolean[] live(AdminReply reply, Ring ring) {
    boolean[] live = new boolean[ring.size()];
    for (MemberView m : reply.getMembersList()) {
      live[ring.indexOf(m.getAddress())] = m.getStatus() != Update.Status.DEAD;
    }
    return live;
  }

  static String state(Update.Status status) {
    switch (status) {
      case ALIVE:
        return "UP";
      case SUSPECT:
        return "SUSPECT";
      default:
        return "DOWN";
    }
  }

  static String name(long address) {
    return Addresses.toString(address);
  }

  static long counter(AdminReply reply, String name) {
    return AdminReplies.counter(reply, name).orElse(0);
  }

  static long sumLastSecond(AdminReply reply) {
    long sum = 0;
    for (long n : reply.getRequestsLastSecondList()) {
      sum += n;
    }
    return sum;
  }

  static long errorsLastSecond(AdminReply reply) {
    long sum = 0;
    for (int e = 0; e < reply.getRepliesLastSecondCount(); e++) {
      if (e != ErrorCode.SUCCESS && e != ErrorCode.NOT_FOUND) {
        sum += reply.getRepliesLastSecond(e);
      }
    }
    return sum;
  }

  static long requestsLastSecond(AdminReply reply, int command) {
    return command < reply.getRequestsLastSecondCount() ? reply.getRequestsLastSecond(command)
        : 0;
  }

  /** A member view as JSON. */
  static Map<String, Object> memberJson(MemberView m) {
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("address", name(m.getAddress()));
    json.put("status", m.getStatus().name());
    json.put("incarnation", m.getIncarnation());
    json.put("lastHeardAgoMs", m.hasLastHeardAgoMs() ? m.getLastHeardAgoMs() : null);
    json.put("blockedRemainingMs", m.hasBlockedRemainingMs() ? m.getBlockedRemainingMs() : null);
    return json;
  }

  /** Everything a STATUS says, as JSON with named counts. */
  static Map<String, Object> statusJson(InetSocketAddress node, AdminReply r) {
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("node", KvctlMain.name(node));
    if (r == null) {
      json.put("reachable", false);
      return json;
    }
    json.put("reachable", true);
    json.put("pid", r.getPid());
    json.put("uptimeMs", r.getUptimeMs());
    json.put("storeKeys", r.getStoreKeys());
    json.put("storeBytes", r.getStoreBytes());
    json.put("storeBytesMax", r.getStoreBytesMax());
    json.put("replyCacheEntries", r.getReplyCacheEntries());
    json.put("replyCacheCapacity", r.getReplyCacheCapacity());
    json.put("heapUsedBytes", r.getHeapUsedBytes());
    json.put("heapMaxBytes", r.getHeapMaxBytes());
    Map<String, Object> requests = new LinkedHashMap<>();
    Map<String, Object> requestsPerSec = new LinkedHashMap<>();
    for (int c = 0; c < r.getRequestsCount(); c++) {
      String name = c < Command.COUNT ? Command.name(c) : "UNKNOWN";
      requests.put(name, r.getRequests(c));
      requestsPerSec.put(name, requestsLastSecond(r, c));
    }
    json.put("requests", requests);
    json.put("requestsPerSec", requestsPerSec);
    Map<String, Object> replies = new LinkedHashMap<>();
    Map<String, Object> repliesPerSec = new LinkedHashMap<>();
    for (int e = 0; e < r.getRepliesCount(); e++) {
      replies.put(ErrorCode.name(e), r.getReplies(e));
      repliesPerSec.put(ErrorCode.name(e),
          e < r.getRepliesLastSecondCount() ? r.getRepliesLastSecond(e) : 0);
    }
    json.put("replies", replies);
    json.put("repliesPerSec", repliesPerSec);
    Map<String, Object> counters = new LinkedHashMap<>();
    for (Counter c : r.getCountersList()) {
      counters.put(c.getName(), c.getValue());
    }
    json.put("counters", counters);
    Map<String, Object> latency = new LinkedHashMap<>();
    for (LatencyHistogram h : r.getLatencyList()) {
      long count = 0;
      for (long n : h.getCountsList()) {
        count += n;
      }
      if (count == 0) {
        continue;
      }
      Map<String, Object> histogram = new LinkedHashMap<>();
      histogram.put("count", count);
      histogram.put("sumMs", h.getSumMs());
      histogram.put("buckets", latencyBuckets(r, h));
      latency.put(h.getCommand() < Command.COUNT ? Command.name(h.getCommand()) : "UNKNOWN",
          histogram);
    }
    json.put("latencyMs", latency);
    if (r.hasFaults()) {
      Map<String, Object> faults = new LinkedHashMap<>();
      faults.put("lossPct", r.getFaults().getLossPct());
      faults.put("duplicatePct", r.getFaults().getDuplicatePct());
      faults.put("reorderPct", r.getFaults().getReorderPct());
      faults.put("delayMs", r.getFaults().getDelayMs());
      faults.put("jitterMs", r.getFaults().getJitterMs());
      faults.put("remainingMs", r.getFaultsRemainingMs());
      json.put("faults", faults);
    }
    return json;
  }

  /**
   * A latency histogram's buckets, cumulative as Prometheus shows them: "le0", "le1", ... (ms)
   * to the requests answered within that many ms, then "inf" to all of them.
   */
  static Map<String, Long> latencyBuckets(AdminReply r, LatencyHistogram h) {
    Map<String, Long> buckets = new LinkedHashMap<>();
    long cumulative = 0;
    for (int b = 0; b < h.getCountsCount(); b++) {
      cumulative += h.getCounts(b);
      buckets.put(b < r.getLatencyBoundsMsCount() ? "le" + r.getLatencyBoundsMs(b) : "inf",
          cumulative);
    }
    return buckets;
  }

  /** "loss 5%, delay 20 ms" for a table cell; "-" when no faults. */
  static String faults(AdminReply r) {
    if (!r.hasFaults()) {
      return "-";
    }
    StringBuilder text = new StringBuilder();
    var f = r.getFaults();
    append(text, f.getLossPct() > 0, "loss %s%%", fmt(f.getLossPct()));
    append(text, f.getDuplicatePct() > 0, "dup %s%%", fmt(f.getDuplicatePct()));
    append(text, f.getReorderPct() > 0, "reorder %s%%", fmt(f.getReorderPct()));
    append(text, f.getDelayMs() > 0 || f.getJitterMs() > 0, "delay %d+-%d ms", f.getDelayMs(),
        f.getJitterMs());
    return text.append(text.length() == 0 ? "none" : "").append(" (")
        .append(Units.millis(r.getFaultsRemainingMs())).append(" left)")
        .toString();
  }

  private static String fmt(double pct) {
    return pct == Math.rint(pct) ? Long.toString((long) pct)
        : String.format(Locale.ROOT, "%.2f", pct);
  }

  private static void append(StringBuilder text, boolean when, String format, Object... args) {
    if (when) {
      if (text.length() > 0) {
        text.append(", ");
      }
      text.append(String.format(Locale.ROOT, format, args));
    }
  }
}
