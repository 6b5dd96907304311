package io.kvd.ctl;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A terminal program driven as a person would drive it: a tmux server of its own (a private socket
 * and configuration, so neither the user's tmux nor their ~/.tmux.conf is involved) runs each
 * program in a detached session of fixed size, a real pseudo-terminal; {@link Pane#type} and
 * {@link Pane#press} send keys (tmux send-keys) and {@link Pane#await} polls the screen and the
 * cursor (tmux capture-pane, display-message) until an expectation holds, failing with the screen
 * after a bounded wait. Panes stay on screen after their program exits.
 */
final class TmuxSupport implements AutoCloseable {
  /** How long one tmux command may take. */
  private static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(10);
  private static final long POLL_MS = 100;

  private final Path socket;
  private final Path config;

  TmuxSupport(Path dir) throws IOException {
    this.socket = dir.resolve("tmux.sock");
    this.config = dir.resolve("tmux.conf");
    Files.writeString(config, String.join("\n",
        "set -g remain-on-exit on",
        "set -g status off",
        "set -g history-limit 5000",
        "set -g escape-time 0",
        ""), StandardCharsets.UTF_8);
  }

  /** The tmux executable, or null when tmux is not installed. */
  static String executable() {
    for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
      Path candidate = Path.of(dir.isEmpty() ? "." : dir, "tmux");
      if (Files.isExecutable(candidate)) {
        return candidate.toString();
      }
    }
    return Files.isExecutable(Path.of("/usr/bin/tmux")) ? "/usr/bin/tmux" : null;
  }

  /** Runs one tmux command on this server; returns its output, failing on a non-zero exit. */
  String tmux(String... args) throws IOException, InterruptedException {
    String tmux = executable();
    if (tmux == null) {
      throw new IOException("tmux is not installed");
    }
    List<String> command = new ArrayList<>(List.of(tmux, "-S", socket.toString(), "-f",
        config.toString()));
    command.addAll(Arrays.asList(args));
    ProcessBuilder builder = new ProcessBuilder(command)
        .redirectErrorStream(true)
        .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
    // Not a client of the tmux the tests may run in: this server is started fresh.
    builder.environment().remove("TMUX");
    builder.environment().remove("TMUX_PANE");
    Process process = builder.start();
    // The output (a screen at most) fits in the pipe: wait first, so that the wait is bounded.
    if (!process.waitFor(COMMAND_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
      process.destroyForcibly();
      throw new IOException("tmux " + String.join(" ", args) + " did not finish within "
          + COMMAND_TIMEOUT);
    }
    String text = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (process.exitValue() != 0) {
      throw new IOException("tmux " + String.join(" ", args) + " exited with "
          + process.exitValue() + ": " + text);
    }
    return text;
  }

  /**
   * Runs {@code command} (a program and its arguments, executed without a shell) in a new
   * detached session {@code name} of {@code width} x {@code height} cells.
   */
  Pane start(String name, int width, int height, List<String> command)
      throws IOException, InterruptedException {
    List<String> args = new ArrayList<>(List.of("new-session", "-d", "-s", name, "-x",
        Integer.toString(width), "-y", Integer.toString(height), "--"));
    args.addAll(command);
    tmux(args.toArray(new String[0]));
    return new Pane(name, height);
  }

  /** Stops the server: every session and the programs in them (they get SIGHUP). */
  @Override
  public void close() {
    try {
      if (Files.exists(socket)) {
        tmux("kill-server");
      }
    } catch (IOException | InterruptedException e) {
      if (e instanceof InterruptedException) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /** What the pane shows at one moment. */
  record Screen(List<String> lines, int cursorX, int cursorY, boolean dead) {
    /** The row the cursor is on. */
    String cursorLine() {
      return cursorY < lines.size() ? lines.get(cursorY) : "";
    }

    /** The line's text left of the cursor (what was typed, at a prompt). */
    String beforeCursor() {
      String line = cursorLine();
      return line.substring(0, Math.min(line.length(), cursorX));
    }

    /** The line's text from the cursor on (a greyed suggestion, say). */
    String fromCursor() {
      String line = cursorLine();
      return line.substring(Math.min(line.length(), cursorX));
    }

    boolean anyLineMatches(String regex) {
      return lines.stream().anyMatch(l -> l.matches(regex));
    }

    @Override
    public String toString() {
      StringBuilder text = new StringBuilder();
      text.append("---- screen (cursor at column ").append(cursorX).append(", row ")
          .append(cursorY).append(dead ? ", its program has exited" : "")
          .append(") ----\n");
      int last = lines.size();
      while (last > 0 && lines.get(last - 1).isBlank()) {
        last--;
      }
      for (String line : lines.subList(0, last)) {
        text.append(line).append('\n');
      }
      return text.append("---- end of screen ----").toString();
    }
  }

  /** One session's pane. */
  final class Pane {
    private final String name;
    private final int height;

    Pane(String name, int height) {
      this.name = name;
      this.height = height;
    }

    /** Types {@code text} literally (no key names). */
    void type(String text) throws IOException, InterruptedException {
      tmux("send-keys", "-t", name, "-l", text);
    }

    /** Presses keys by tmux name: Enter, Tab, Up, C-c, C-d... */
    void press(String... keys) throws IOException, InterruptedException {
      List<String> args = new ArrayList<>(List.of("send-keys", "-t", name));
      args.addAll(Arrays.asList(keys));
      tmux(args.toArray(new String[0]));
    }

    /** The screen and the cursor, read by one tmux invocation. */
    Screen screen() throws IOException, InterruptedException {
      String out = tmux("capture-pane", "-p", "-t", name, ";", "display-message", "-p", "-t",
          name, "#{cursor_x},#{cursor_y},#{pane_dead}");
      List<String> lines = new ArrayList<>(Arrays.asList(out.split("\n", -1)));
      while (!lines.isEmpty() && lines.get(lines.size() - 1).isEmpty()) {
        lines.remove(lines.size() - 1);
      }
      String[] state = lines.remove(lines.size() - 1).trim().split(",", -1);
      while (lines.size() > height) {
        lines.remove(lines.size() - 1);
      }
      return new Screen(lines, Integer.parseInt(state[0]), Integer.parseInt(state[1]),
          state[2].equals("1"));
    }

    /**
     * Polls the screen until {@code expectation} holds, at most {@code timeout}; returns that
     * screen, or fails with {@code what} and the last screen seen.
     */
    Screen await(String what, Duration timeout, Predicate<Screen> expectation)
        throws IOException, InterruptedException {
      long deadline = System.nanoTime() + timeout.toNanos();
      Screen screen = screen();
      while (!expectation.test(screen)) {
        if (System.nanoTime() > deadline) {
          return fail("not seen within " + timeout.toSeconds() + " s: " + what + "\n" + screen);
        }
        Thread.sleep(POLL_MS);
        screen = screen();
      }
      return screen;
    }

    void kill() {
      try {
        tmux("kill-session", "-t", name);
      } catch (IOException | InterruptedException e) {
        if (e instanceof InterruptedException) {
          Thread.currentThread().interrupt();
        }
      }
    }
  }
}
