package io.kvd.bench;

import io.kvd.bench.Workload.Op;
import io.kvd.core.ErrorCode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.HdrHistogram.Histogram;

/**
 * The JSON report of a run: configuration and seed, throughput, per operation counts by outcome
 * and latency percentiles in microseconds (HdrHistogram), errors by code, timeouts, retries,
 * OVERLOAD waits, and the per-second timeline. Field names carry their unit last.
 */
final class Report {
  private final KvbenchMain command;
  private final LoadEngine.Settings settings;
  private final Results results;
  private final Timeline timeline;
  private final long measuredNanos;

  Report(KvbenchMain command, LoadEngine.Settings settings, Results results, Timeline timeline,
      long measuredNanos) {
    this.command = command;
    this.settings = settings;
    this.results = results;
    this.timeline = timeline;
    this.measuredNanos = measuredNanos;
  }

  Map<String, Object> json() {
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("tool", "kvbench");
    json.put("configuration", command.configuration());
    json.put("seed", settings.seed());
    double seconds = measuredNanos / 1e9;
    json.put("measuredSec", round(seconds));
    long completed = results.completedCount();
    json.put("throughputOpsPerSec", round(completed / Math.max(seconds, 1e-9)));
    json.put("completed", completed);
    json.put("errors", results.errorCount());
    json.put("timeouts", results.timeoutCount());
    json.put("retries", results.retries());
    json.put("overloadWaits", results.overloadWaits());
    json.put("badReplies", results.badReplies());
    json.put("strayReplies", results.strayReplies());
    Map<String, Object> operations = new LinkedHashMap<>();
    Map<String, Long> errorsByCode = new LinkedHashMap<>();
    for (Op op : Op.values()) {
      Histogram h = results.latencyUs(op);
      if (h.getTotalCount() == 0 && results.timeouts(op) == 0) {
        continue;
      }
      Map<String, Object> one = new LinkedHashMap<>();
      one.put("count", h.getTotalCount());
      one.put("ok", results.count(op, ErrorCode.SUCCESS));
      one.put("notFound", results.count(op, ErrorCode.NOT_FOUND));
      Map<String, Long> codes = new LinkedHashMap<>();
      for (int e = 0; e < ErrorCode.COUNT; e++) {
        long n = results.count(op, e);
        if (n > 0 && e != ErrorCode.SUCCESS && e != ErrorCode.NOT_FOUND) {
          codes.put(ErrorCode.name(e), n);
          errorsByCode.merge(ErrorCode.name(e), n, Long::sum);
        }
      }
      one.put("errorsByCode", codes);
      one.put("timeouts", results.timeouts(op));
      one.put("latencyUsMean", round(h.getMean()));
      one.put("latencyUsP50", h.getValueAtPercentile(50));
      one.put("latencyUsP90", h.getValueAtPercentile(90));
      one.put("latencyUsP99", h.getValueAtPercentile(99));
      one.put("latencyUsP999", h.getValueAtPercentile(99.9));
      one.put("latencyUsMax", h.getMaxValue());
      operations.put(op.name(), one);
    }
    json.put("operations", operations);
    json.put("errorsByCode", errorsByCode);
    json.put("timeline", timeline.json());
    List<Timeline.Mark> marks = timeline.marks();
    if (!marks.isEmpty()) {
      List<Map<String, Object>> marksJson = new ArrayList<>();
      for (Timeline.Mark mark : marks) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("atSec", round(mark.atSec()));
        m.put("text", mark.text());
        marksJson.add(m);
      }
      json.put("marks", marksJson);
    }
    json.put("phases", timeline.phases());
    return json;
  }

  /** FILE-OP.hgrm beside the report: HdrHistogram's percentile distribution, in microseconds. */
  List<Path> writeHistograms(Path report) throws IOException {
    List<Path> written = new ArrayList<>();
    String base = report.getFileName().toString().replaceFirst("\\.json$", "");
    for (Op op : Op.values()) {
      Histogram h = results.latencyUs(op);
      if (h.getTotalCount() == 0) {
        continue;
      }
      ByteArrayOutputStream bytes = new ByteArrayOutputStream();
      try (PrintStream print = new PrintStream(bytes, true, StandardCharsets.UTF_8)) {
        h.outputPercentileDistribution(print, 1.0);
      }
      Path file = report.resolveSibling(base + "-" + op.name().toLowerCase(Locale.ROOT)
          + ".hgrm");
      Files.write(file, bytes.toByteArray());
      written.add(file);
    }
    return written;
  }

  private static double round(double value) {
    return Math.round(value * 10) / 10.0;
  }
}
