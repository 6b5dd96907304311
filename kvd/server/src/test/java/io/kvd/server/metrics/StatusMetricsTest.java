package io.kvd.server.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvd.client.KvClient;
import io.kvd.client.RetryPolicy;
import io.kvd.core.Command;
import io.kvd.core.Node;
import io.kvd.core.NodeConfig;
import io.kvd.proto.ClientProtocol.KVRequest;
import io.kvd.proto.PeerProtocol.AdminReply;
import io.kvd.proto.PeerProtocol.Counter;
import io.kvd.proto.PeerProtocol.LatencyHistogram;
import io.kvd.proto.PeerProtocol.MemberView;
import io.kvd.proto.PeerProtocol.Update;
import io.kvd.server.NettyNode;
import io.kvd.testkit.KvdProcess;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * Proves the conversion of a STATUS snapshot into Prometheus metrics, and that snapshots are taken
 * on the node's event loop: every counter a real node's snapshot holds (the core's and the Netty
 * shell's) becomes a metric; request and latency figures land under the right labels (command
 * codes 0 and above 8 together as UNKNOWN), buckets are cumulative in the text format, members are
 * counted by state, and milliseconds become seconds.
 */
class StatusMetricsTest {
  @Test
  void everyCounterOfARealNodesSnapshotBecomesAMetric() throws Exception {
    Node node = new Node(NodeConfig.defaults(1, 8L << 20, 5));
    int port = KvdProcess.freeUdpPort();
    try (NettyNode server = NettyNode.start(node, "127.0.0.1", port);
        // One attempt per request, waiting long: the test counts requests exactly, and a resend
        // after the default 100 ms (a slow first PUT on a loaded machine) would count twice.
        KvClient client = KvClient.open(RetryPolicy.DEFAULT.withTimeoutMsInitial(10_000)
            .withRetriesMax(0), 16)) {
      client.put(server.localAddress(), new byte[] {1}, new byte[] {2}, 0).join();
      client.request(server.localAddress(), KVRequest.newBuilder().setCommand(0).build())
          .join();
      AdminReply status = server.status(Duration.ofSeconds(5));
      assertTrue(status.getCountersCount() > 40, status.toString());
      for (Counter c : status.getCountersList()) {
        assertTrue(StatusMetrics.maps(c.getName()), "no metric for counter " + c.getName());
      }
      assertTrue(status.getCountersList().stream()
          .anyMatch(c -> c.getName().equals("dropped.send_backlog")), "the shell's counters");
      String text = text(StatusMetrics.of(status, "127.0.0.1:" + port, "test"));
      assertTrue(text.contains("kvd_requests_total{command=\"PUT\"} 1.0"), text);
      assertTrue(text.contains("kvd_requests_total{command=\"UNKNOWN\"} 1.0"), text);
      assertTrue(text.contains("kvd_replies_total{code=\"UNRECOGNIZED_COMMAND\"} 1.0"), text);
      assertTrue(text.contains("kvd_store_keys 1.0"), text);
      assertTrue(text.contains("kvd_dropped_datagrams_total{reason=\"send_backlog\"} 0.0"),
          text);
      for (String reason : new String[] {"missing_tag", "bad_tag", "admin_stale",
          "admin_replayed", "admin_nonces_full", "not_a_member"}) {
        assertTrue(text.contains("kvd_dropped_datagrams_total{reason=\"" + reason + "\"} 0.0"),
            "cluster-key drops: " + text);
      }
      assertTrue(text.contains("kvd_injected_faults_total{fault=\"lost\"} 0.0"), text);
      assertTrue(text.contains("kvd_node_info{address=\"127.0.0.1:" + port
          + "\",version=\"test\"} 1"), text);
      assertTrue(text.contains("kvd_request_duration_seconds_count{command=\"PUT\"} 1"), text);
    }
  }

