package io.kvd.ctl;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.jline.reader.impl.DefaultParser;

/**
 * Script mode: one command per line (shell-like quoting, '#' comments, blank lines skipped), each
 * run as its one-shot form would be. It stops at the first line that fails and exits with its
 * code, unless --keep-going, which runs every line and still exits with the first failure's code.
 */
final class ScriptRunner {
  /** Characters of one script line at most; a longer one is a usage error. */
  static final int LINE_LENGTH_MAX = 1 << 20;

  private final KvctlMain launch;
  private final DefaultParser parser = new DefaultParser();

  ScriptRunner(KvctlMain launch) {
    this.launch = launch;
  }

  int runFile(Path file) {
    try (InputStream in = Files.newInputStream(file)) {
      return run(in, file.toString());
    } catch (IOException e) {
      launch.session().err.println("kvctl: cannot read " + file + ": " + e.getMessage());
      return Exit.LOCAL_ERROR;
    }
  }

  int run(InputStream in, String source) throws IOException {
    BufferedReader reader = new BufferedReader(new InputStreamReader(in,
        StandardCharsets.UTF_8));
    int firstFailure = Exit.OK;
    int lineNumber = 0;
    for (String line = reader.readLine(); line != null; line = reader.readLine()) {
      lineNumber++;
      String where = source + ":" + lineNumber;
      String text = line.strip();
      if (text.isEmpty() || text.startsWith("#")) {
        continue;
      }
      int code;
      if (text.length() > LINE_LENGTH_MAX) {
        launch.session().err.println("kvctl: " + where + ": line longer than " + LINE_LENGTH_MAX);
        code = Exit.USAGE;
      } else {
        code = runLine(text, where);
      }
      if (code != Exit.OK) {
        if (firstFailure == Exit.OK) {
          firstFailure = code;
        }
        if (!launch.keepGoing()) {
          return code;
        }
      }
    }
    return firstFailure;
  }

  /** Runs one line as a command with the launch's global options as defaults. */
  int runLine(String text, String where) {
    List<String> words;
    try {
      words = parser.parse(text, text.length()).words();
    } catch (RuntimeException e) {
      launch.session().err.println("kvctl: " + where + ": " + e.getMessage());
      return Exit.USAGE;
    }
    words = words.stream().filter(w -> !w.isEmpty()).toList();
    KvctlMain root = new KvctlMain(launch.session());
    root.inheritGlobals(launch);
    root.location = where;
    return KvctlMain.commandLine(root).execute(words.toArray(String[]::new));
  }
}
