package io.kvd.ctl;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import org.jline.reader.EndOfFileException;
import org.jline.reader.LineReader;
import org.jline.reader.LineReaderBuilder;
import org.jline.reader.UserInterruptException;
import org.jline.reader.impl.DefaultParser;
import org.jline.terminal.Terminal;
import org.jline.terminal.Terminal.Signal;
import org.jline.terminal.TerminalBuilder;
import org.jline.widget.AutosuggestionWidgets;
import picocli.shell.jline3.PicocliJLineCompleter;

/**
 * The interactive shell: a JLine line reader over the same command tree, with a prompt naming the
 * cluster, a history file, tab completion of commands, options, node addresses and the keys used
 * in this session, history-based hints (shown greyed, accepted with the right arrow), Ctrl-C
 * cancelling the running command (or the line being typed) and Ctrl-D or exit leaving.
 */
final class Shell {
  private final KvctlMain launch;

  Shell(KvctlMain launch) {
    this.launch = launch;
  }

  int run() throws IOException {
    Session session = launch.session();
    try (Terminal terminal = TerminalBuilder.builder().system(true).build()) {
      KvctlMain completionRoot = new KvctlMain(session);
      completionRoot.inheritGlobals(launch);
      LineReaderBuilder builder = LineReaderBuilder.builder()
          .terminal(terminal)
          .appName("kvctl")
          // picocli's AutoComplete, which honours completionCandidates (node addresses, keys).
          .completer(new PicocliJLineCompleter(
              KvctlMain.commandLine(completionRoot).getCommandSpec()))
          .parser(new DefaultParser())
          .variable(LineReader.HISTORY_SIZE, 10_000)
          .variable(LineReader.HISTORY_FILE_SIZE, 10_000);
      Path history = historyFile();
      if (history != null) {
        builder.variable(LineReader.HISTORY_FILE, history);
      }
      LineReader reader = builder.build();
      new AutosuggestionWidgets(reader).enable();
      session.shellTerminal = terminal;
      session.confirmer = question -> {
        try {
          return reader.readLine(question).trim().toLowerCase(Locale.ROOT).startsWith("y");
        } catch (UserInterruptException | EndOfFileException e) {
          return false;
        }
      };
      String prompt = prompt();
      terminal.writer().println("kvctl shell: help lists the commands; Tab completes; Ctrl-C"
          + " cancels; Ctrl-D or exit leaves.");
      ScriptRunner runner = new ScriptRunner(launch);
      while (true) {
        String line;
        try {
          line = reader.readLine(prompt);
        } catch (UserInterruptException e) {
          continue;
        } catch (EndOfFileException e) {
          break;
        }
        String text = line.strip();
        if (text.isEmpty() || text.startsWith("#")) {
          continue;
        }
        if (text.equals("exit") || text.equals("quit")) {
          break;
        }
        Thread shellThread = Thread.currentThread();
        Terminal.SignalHandler previous = terminal.handle(Signal.INT, s -> shellThread.interrupt());
        try {
          runner.runLine(text, null);
        } finally {
          terminal.handle(Signal.INT, previous);
          Thread.interrupted();
        }
        session.out.flush();
        session.err.flush();
      }
      reader.getHistory().save();
      session.shellTerminal = null;
      session.confirmer = null;
      return Exit.OK;
    }
  }

  /** ~/.kvctl_history unless --history-file says otherwise; null (none) for /dev/null. */
  private Path historyFile() {
    Path path = launch.historyFile();
    if (path == null) {
      return Path.of(System.getProperty("user.home"), ".kvctl_history");
    }
    return path.toString().equals("/dev/null") ? null : path;
  }

  private String prompt() {
    try {
      List<InetSocketAddress> nodes = launch.nodes();
      String first = KvctlMain.name(nodes.get(0));
      return "kvctl " + first + (nodes.size() > 1 ? " (+" + (nodes.size() - 1) + ")" : "")
          + "> ";
    } catch (KvctlException e) {
      return "kvctl (no nodes)> ";
    }
  }
}