  @Test
  void conversionLabelsMergesAndScales() throws Exception {
    AdminReply.Builder status = AdminReply.newBuilder().setErrCode(0).setUptimeMs(2_500)
        .setStoreKeys(3).setStoreBytes(300).setStoreBytesMax(1_000)
        .addLatencyBoundsMs(0).addLatencyBoundsMs(5).addLatencyBoundsMs(10);
    for (int c = 0; c <= Command.COUNT; c++) {
      status.addRequests(c == Command.GET ? 7 : c == 0 ? 1 : c == Command.COUNT ? 2 : 0);
      LatencyHistogram.Builder h = LatencyHistogram.newBuilder().setCommand(c);
      if (c == Command.GET) {
        h.addCounts(4).addCounts(2).addCounts(0).addCounts(1).setSumMs(42);
      } else {
        h.addCounts(c == 0 || c == Command.COUNT ? 1 : 0).addCounts(0).addCounts(0)
            .addCounts(0);
      }
      status.addLatency(h);
    }
    status.addMembers(member(1, Update.Status.ALIVE)).addMembers(member(2, Update.Status.ALIVE))
        .addMembers(member(3, Update.Status.SUSPECT)).addMembers(member(4, Update.Status.DEAD));
    status.addCounters(Counter.newBuilder().setName("repair.lastCycleMs").setValue(1_500));
    status.addCounters(Counter.newBuilder().setName("dropped.bad_checksum").setValue(9));
    status.addCounters(Counter.newBuilder().setName("faults.blockedSends").setValue(4));
    status.addCounters(Counter.newBuilder().setName("replication.refusedNoQuorum").setValue(6));
    status.addCounters(Counter.newBuilder().setName("some.futureCounter").setValue(1));
    String text = text(StatusMetrics.of(status.build(), "a:1", "v"));
    assertTrue(text.contains("kvd_requests_total{command=\"GET\"} 7.0"), text);
    assertTrue(text.contains("kvd_requests_total{command=\"UNKNOWN\"} 3.0"), text);
    String get = "kvd_request_duration_seconds_bucket{command=\"GET\",le=";
    assertTrue(text.contains(get + "\"0.0\"} 4\n"), text);
    assertTrue(text.contains(get + "\"0.005\"} 6\n"), text);
    assertTrue(text.contains(get + "\"0.01\"} 6\n"), text);
    assertTrue(text.contains(get + "\"+Inf\"} 7\n"), text);
    assertTrue(text.contains("kvd_request_duration_seconds_count{command=\"GET\"} 7\n"), text);
    assertTrue(text.contains("kvd_request_duration_seconds_sum{command=\"GET\"} 0.042\n"), text);
    assertTrue(text.contains("kvd_request_duration_seconds_count{command=\"UNKNOWN\"} 2\n"),
        text);
    assertTrue(text.contains("kvd_members{state=\"alive\"} 2.0"), text);
    assertTrue(text.contains("kvd_members{state=\"suspect\"} 1.0"), text);
    assertTrue(text.contains("kvd_members{state=\"dead\"} 1.0"), text);
    assertTrue(text.contains("kvd_repair_last_cycle_duration_seconds 1.5"), text);
    assertTrue(text.contains("kvd_uptime_seconds 2.5"), text);
    assertTrue(text.contains("kvd_store_budget_bytes 1000.0"), text);
    assertTrue(text.contains("kvd_dropped_datagrams_total{reason=\"bad_checksum\"} 9.0"), text);
    assertTrue(text.contains("kvd_dropped_datagrams_total{reason=\"blocked_send\"} 4.0"), text);
    assertTrue(text.contains("kvd_replication_refused_total{reason=\"no_quorum\"} 6.0"), text);
    assertTrue(text.contains("# TYPE kvd_request_duration_seconds histogram"), text);
    assertTrue(!text.contains("future"), "unknown counters are left out: " + text);
  }

  private static MemberView member(int port, Update.Status status) {
    return MemberView.newBuilder().setAddress(port).setStatus(status).setIncarnation(1).build();
  }

  private static String text(MetricSnapshots snapshots) throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    PrometheusTextFormatWriter.create().write(out, snapshots);
    return out.toString(StandardCharsets.UTF_8);
  }
}
