package io.kvd.ctl.util;

import java.util.Locale;

/** Human forms of byte counts, durations and shares for tables. */
public final class Units {
  private Units() {}

  /** 1536 -> "1.5 KiB". */
  public static String bytes(long n) {
    if (n < 1024) {
      return n + " B";
    }
    String[] units = {"KiB", "MiB", "GiB", "TiB"};
    double value = n;
    int u = -1;
    while (value >= 1024 && u < units.length - 1) {
      value /= 1024;
      u++;
    }
    return String.format(Locale.ROOT, "%.1f %s", value, units[u]);
  }

  /** 1234 -> "1.2 s", 65000 -> "1m05s", 80 -> "80 ms". */
  public static String millis(long ms) {
    if (ms < 1_000) {
      return ms + " ms";
    }
    if (ms < 60_000) {
      return String.format(Locale.ROOT, "%.1f s", ms / 1000.0);
    }
    long s = ms / 1000;
    if (s < 3600) {
      return String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60);
    }
    return String.format(Locale.ROOT, "%dh%02dm", s / 3600, (s % 3600) / 60);
  }

  /** 0.0512 -> "5.1%". */
  public static String percent(double share) {
    return String.format(Locale.ROOT, "%.1f%%", share * 100);
  }
}
