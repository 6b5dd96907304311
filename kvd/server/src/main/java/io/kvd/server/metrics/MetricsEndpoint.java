package io.kvd.server.metrics;

import io.kvd.proto.PeerProtocol.AdminReply;
import io.kvd.server.log.LogSetup;
import io.prometheus.metrics.exporter.httpserver.HTTPServer;
import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * kvd's optional Prometheus endpoint: an HTTP server (the Prometheus Java client's) answering
 * {@code GET /metrics} on its own threads. It never reads the node's state itself: each scrape
 * asks the node's event loop for a STATUS snapshot, the one kvctl stats shows, waits for it at most
 * {@link #SNAPSHOT_TIMEOUT}, and converts it ({@link StatusMetrics}). A scrape that gets no
 * snapshot in time fails (HTTP 500) rather than report stale or torn figures.
 */
public final class MetricsEndpoint implements AutoCloseable {
  /** How long a scrape waits for the node's snapshot. */
  public static final Duration SNAPSHOT_TIMEOUT = Duration.ofSeconds(5);
  private static final Logger LOG = LoggerFactory.getLogger(LogSetup.METRICS);

  /** Where snapshots come from: the node's thread, within the timeout. */
  public interface SnapshotSource {
    AdminReply snapshot(Duration timeout) throws TimeoutException, InterruptedException;
  }

  private final HTTPServer server;
  private final ExecutorService executor;

  private MetricsEndpoint(HTTPServer server, ExecutorService executor) {
    this.server = server;
    this.executor = executor;
  }

  /**
   * Serves the metrics of {@code source}, the node at {@code address} (host:port, a label of
   * kvd_node_info), on {@code host:port}; throws {@link
   * java.net.BindException} when the port is taken.
   */
  public static MetricsEndpoint start(String host, int port, SnapshotSource source,
      String address, String version) throws IOException {
    PrometheusRegistry registry = new PrometheusRegistry();
    registry.register(new StatusCollector(source, address, version));
    // Two daemon threads: scrapes are rare, and the node's exit must not wait for them.
    ExecutorService executor = Executors.newFixedThreadPool(2, runnable -> {
      Thread thread = new Thread(runnable, "kvd-metrics");
      thread.setDaemon(true);
      return thread;
    });
    try {
      HTTPServer server = HTTPServer.builder()
          .hostname(host)
          .port(port)
          .registry(registry)
          .executorService(executor)
          .buildAndStart();
      return new MetricsEndpoint(server, executor);
    } catch (IOException | RuntimeException e) {
      executor.shutdownNow();
      throw e;
    }
  }

  /** The TCP port served. */
  public int port() {
    return server.getPort();
  }

  @Override
  public void close() {
    server.close();
    executor.shutdownNow();
  }

  /** One scrape: a snapshot from the node's thread, converted. */
  static final class StatusCollector implements MultiCollector {
    private final SnapshotSource source;
    private final String address;
    private final String version;

    StatusCollector(SnapshotSource source, String address, String version) {
      this.source = source;
      this.address = address;
      this.version = version;
    }

    @Override
    public MetricSnapshots collect() {
      AdminReply status;
      try {
        status = source.snapshot(SNAPSHOT_TIMEOUT);
      } catch (TimeoutException e) {
        LOG.warn("kvd: scrape failed: the node gave no snapshot within {} ms (busy, or"
            + " stopped)", SNAPSHOT_TIMEOUT.toMillis());
        throw new IllegalStateException("no snapshot from the node within "
            + SNAPSHOT_TIMEOUT.toMillis() + " ms", e);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while waiting for the node's snapshot", e);
      }
      return StatusMetrics.of(status, address, version);
    }
  }
}
