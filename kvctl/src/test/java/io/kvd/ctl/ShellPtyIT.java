package io.kvd.ctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves that kvctl's interactive shell works for a person at a real terminal: a command and its
 * result, Tab completing a command and a key used in the session, Up recalling the previous
 * commands, Ctrl-D leaving with the commands in the history file, and Ctrl-C cancelling the line
 * being typed while the shell lives on. How: a local cluster of 3 kvd processes (bin/kvd cluster,
 * ports 46100-46102); each test runs {@code bin/kvctl --node ... --history-file FILE} in its own
 * detached tmux session (a real pseudo-terminal of 120 x 40, TERM=xterm-256color), types with
 * tmux send-keys, and polls tmux capture-pane and the cursor position, up to 10 s per expectation,
 * until the screen shows what a person would see. A line counts as typed or completed only when
 * the cursor stands after it, so the greyed history suggestions JLine draws to the right of the
 * cursor never pass for input. Also: Ctrl-C cancels a command that is waiting (at once, not at
 * its timeout), and top refreshes until q or Ctrl-C. Skipped when tmux is not installed.
 */
@Timeout(60)
class ShellPtyIT {
  private static final int BASE_PORT = 46100;
  private static final int WIDTH = 120;
  private static final int HEIGHT = 40;
  private static final Duration EXPECT = Duration.ofSeconds(10);
  /** The JVM's start-up, on a 2-core machine that also runs the cluster. */
  private static final Duration SHELL_START = Duration.ofSeconds(30);
  /** What the wrapper prints when kvctl exits. */
  private static final String EXITED = "\\[kvctl exited with status \\d+\\]";

  @TempDir
  static Path temp;

  private static LocalClusterSupport cluster;
  private static TmuxSupport tmux;
  private static int sessions;

  private TmuxSupport.Pane pane;
  private Path history;

  @BeforeAll
  @Timeout(120)
  static void startCluster() throws IOException, InterruptedException {
    assumeTrue(TmuxSupport.executable() != null, "tmux is not installed");
    tmux = new TmuxSupport(temp);
    cluster = LocalClusterSupport.start(3, BASE_PORT,
        Paths.get("target", "kvd-logs", "shell-pty").toAbsolutePath(), Duration.ofSeconds(90));
  }

  @AfterAll
  static void stopCluster() {
    if (tmux != null) {
      tmux.close();
    }
    if (cluster != null) {
      cluster.close();
    }
  }

  @AfterEach
  void killShell() {
    if (pane != null) {
      pane.kill();
    }
  }

  /** Starts the shell in a new session with its own empty history file; waits for its prompt. */
  private void startShell() throws IOException, InterruptedException {
    String name = "kvctl-" + ++sessions;
    history = temp.resolve(name + ".history");
    // bash runs kvctl and then prints its exit status: tmux 3.3 here sees a JVM's terminal close
    // but does not always reap it, so it would not know the status itself. bash waits out a
    // Ctrl-C that kvctl handles (it dies of SIGINT only if kvctl does).
    List<String> command = new ArrayList<>(List.of("bash", "-c",
        "\"$@\"; echo \"[kvctl exited with status $?]\"", "kvctl-shell",
        "env", "TERM=xterm-256color",
        LocalClusterSupport.home().resolve("bin").resolve("kvctl").toString(),
        "--node", node(), "--history-file", history.toString(),
        "--cluster-key-file", cluster.keyFile().toString()));
    pane = tmux.start(name, WIDTH, HEIGHT, command);
    pane.await("the shell's prompt '" + prompt() + "'", SHELL_START, s -> holds(s, ""));
  }

  private static String node() {
    return cluster.nodes().get(0);
  }

  private static String prompt() {
    return "kvctl " + node() + "> ";
  }

  /**
   * The cursor's line is the prompt followed by {@code input}, with the cursor after it (a
   * completed word may end in a space) and, unless {@code suggestionAllowed}, nothing drawn right
   * of the cursor: JLine draws a history suggestion there, which is not input.
   */
  private static boolean atPrompt(TmuxSupport.Screen screen, String input,
      boolean suggestionAllowed) {
    String expected = prompt() + input;
    return !screen.anyLineMatches(EXITED)
        && screen.beforeCursor().stripTrailing().equals(expected.stripTrailing())
        && screen.cursorX() >= expected.length()
        && (suggestionAllowed || screen.fromCursor().isBlank());
  }

  /** What we typed (a suggestion may follow it). */
  private static boolean typed(TmuxSupport.Screen screen, String input) {
    return atPrompt(screen, input, true);
  }

  /** The line holds exactly {@code input}, as completion or recall left it. */
  private static boolean holds(TmuxSupport.Screen screen, String input) {
    return atPrompt(screen, input, false);
  }

  /** Types {@code line}, presses Enter, and waits for a line of output matching {@code regex}. */
  private void run(String line, String regex) throws IOException, InterruptedException {
    pane.type(line);
    pane.await("'" + line + "' typed", EXPECT, s -> typed(s, line));
    pane.press("Enter");
    pane.await("the output of '" + line + "': a line matching " + regex, EXPECT,
        s -> s.anyLineMatches(regex));
    pane.await("a new prompt after '" + line + "'", EXPECT, s -> holds(s, ""));
  }

