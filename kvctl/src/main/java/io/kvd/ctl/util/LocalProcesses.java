package io.kvd.ctl.util;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.OptionalLong;
import java.util.Set;

/**
 * Finds the local process behind a UDP port through /proc (Linux), so that suspend and resume
 * work on a node named by its address even while it is stopped and cannot answer GET_PID.
 */
public final class LocalProcesses {
  private LocalProcesses() {}

  /** The pid of the process with a UDP socket bound to {@code port}, if any. */
  public static OptionalLong pidOfUdpPort(int port) throws IOException {
    Set<String> inodes = new HashSet<>();
    for (String table : List.of("/proc/net/udp", "/proc/net/udp6")) {
      Path path = Path.of(table);
      if (!Files.isReadable(path)) {
        continue;
      }
      List<String> lines = Files.readAllLines(path, StandardCharsets.US_ASCII);
      for (String line : lines.subList(Math.min(1, lines.size()), lines.size())) {
        String[] f = line.trim().split("\\s+");
        // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
        if (f.length < 10) {
          continue;
        }
        String local = f[1];
        int colon = local.lastIndexOf(':');
        if (colon > 0 && Integer.parseInt(local.substring(colon + 1), 16) == port) {
          inodes.add("socket:[" + f[9] + "]");
        }
      }
    }
    if (inodes.isEmpty()) {
      return OptionalLong.empty();
    }
    try (DirectoryStream<Path> procs = Files.newDirectoryStream(Path.of("/proc"), "[0-9]*")) {
      for (Path proc : procs) {
        try (DirectoryStream<Path> fds = Files.newDirectoryStream(proc.resolve("fd"))) {
          for (Path fd : fds) {
            try {
              if (inodes.contains(Files.readSymbolicLink(fd).toString())) {
                return OptionalLong.of(Long.parseLong(proc.getFileName().toString()));
              }
            } catch (IOException e) {
              // The descriptor closed meanwhile.
            }
          }
        } catch (IOException | SecurityException e) {
          // Another user's process, or one that exited meanwhile.
        }
      }
    }
    return OptionalLong.empty();
  }

  /** The process's command line with spaces between arguments, or "" when unreadable. */
  public static String commandLine(long pid) {
    try {
      byte[] raw = Files.readAllBytes(Path.of("/proc", Long.toString(pid), "cmdline"));
      return new String(raw, StandardCharsets.UTF_8).replace('\0', ' ').trim();
    } catch (IOException e) {
      return "";
    }
  }

  /**
   * The process's state letter from /proc/PID/stat (R running, S sleeping, T stopped...), or
   * '?' when unreadable.
   */
  public static char state(long pid) {
    try {
      String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
      return stat.charAt(stat.lastIndexOf(')') + 2);
    } catch (IOException | RuntimeException e) {
      return '?';
    }
  }

  /**
   * Waits up to {@code waitMs} until the process is stopped ({@code stopped}) or not; true when it
   * got there. A signal is delivered after kill returns, once every thread has taken it.
   */
  public static boolean awaitStopped(long pid, boolean stopped, long waitMs)
      throws InterruptedException {
    long deadline = System.nanoTime() + waitMs * 1_000_000;
    while ((state(pid) == 'T') != stopped) {
      if (System.nanoTime() > deadline) {
        return false;
      }
      Thread.sleep(5);
    }
    return true;
  }

  /** Sends {@code signal} (STOP, CONT) to {@code pid} with kill(1); returns kill's exit code. */
  public static int signal(long pid, String signal) throws IOException {
    Process kill = new ProcessBuilder("kill", "-" + signal.toUpperCase(Locale.ROOT),
        Long.toString(pid)).redirectErrorStream(true).start();
    try {
      kill.getInputStream().readAllBytes();
      return kill.waitFor();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while signalling " + pid, e);
    }
  }
}
