package io.kvd.bench;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The measured run second by second (operations answered, errors among them, timeouts, p99),
 * and the marks a fault script printed, by which the run splits into phases whose availability
 * (the share of operations that succeeded) the report gives.
 */
final class Timeline {
  /** Seconds and marks kept at most: a day's seconds, 10,000 marks. */
  static final int SECONDS_MAX = 86_400;
  static final int MARKS_MAX = 10_000;

  /** One second: answered, errors (answered with an error code), timeouts, p99 in us. */
  record Second(long answered, long errors, long timeouts, long latencyUsP99) {}

  /** A line a fault script printed, at this many seconds into the measured run. */
  record Mark(double atSec, String text) {}

  private final List<Second> seconds = new ArrayList<>();
  private final List<Mark> marks = new ArrayList<>();

  synchronized void add(long answered, long errors, long timeouts, long p99Us) {
    if (seconds.size() < SECONDS_MAX) {
      seconds.add(new Second(answered, errors, timeouts, p99Us));
    }
  }

  synchronized void mark(double atSec, String text) {
    if (marks.size() < MARKS_MAX) {
      marks.add(new Mark(atSec, text));
    }
  }

  synchronized List<Mark> marks() {
    return new ArrayList<>(marks);
  }

  synchronized List<Second> seconds() {
    return new ArrayList<>(seconds);
  }

  synchronized List<Map<String, Object>> json() {
    List<Map<String, Object>> rows = new ArrayList<>();
    int m = 0;
    for (int i = 0; i < seconds.size(); i++) {
      Second s = seconds.get(i);
      Map<String, Object> row = new LinkedHashMap<>();
      row.put("second", i + 1);
      row.put("ops", s.answered());
      row.put("errors", s.errors());
      row.put("timeouts", s.timeouts());
      row.put("latencyUsP99", s.latencyUsP99());
      List<String> here = new ArrayList<>();
      while (m < marks.size() && marks.get(m).atSec() < i + 1) {
        here.add(marks.get(m++).text());
      }
      if (!here.isEmpty()) {
        row.put("marks", here);
      }
      rows.add(row);
    }
    return rows;
  }

  /**
   * The phases between marks: from the start to the first mark, between marks, and from the
   * last to the end; a second belongs to the phase in which it ends. Availability: succeeded
   * over attempted (answered plus timed out); null when nothing was attempted.
   */
  synchronized List<Map<String, Object>> phases() {
    List<Map<String, Object>> phases = new ArrayList<>();
    double from = 0;
    String label = "start";
    int second = 0;
    for (int m = 0; m <= marks.size(); m++) {
      double to = m < marks.size() ? marks.get(m).atSec() : Double.MAX_VALUE;
      long ok = 0;
      long attempted = 0;
      int firstSecond = second;
      while (second < seconds.size() && second + 1 <= to) {
        Second s = seconds.get(second++);
        ok += s.answered() - s.errors();
        attempted += s.answered() + s.timeouts();
      }
      Map<String, Object> phase = new LinkedHashMap<>();
      phase.put("after", label);
      phase.put("fromSec", Math.round(from * 10) / 10.0);
      phase.put("seconds", second - firstSecond);
      phase.put("attempted", attempted);
      phase.put("succeeded", ok);
      phase.put("availability", attempted == 0 ? null
          : Math.round(1e6 * ok / (double) attempted) / 1e6);
      phases.add(phase);
      if (m < marks.size()) {
        from = marks.get(m).atSec();
        label = marks.get(m).text();
      }
    }
    return phases;
  }
}