  @Test
  void putThenGetPrintsTheValue() throws IOException, InterruptedException {
    startShell();
    run("put alpha one", "alpha\\s+OK \\(3 bytes\\)\\s*");
    // A terminal gets a table: KEY, VALUE, VERSION.
    run("get alpha", "alpha\\s+one\\s+\\d+\\s*");
  }

  @Test
  void tabCompletesACommand() throws IOException, InterruptedException {
    startShell();
    pane.type("lo");
    pane.await("'lo' typed", EXPECT, s -> typed(s, "lo"));
    pane.press("Tab");
    pane.await("'lo' + Tab completed to 'locate'", EXPECT, s -> holds(s, "locate"));
  }

  @Test
  void tabCompletesAKeyUsedInThisSession() throws IOException, InterruptedException {
    startShell();
    run("put alpha one", "alpha\\s+OK \\(3 bytes\\)\\s*");
    pane.type("get al");
    pane.await("'get al' typed", EXPECT, s -> typed(s, "get al"));
    pane.press("Tab");
    pane.await("'get al' + Tab completed to 'get alpha'", EXPECT,
        s -> holds(s, "get alpha"));
    pane.press("Enter");
    pane.await("the value of the completed key", EXPECT,
        s -> s.anyLineMatches("alpha\\s+one\\s+\\d+\\s*"));
  }

  @Test
  void upRecallsThePreviousCommands() throws IOException, InterruptedException {
    startShell();
    run("put beta two", "beta\\s+OK \\(3 bytes\\)\\s*");
    run("get beta", "beta\\s+two\\s+\\d+\\s*");
    pane.press("Up");
    pane.await("Up recalled 'get beta'", EXPECT, s -> holds(s, "get beta"));
    pane.press("Up");
    pane.await("Up again recalled 'put beta two'", EXPECT, s -> holds(s, "put beta two"));
  }

  @Test
  void ctrlDLeavesWithTheCommandsInTheHistoryFile() throws IOException, InterruptedException {
    startShell();
    run("put gamma three", "gamma\\s+OK \\(5 bytes\\)\\s*");
    run("get gamma", "gamma\\s+three\\s+\\d+\\s*");
    pane.press("C-d");
    pane.await("kvctl exiting with status 0 on Ctrl-D", EXPECT,
        s -> s.anyLineMatches("\\[kvctl exited with status 0\\]"));
    // JLine writes one "EPOCH_MS:LINE" per command.
    List<String> commands = new ArrayList<>();
    Pattern entry = Pattern.compile("^\\d+:(.*)$");
    for (String line : Files.readAllLines(history, StandardCharsets.UTF_8)) {
      var m = entry.matcher(line);
      commands.add(m.matches() ? m.group(1) : line);
    }
    assertEquals(List.of("put gamma three", "get gamma"), commands,
        "the commands in " + history);
  }

  @Test
  void ctrlCCancelsTheLineAndTheShellLivesOn() throws IOException, InterruptedException {
    startShell();
    pane.type("put doomed x");
    pane.await("'put doomed x' typed", EXPECT, s -> typed(s, "put doomed x"));
    pane.press("C-c");
    pane.await("an empty prompt after Ctrl-C", EXPECT, s -> holds(s, ""));
    // The cancelled line never ran, and the shell still runs commands.
    run("get doomed", "kvctl: no such key: doomed\\s*");
  }

  @Test
  void ctrlCCancelsARunningCommand() throws IOException, InterruptedException {
    startShell();
    // A GET to a port where nothing answers, with a 20 s timeout: only Ctrl-C ends it sooner.
    String line = "get k --node 127.0.0.1:1 --timeout-ms 20000 --retries 0";
    pane.type(line);
    pane.await("the command typed", EXPECT, s -> typed(s, line));
    pane.press("Enter");
    Thread.sleep(1_000);
    long pressedNanos = System.nanoTime();
    pane.press("C-c");
    pane.await("'cancelled' and a new prompt after Ctrl-C", EXPECT,
        s -> s.anyLineMatches(".*kvctl: cancelled.*") && holds(s, ""));
    double waitedS = (System.nanoTime() - pressedNanos) / 1e9;
    assertTrue(waitedS < 5, "cancelled at once, not after the"
        + " timeout: " + waitedS + " s");
    run("get doomed", "kvctl: no such key: doomed\\s*");
  }

  @Test
  void topRefreshesUntilQOrCtrlC() throws IOException, InterruptedException {
    startShell();
    pane.type("top");
    pane.await("'top' typed", EXPECT, s -> typed(s, "top"));
    pane.press("Enter");
    pane.await("the dashboard", EXPECT,
        s -> s.anyLineMatches("kvctl top .*1 node, 1 answering.*"));
    pane.press("q");
    pane.await("the prompt again after q", EXPECT, s -> holds(s, ""));
    pane.type("top");
    pane.await("'top' typed again", EXPECT, s -> typed(s, "top"));
    pane.press("Enter");
    pane.await("the dashboard again", EXPECT,
        s -> s.anyLineMatches("kvctl top .*1 node, 1 answering.*"));
    pane.press("C-c");
    pane.await("the prompt again after Ctrl-C", EXPECT, s -> holds(s, ""));
    run("get doomed", "kvctl: no such key: doomed\\s*");
  }
}
