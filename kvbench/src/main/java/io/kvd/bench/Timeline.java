package io.kvd.bench;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The measured run second by second: operations, errors (timeouts included) and p99. */
final class Timeline {
  /** Seconds kept at most: a day. */
  static final int SECONDS_MAX = 86_400;

  private final List<long[]> seconds = new ArrayList<>();

  synchronized void add(long ops, long errors, long p99Us) {
    if (seconds.size() < SECONDS_MAX) {
      seconds.add(new long[] {ops, errors, p99Us});
    }
  }

  synchronized List<Map<String, Object>> json() {
    List<Map<String, Object>> rows = new ArrayList<>();
    for (int i = 0; i < seconds.size(); i++) {
      Map<String, Object> row = new LinkedHashMap<>();
      row.put("second", i + 1);
      row.put("ops", seconds.get(i)[0]);
      row.put("errors", seconds.get(i)[1]);
      row.put("latencyUsP99", seconds.get(i)[2]);
      rows.add(row);
    }
    return rows;
  }
}
