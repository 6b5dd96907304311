package io.kvd.client;

import com.sun.jna.LastErrorException;
import com.sun.jna.Library;
import com.sun.jna.Native;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.Future;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Pins the calling thread to one CPU (Linux sched_setaffinity through JNA), for the event-loop
 * threads of kvd ({@code --io-cpu}) and kvbench ({@code --io-cpus}).
 *
 * <p>Why: on a small machine that runs a node and its load generator side by side, each has one
 * busy event-loop thread. Left to the scheduler, the two often share one CPU for a few
 * milliseconds (a wake-up placed beside the thread that woke it), and every request in flight
 * waits for both in turn: on two cores this put a third of kvbench's p99 above what pinned
 * threads give. Only the event-loop thread is pinned; the JVM's other threads (GC, JIT) go
 * where the scheduler puts them.
 */
public final class Affinity {
  private Affinity() {}

  /** CPUs a mask may name: sched_setaffinity's default set size on Linux, 1,024. */
  public static final int CPU_MAX = 1023;

  private interface LibC extends Library {
    int sched_setaffinity(int pid, int cpusetsize, long[] mask) throws LastErrorException;
  }

  private static final class Holder {
    static final LibC LIBC = Native.load("c", LibC.class);
  }

  /**
   * Restricts the calling thread to {@code cpu}. Throws IllegalArgumentException when the CPU is
   * out of range or not one this process may run on (offline, or outside its cgroup's set), and
   * UnsupportedOperationException off Linux.
   */
  public static void pinCurrentThread(int cpu) {
    if (cpu < 0 || cpu > CPU_MAX) {
      throw new IllegalArgumentException("CPU " + cpu + " is outside 0.." + CPU_MAX);
    }
    if (!System.getProperty("os.name", "").toLowerCase(java.util.Locale.ROOT).contains("linux")) {
      throw new UnsupportedOperationException("pinning threads needs Linux");
    }
    long[] mask = new long[(CPU_MAX + 1) / 64];
    mask[cpu / 64] = 1L << (cpu % 64);
    try {
      Holder.LIBC.sched_setaffinity(0, mask.length * Long.BYTES, mask);
    } catch (LastErrorException e) {
      throw new IllegalArgumentException("cannot pin to CPU " + cpu + " (allowed: "
          + allowedCpus() + "): errno " + e.getErrorCode(), e);
    }
  }

  /**
   * Pins {@code loop}'s thread to {@code cpu}, from that thread, and waits for it; rethrows what
   * {@link #pinCurrentThread} threw there.
   */
  public static void pinThreadOf(EventLoop loop, int cpu) {
    Future<?> pinned = loop.submit(() -> pinCurrentThread(cpu));
    pinned.awaitUninterruptibly();
    if (!pinned.isSuccess()) {
      Throwable cause = pinned.cause();
      throw cause instanceof RuntimeException r ? r : new IllegalStateException(cause);
    }
  }

  /** The CPUs the calling thread may run on, as the kernel lists them ("0-1"), or "?". */
  public static String allowedCpus() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/thread-self/status"),
          StandardCharsets.US_ASCII)) {
        if (line.startsWith("Cpus_allowed_list:")) {
          return line.substring("Cpus_allowed_list:".length()).trim();
        }
      }
    } catch (java.io.IOException | RuntimeException e) {
      // not Linux, or /proc unmounted
    }
    return "?";
  }

  /** Parses "0", "0,1" or "2,3,0": the CPUs to pin successive threads to. */
  public static List<Integer> parseList(String text) {
    List<Integer> cpus = new ArrayList<>();
    for (String part : text.split(",")) {
      try {
        int cpu = Integer.parseInt(part.trim());
        if (cpu < 0 || cpu > CPU_MAX) {
          throw new IllegalArgumentException("CPU " + cpu + " is outside 0.." + CPU_MAX);
        }
        cpus.add(cpu);
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("not a CPU list: '" + text + "' (for example 0 or 0,1)");
      }
    }
    return cpus;
  }
}
