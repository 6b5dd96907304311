package io.kvd.server.metrics;

import io.kvd.core.Command;
import io.kvd.core.ErrorCode;
import io.kvd.proto.PeerProtocol.AdminReply;
import io.kvd.proto.PeerProtocol.Counter;
import io.kvd.proto.PeerProtocol.LatencyHistogram;
import io.kvd.proto.PeerProtocol.MemberView;
import io.kvd.proto.PeerProtocol.Update;
import io.prometheus.metrics.model.snapshots.ClassicHistogramBuckets;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.CounterSnapshot.CounterDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot.GaugeDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot.HistogramDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.InfoSnapshot;
import io.prometheus.metrics.model.snapshots.InfoSnapshot.InfoDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import io.prometheus.metrics.model.snapshots.Unit;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Turns a node's STATUS snapshot (the {@link AdminReply} that kvctl stats and top show) into
 * Prometheus metrics, so both read the same figures taken at the same moment. A pure function of
 * the snapshot: it runs on the metrics server's thread, never touching the node.
 *
 * <p>Names follow Prometheus's conventions: the {@code kvd_} prefix, base units (seconds, bytes)
 * last, {@code _total} on counters (added by the exposition). Every counter of the snapshot maps
 * to a metric ({@link #maps}); command codes 0 and those above 8 are reported together as
 * {@code command="UNKNOWN"}.
 */
public final class StatusMetrics {
  private static final String UNKNOWN = "UNKNOWN";

  /** A snapshot counter's metric: a counter or a gauge, maybe with one label. */
  private record Target(String metric, boolean gauge, String help, String label, String value,
      double scale, Unit unit) {
  }

  private static final Map<String, Target> COUNTERS = new LinkedHashMap<>();

  private static void counter(String counter, String metric, String help) {
    COUNTERS.put(counter, new Target(metric, false, help, null, null, 1, unitOf(metric)));
  }

  private static void labelled(String counter, String metric, String help, String label,
      String value) {
    COUNTERS.put(counter, new Target(metric, false, help, label, value, 1, unitOf(metric)));
  }

  private static void gaugeOf(String counter, String metric, String help, double scale) {
    COUNTERS.put(counter, new Target(metric, true, help, null, null, scale, unitOf(metric)));
  }

  private static Unit unitOf(String metric) {
    return metric.endsWith("_bytes") ? Unit.BYTES : metric.endsWith("_seconds") ? Unit.SECONDS
        : null;
  }

  static final String DROPPED = "kvd_dropped_datagrams";
  static final String DROPPED_HELP = "Datagrams dropped, by reason: received ones the node could"
      + " not or would not handle (oversize, malformed, message_id_too_long, bad_checksum,"
      + " stale_after_stall, blocked; with a cluster key, missing_tag and bad_tag: an internal"
      + " message without a valid tag, admin_stale: an admin request without a stamp or one"
      + " more than 30 s off, admin_replayed: an admin request's nonce seen before,"
      + " admin_nonces_full: admin requests beyond the node's cache of recent nonces;"
      + " source_limit: a client request over its source's budget"
      + " when the source had had its share of OVERLOAD replies; reply_to_member: a client"
      + " or admin request whose reply would go to a member; not_a_member: gossip or a"
      + " replication message from an address that is not another member), and sent ones (send_backlog: the socket's"
      + " send backlog was full; blocked_send: an operator blocked the link).";
  static final String INJECTED = "kvd_injected_faults";
  static final String INJECTED_HELP = "Sent datagrams the fault injection lost, duplicated,"
      + " reordered or delayed, and delayed copies dropped because too many waited (overflowed).";

  static {
    counter("datagrams.received", "kvd_datagrams_received", "Datagrams received.");
    counter("replyCache.hits", "kvd_reply_cache_hits",
        "Retried PUT, REMOVE and WIPEOUT requests answered from the reply cache.");
    counter("requests.shed", "kvd_requests_shed", "Key requests answered OVERLOAD at once because"
        + " the node's timer ran late (starved of CPU), so that cluster traffic gets through.");
    counter("forwards.sent", "kvd_forwarded_requests_sent",
        "Client requests forwarded to the key's owner.");
    counter("forwards.received", "kvd_forwarded_requests_received",
        "Client requests other members forwarded here to execute.");
    counter("forwards.routingConflicts", "kvd_routing_conflicts",
        "Requests refused with OVERLOAD because they were forwarded too many times.");
    counter("gossip.sent", "kvd_gossip_messages_sent", "Membership (SWIM) messages sent.");
    counter("gossip.received", "kvd_gossip_messages_received",
        "Membership (SWIM) messages received.");
    counter("membership.declaredDeadSelf", "kvd_declared_dead_self",
        "Times this node heard itself declared dead by the others.");
    counter("membership.viewVersion", "kvd_membership_view_changes",
        "Changes of the set of members this node believes live.");
    counter("replication.sent", "kvd_replication_messages_sent",
        "Replication and repair messages sent.");
    counter("replication.sentBytes", "kvd_replication_sent_bytes",
        "Bytes of replication and repair messages sent.");
    counter("replication.received", "kvd_replication_messages_received",
        "Replication and repair messages received.");
    gaugeOf("replication.operationsInFlight", "kvd_replication_operations_in_flight",
        "Client operations this node coordinates now, in progress or queued.", 1);
    labelled("replication.refusedNoMajority", "kvd_replication_refused", "Requests refused"
        + " OVERLOAD for want of replicas: no majority of members live (no_majority), or no read"
        + " quorum in time (no_quorum).", "reason", "no_majority");
    labelled("replication.refusedNoQuorum", "kvd_replication_refused", null, "reason",
        "no_quorum");
    counter("replication.writesAbandoned", "kvd_replication_writes_abandoned",
        "Writes abandoned unanswered because not every replica took them in time.");
    counter("replication.writeBacks", "kvd_replication_write_backs",
        "Reads that wrote the newest value back to a majority before answering.");
    counter("replication.dataForgotten", "kvd_data_dropped",
        "Times this node dropped all its data after a long absence, to catch up by repair.");
    counter("repair.cyclesCompleted", "kvd_repair_cycles",
        "Repair cycles completed (a round with every live peer).");
    gaugeOf("repair.lastCycleMs", "kvd_repair_last_cycle_duration_seconds",
        "How long the last completed repair cycle took.", 0.001);
    counter("repair.roundsCompleted", "kvd_repair_rounds", "Repair rounds completed.");
    counter("repair.keysPulled", "kvd_repair_keys_pulled",
        "Records received by repair or hand-off and stored here.");
    counter("repair.bytesPulled", "kvd_repair_pulled_bytes",
        "Bytes of the records received by repair or hand-off and stored here.");
    counter("repair.keysPushed", "kvd_repair_keys_pushed",
        "Records pushed to peers by repair and hand-off.");
    counter("repair.bytesPushed", "kvd_repair_pushed_bytes",
        "Bytes of the records pushed to peers by repair and hand-off.");
    gaugeOf("repair.pushesQueued", "kvd_repair_pushes_queued",
        "Repair pushes waiting for the repair bandwidth budget.", 1);
    counter("repair.pushesDropped", "kvd_repair_pushes_dropped",
        "Repair pushes dropped because the queue was full.");
    counter("repair.handedOff", "kvd_repair_handed_off_keys",
        "Keys handed off to their replicas and deleted here.");
    counter("repair.tombstonesExpired", "kvd_repair_tombstones_expired",
        "Tombstones of removed keys expired.");
    labelled("faults.blockedSends", DROPPED, DROPPED_HELP, "reason", "blocked_send");
    labelled("sourceLimits.limitedRequests", "kvd_source_limited_requests", "Client requests"
        + " refused (answered OVERLOAD, or dropped as reason source_limit) because their source"
        + " address was over its budget of requests per second (budget=requests) or the address"
        + " their reply goes to was over its budget of reply bytes per second"
        + " (budget=reply_bytes).", "budget", "requests");
    labelled("sourceLimits.limitedReplyBytes", "kvd_source_limited_requests", null, "budget",
        "reply_bytes");
    gaugeOf("sourceLimits.tableBytes", "kvd_source_table_bytes", "Heap taken by the table of"
        + " per-source budgets, fixed at start-up (0 with source limits off).", 1);
    counter("clientAdmin.refused", "kvd_client_admin_refused", "SHUTDOWN and WIPEOUT requests"
        + " from clients refused with UNRECOGNIZED_COMMAND because --client-admin is off.");
  }

  private StatusMetrics() {
  }

  /** Whether the snapshot counter {@code name} becomes a metric. */
  public static boolean maps(String name) {
    return COUNTERS.containsKey(name) || name.startsWith("dropped.")
        || name.startsWith("faults.injected.");
  }

  /**
   * The metrics of {@code status}; {@code address} (this node's, host:port) and {@code version}
   * (kvd's) label kvd_node_info.
   */
  public static MetricSnapshots of(AdminReply status, String address, String version) {
    List<MetricSnapshot> metrics = new ArrayList<>();
    metrics.add(InfoSnapshot.builder().name("kvd_node")
        .help("This node: its address and kvd's version.")
        .dataPoint(InfoDataPointSnapshot.builder()
            .labels(Labels.of("address", address, "version", version))
            .build())
        .build());
    metrics.add(gauge("kvd_uptime_seconds", "Time since the node started.", Unit.SECONDS,
        status.getUptimeMs() / 1000.0));
    metrics.add(requests(status));
    metrics.add(replies(status));
    metrics.add(latency(status));
    metrics.add(gauge("kvd_reply_cache_entries", "Replies kept in the reply cache for retries.",
        null, status.getReplyCacheEntries()));
    metrics.add(gauge("kvd_reply_cache_capacity_entries",
        "Replies the reply cache can keep; when full, mutating requests get OVERLOAD.", null,
        status.getReplyCacheCapacity()));
    metrics.add(gauge("kvd_store_keys", "Keys stored (tombstones of removed keys included).",
        null, status.getStoreKeys()));
    metrics.add(gauge("kvd_store_bytes", "Bytes the store holds, against kvd_store_budget_bytes.",
        Unit.BYTES, status.getStoreBytes()));
    metrics.add(gauge("kvd_store_budget_bytes",
        "The store's budget: a PUT beyond it answers OUT_OF_SPACE.", Unit.BYTES,
        status.getStoreBytesMax()));
    metrics.add(gauge("kvd_heap_used_bytes", "JVM heap in use.", Unit.BYTES,
        status.getHeapUsedBytes()));
    metrics.add(gauge("kvd_heap_max_bytes", "JVM heap maximum (-Xmx).", Unit.BYTES,
        status.getHeapMaxBytes()));
    metrics.add(members(status));
    metrics.add(gauge("kvd_faults_active",
        "1 while injected faults apply to the datagrams this node sends.", null,
        status.hasFaults() ? 1 : 0));
    metrics.addAll(counters(status));
    return new MetricSnapshots(metrics);
  }

  private static String commandLabel(int index) {
    return index > 0 && index < Command.COUNT ? Command.name(index) : UNKNOWN;
  }

  private static MetricSnapshot requests(AdminReply status) {
    Map<String, Long> byCommand = new LinkedHashMap<>();
    for (int c = 1; c <= Command.COUNT; c++) {
      byCommand.put(commandLabel(c), 0L);
    }
    for (int c = 0; c < status.getRequestsCount(); c++) {
      byCommand.merge(commandLabel(c), status.getRequests(c), Long::sum);
    }
    CounterSnapshot.Builder metric = CounterSnapshot.builder().name("kvd_requests")
        .help("Client requests received, by command (forwarded ones at each node they pass).");
    byCommand.forEach((command, n) -> metric.dataPoint(CounterDataPointSnapshot.builder()
        .labels(Labels.of("command", command)).value(n).build()));
    return metric.build();
  }

  private static MetricSnapshot replies(AdminReply status) {
    CounterSnapshot.Builder metric = CounterSnapshot.builder().name("kvd_replies")
        .help("Replies sent to clients, by error code.");
    for (int e = 0; e < ErrorCode.COUNT; e++) {
      long n = e < status.getRepliesCount() ? status.getReplies(e) : 0;
      metric.dataPoint(CounterDataPointSnapshot.builder()
          .labels(Labels.of("code", ErrorCode.name(e))).value(n).build());
    }
    return metric.build();
  }

  private static MetricSnapshot latency(AdminReply status) {
    int bounds = status.getLatencyBoundsMsCount();
    double[] upperBounds = new double[bounds + 1];
    for (int i = 0; i < bounds; i++) {
      upperBounds[i] = status.getLatencyBoundsMs(i) / 1000.0;
    }
    upperBounds[bounds] = Double.POSITIVE_INFINITY;
    Map<String, long[]> counts = new LinkedHashMap<>();
    Map<String, Long> sums = new LinkedHashMap<>();
    for (int c = 1; c <= Command.COUNT; c++) {
      counts.put(commandLabel(c), new long[bounds + 1]);
      sums.put(commandLabel(c), 0L);
    }
    for (LatencyHistogram h : status.getLatencyList()) {
      String command = commandLabel(h.getCommand());
      long[] into = counts.get(command);
      for (int b = 0; b < Math.min(h.getCountsCount(), into.length); b++) {
        into[b] += h.getCounts(b);
      }
      sums.merge(command, h.getSumMs(), Long::sum);
    }
    HistogramSnapshot.Builder metric = HistogramSnapshot.builder()
        .name("kvd_request_duration_seconds").unit(Unit.SECONDS)
        .help("Time from a client request's arrival at this node to its reply from this node,"
            + " in the node's millisecond clock (0: the same millisecond), for the requests this"
            + " node answered, by command.");
    counts.forEach((command, c) -> metric.dataPoint(HistogramDataPointSnapshot.builder()
        .labels(Labels.of("command", command))
        .classicHistogramBuckets(ClassicHistogramBuckets.of(upperBounds, c))
        .sum(sums.get(command) / 1000.0)
        .build()));
    return metric.build();
  }

  private static MetricSnapshot members(AdminReply status) {
    Map<Update.Status, Long> byStatus = new EnumMap<>(Update.Status.class);
    for (Update.Status s : Update.Status.values()) {
      byStatus.put(s, 0L);
    }
    for (MemberView m : status.getMembersList()) {
      byStatus.merge(m.getStatus(), 1L, Long::sum);
    }
    GaugeSnapshot.Builder metric = GaugeSnapshot.builder().name("kvd_members")
        .help("Members of the cluster (this node included) by the state this node believes"
            + " them in.");
    byStatus.forEach((s, n) -> metric.dataPoint(GaugeDataPointSnapshot.builder()
        .labels(Labels.of("state", s.name().toLowerCase(Locale.ROOT))).value(n).build()));
    return metric.build();
  }

  private static List<MetricSnapshot> counters(AdminReply status) {
    // Metric name -> its data points, in first-seen order; counters and gauges apart.
    Map<String, CounterSnapshot.Builder> counters = new LinkedHashMap<>();
    Map<String, GaugeSnapshot.Builder> gauges = new LinkedHashMap<>();
    for (Counter c : status.getCountersList()) {
      Target t = target(c.getName());
      if (t == null) {
        continue;
      }
      Labels labels = t.label == null ? Labels.EMPTY : Labels.of(t.label, t.value);
      double value = c.getValue() * t.scale;
      if (t.gauge) {
        gauges.computeIfAbsent(t.metric, m -> GaugeSnapshot.builder().name(m).help(t.help)
                .unit(t.unit))
            .dataPoint(GaugeDataPointSnapshot.builder().labels(labels).value(value).build());
      } else {
        counters.computeIfAbsent(t.metric, m -> CounterSnapshot.builder().name(m)
                .help(t.help == null ? COUNTERS.values().stream()
                    .filter(o -> o.metric.equals(m) && o.help != null).findFirst()
                    .map(Target::help).orElse(null) : t.help)
                .unit(t.unit))
            .dataPoint(CounterDataPointSnapshot.builder().labels(labels).value(value).build());
      }
    }
    List<MetricSnapshot> metrics = new ArrayList<>();
    counters.values().forEach(b -> metrics.add(b.build()));
    gauges.values().forEach(b -> metrics.add(b.build()));
    return metrics;
  }

  private static Target target(String name) {
    Target t = COUNTERS.get(name);
    if (t != null) {
      return t;
    }
    if (name.startsWith("dropped.")) {
      return new Target(DROPPED, false, DROPPED_HELP, "reason",
          name.substring("dropped.".length()), 1, null);
    }
    if (name.startsWith("faults.injected.")) {
      return new Target(INJECTED, false, INJECTED_HELP, "fault",
          name.substring("faults.injected.".length()), 1, null);
    }
    return null;
  }

  private static MetricSnapshot gauge(String name, String help, Unit unit, double value) {
    return GaugeSnapshot.builder().name(name).help(help).unit(unit)
        .dataPoint(GaugeDataPointSnapshot.builder().value(value).build())
        .build();
  }
}
