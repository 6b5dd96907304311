package io.kvd.ctl.command;

import io.kvd.ctl.Exit;
import io.kvd.ctl.KvctlException;
import io.kvd.ctl.KvctlMain;
import io.kvd.ctl.completion.NodeCandidates;
import io.kvd.ctl.util.LocalProcesses;
import io.kvd.ctl.util.Table;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * Suspends or resumes local kvd processes, named by pid or by HOST:PORT (found through /proc,
 * which works while the process is stopped). Refuses processes that are not kvd unless --force.
 */
abstract class SignalCommand extends KvctlCommand {
  /** How long a signal may take to show in the process's state. */
  static final long SETTLE_MS_MAX = 5_000;

  @Parameters(paramLabel = "PID|HOST:PORT", arity = "1..*",
      completionCandidates = NodeCandidates.class,
      description = "Local kvd processes: a pid, or the address of a node on this machine.")
  List<String> targets;

  @Option(names = "--force", description = "Signal the process even if it does not look like"
      + " kvd.")
  boolean force;

  abstract String signal();

  abstract String done();

  @Override
  public Integer call() {
    Table table = new Table("TARGET", "PID", "RESULT");
    List<Map<String, Object>> json = new ArrayList<>();
    for (String target : targets) {
      long pid = pidOf(target);
      if (!force && !LocalProcesses.commandLine(pid).contains("kvd")) {
        throw new KvctlException(Exit.USAGE, "process " + pid + " does not look like kvd ("
            + LocalProcesses.commandLine(pid) + "); --force signals it anyway");
      }
      int code;
      try {
        code = LocalProcesses.signal(pid, signal());
      } catch (IOException e) {
        throw new KvctlException(Exit.LOCAL_ERROR, "cannot signal " + pid + ": " + e);
      }
      if (code != 0) {
        throw new KvctlException(Exit.LOCAL_ERROR, "kill -" + signal() + " " + pid
            + " failed with exit code " + code);
      }
      // Return only once it has taken effect, so that a script's next line sees it.
      boolean stopped = signal().equals("STOP");
      try {
        if (!LocalProcesses.awaitStopped(pid, stopped, SETTLE_MS_MAX)) {
          throw new KvctlException(Exit.LOCAL_ERROR, "process " + pid + " is not "
              + (stopped ? "stopped" : "running") + " " + SETTLE_MS_MAX + " ms after kill -"
              + signal());
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new KvctlException(Exit.LOCAL_ERROR, "cancelled");
      }
      table.row(target, pid, done());
      Map<String, Object> row = new LinkedHashMap<>();
      row.put("target", target);
      row.put("pid", pid);
      row.put("result", done());
      json.add(row);
    }
    emit(json, () -> table, () -> "");
    return Exit.OK;
  }

  private static long pidOf(String target) {
    if (target.matches("\\d+")) {
      return Long.parseLong(target);
    }
    InetSocketAddress node = KvctlMain.parseNode(target);
    if (!node.getAddress().isLoopbackAddress() && !node.getAddress().isAnyLocalAddress()) {
      try {
        if (NetworkInterface.getByInetAddress(node.getAddress()) == null) {
          throw new KvctlException(Exit.USAGE, target + " is not an address of this machine;"
              + " suspend and resume work on local processes only");
        }
      } catch (SocketException e) {
        throw new KvctlException(Exit.LOCAL_ERROR, "cannot list local addresses: " + e);
      }
    }
    OptionalLong pid;
    try {
      pid = LocalProcesses.pidOfUdpPort(node.getPort());
    } catch (IOException e) {
      throw new KvctlException(Exit.LOCAL_ERROR, "cannot read /proc: " + e);
    }
    if (pid.isEmpty()) {
      throw new KvctlException(Exit.LOCAL_ERROR, "no local process listens on UDP port "
          + node.getPort());
    }
    return pid.getAsLong();
  }
}
