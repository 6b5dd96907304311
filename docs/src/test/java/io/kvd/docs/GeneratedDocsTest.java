package io.kvd.docs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * The committed completions and man pages are those the build generates (with {@code
 * -Dkvd.docs.update=true}, they are made so instead), the shells accept the completion scripts
 * and complete with them, and the man pages render without a warning. Each check of a tool skips
 * when the tool is not installed (.ci/run installs them).
 */
class GeneratedDocsTest {
  private static Path generated;
  private static Path root;

  @BeforeAll
  static void locate() throws IOException {
    generated = Path.of(System.getProperty("kvd.docs.generated", "target/generated-docs"))
        .toAbsolutePath();
    Path module = Path.of(System.getProperty("kvd.docs.module", "")).toAbsolutePath();
    root = CommittedDocs.repoRoot(System.getProperty("kvd.home"), module);
    for (String dir : CommittedDocs.DIRS) {
      assertTrue(Files.isDirectory(generated.resolve(dir)), generated.resolve(dir) + " is"
          + " missing: the build generates it before the tests (exec-maven-plugin, in"
          + " process-classes); run the tests through Maven");
    }
  }

  @Test
  void committedFilesAreTheGeneratedOnes() throws IOException {
    if (Boolean.getBoolean("kvd.docs.sync")) {
      List<CommittedDocs.Difference> changed = CommittedDocs.update(generated, root);
      System.out.println("kvd.docs.update: " + changed.size() + " committed files updated in "
          + root + changed.stream().map(d -> "\n  " + d).collect(Collectors.joining()));
    }
    List<CommittedDocs.Difference> differences = CommittedDocs.diff(generated, root);
    if (!differences.isEmpty()) {
      fail(CommittedDocs.report(differences, root));
    }
  }

  @Test
  void everyToolHasCompletionsAndAManPage() {
    for (GenerateDocs.Tool tool : GenerateDocs.TOOLS) {
      for (String path : List.of("completions/bash/" + tool.name(),
          "completions/zsh/_" + tool.name(), "man/" + tool.name() + ".1")) {
        assertTrue(Files.isRegularFile(generated.resolve(path)), path + " was not generated");
      }
    }
  }

  @Test
  void eachToolsPageCoversEverySubcommandWhichHasItsOwnPage() throws IOException {
    for (GenerateDocs.Tool tool : GenerateDocs.TOOLS) {
      String page = Files.readString(generated.resolve("man/" + tool.name() + ".1"),
          StandardCharsets.UTF_8);
      for (Map.Entry<String, CommandLine> sub
          : tool.commandLine().get().getSubcommands().entrySet()) {
        // troff: bold, and hyphens escaped.
        String name = "\\fB" + sub.getKey().replace("-", "\\-") + "\\fP";
        assertTrue(page.contains(name),
            tool.name() + ".1 does not list " + sub.getKey());
        if (!(sub.getValue().getCommand() instanceof CommandLine.HelpCommand)) {
          String own = sub.getValue().getCommandSpec().qualifiedName("-") + ".1";
          assertTrue(Files.isRegularFile(generated.resolve("man/" + own)), "no " + own);
        }
      }
    }
  }

  @Test
  void theToolsPagesHaveTheirHandWrittenSections() throws IOException {
    for (String tool : List.of("kvd", "kvctl")) {
      String page = Files.readString(generated.resolve("man/" + tool + ".1"),
          StandardCharsets.UTF_8);
      for (String section : List.of("DESCRIPTION", "EXIT STATUS", "ENVIRONMENT", "FILES",
          "EXAMPLES", "SEE ALSO")) {
        assertTrue(page.contains(".SH \"" + section + "\""), tool + ".1 lacks " + section);
      }
    }
    String kvd = Files.readString(generated.resolve("man/kvd.1"), StandardCharsets.UTF_8);
    assertTrue(kvd.contains("\\fBkvctl\\fP(1)"), "kvd.1 does not refer to kvctl(1)");
    assertTrue(kvd.contains("bin/kvd cluster \\-\\-nodes 5"), "kvd.1 lacks its example");
    String kvctl = Files.readString(generated.resolve("man/kvctl.1"), StandardCharsets.UTF_8);
    assertTrue(kvctl.contains("KVCTL_SERVERS"), "kvctl.1 does not name KVCTL_SERVERS");
    assertTrue(kvctl.contains(".kvctl_history"), "kvctl.1 does not name its history file");
  }

  @Test
  void generatedFilesNameNoMachineOrDate() throws IOException {
    List<String> found = new ArrayList<>();
    String[] local = {root.toString(), System.getProperty("user.home"),
        System.getProperty("java.version"), "Date:"};
    for (Path file : generatedFiles()) {
      String text = Files.readString(file, StandardCharsets.UTF_8);
      for (String s : local) {
        if (s != null && !s.isEmpty() && !s.equals("/") && text.contains(s)) {
          found.add(generated.relativize(file) + " contains \"" + s + "\"");
        }
      }
    }
    assertEquals(List.of(), found);
  }

  @Test
  void bashAcceptsTheBashCompletions() throws Exception {
    Path bash = requireProgram("bash");
    for (GenerateDocs.Tool tool : GenerateDocs.TOOLS) {
      Path script = generated.resolve("completions/bash/" + tool.name());
      Result result = run(List.of(bash.toString(), "-n", script.toString()), Map.of());
      assertTrue(result.ok(), "bash -n " + script + ":\n" + result);
    }
  }

  @Test
  void bashCompletesSubcommandsAndOptions() throws Exception {
    Path bash = requireProgram("bash");
    assertEquals(List.of("fault"), bashComplete(bash, "kvctl", "kvctl", "fa"));
    assertEquals(List.of("partition"), bashComplete(bash, "kvctl", "kvctl", "fault", "pa"));
    assertTrue(bashComplete(bash, "kvctl", "kvctl", "get", "--").containsAll(
        List.of("--hex", "--base64", "--via", "--node", "--output")));
    assertEquals(List.of("--nodes"), bashComplete(bash, "kvd", "kvd", "cluster", "--no"));
    assertEquals(List.of("--servers-file"), bashComplete(bash, "kvd", "kvd", "--serv"));
  }

  /** COMPREPLY of the tool's completion function for {@code words}, the last being completed. */
  private static List<String> bashComplete(Path bash, String tool, String... words)
      throws Exception {
    String script = "source \"$1\"; shift; COMP_WORDS=(\"$@\"); COMP_CWORD=$(($# - 1));"
        + " COMP_LINE=\"$*\"; COMP_POINT=${#COMP_LINE}; _complete_" + tool + " 2>/dev/null;"
        + " printf '%s\\n' \"${COMPREPLY[@]}\"";
    List<String> command = new ArrayList<>(List.of(bash.toString(), "--norc", "--noprofile",
        "-c", script, "complete-test",
        generated.resolve("completions/bash/" + tool).toString()));
    command.addAll(List.of(words));
    Result result = run(command, Map.of());
    assertTrue(result.ok(), String.join(" ", words) + ":\n" + result);
    return result.out().lines().filter(l -> !l.isBlank()).map(String::strip)
        .collect(Collectors.toList());
  }

  @Test
  void zshAcceptsAndRegistersTheZshCompletions() throws Exception {
    Path zsh = requireProgram("zsh");
    List<String> command = new ArrayList<>(List.of(zsh.toString(), "-f", "-c",
        // Sourced after compinit, as from ~/.zshrc: each tool's completion is registered.
        "autoload -U compinit && compinit -u -D; for tool; do source $tool:h/_$tool:t;"
            + " print -r -- \"$tool:t: $_comps[$tool:t]\"; done", "complete-test"));
    for (GenerateDocs.Tool tool : GenerateDocs.TOOLS) {
      Path script = generated.resolve("completions/zsh/_" + tool.name());
      Result parse = run(List.of(zsh.toString(), "-n", script.toString()), Map.of());
      assertTrue(parse.ok(), "zsh -n " + script + ":\n" + parse);
      command.add(generated.resolve("completions/zsh/" + tool.name()).toString());
    }
    Result sourced = run(command, Map.of());
    assertTrue(sourced.ok(), "sourcing the zsh completions:\n" + sourced);
    for (GenerateDocs.Tool tool : GenerateDocs.TOOLS) {
      assertTrue(sourced.out().contains(tool.name() + ": _bash_complete -F _complete_"
          + tool.name()), "sourced in zsh, _" + tool.name() + " registers no completion for "
          + tool.name() + ":\n" + sourced);
    }
  }

  @Test
  void groffRendersTheManPagesWithoutWarnings() throws Exception {
    Path groff = requireProgram("groff");
    for (Path page : manPages()) {
      Result result = run(List.of(groff.toString(), "-man", "-Tutf8", "-ww", "-z",
          page.toString()), Map.of());
      assertTrue(result.ok() && result.err().isBlank(), "groff -man -Tutf8 -ww " + page
          + ":\n" + result);
    }
  }

  @Test
  void manShowsTheToolsManPages() throws Exception {
    Path man = requireProgram("man");
    for (GenerateDocs.Tool tool : GenerateDocs.TOOLS) {
      Path page = generated.resolve("man/" + tool.name() + ".1");
      Result result = run(List.of(man.toString(), "-l", page.toString()),
          Map.of("MANPAGER", "cat", "PAGER", "cat", "MANWIDTH", "80"));
      assertTrue(result.ok(), "man -l " + page + ":\n" + result);
      assertTrue(result.out().contains("NAME") && result.out().contains("SYNOPSIS"),
          "man -l " + page + " shows no NAME or SYNOPSIS:\n" + result);
    }
  }

  @Test
  void theRepositoryRootIsFoundWhereverMavenRan() throws IOException {
    Path module = Path.of(System.getProperty("kvd.docs.module", "")).toAbsolutePath();
    Path parent = module.getParent();
    assertEquals(parent, CommittedDocs.repoRoot(parent.toString(), module));
    assertEquals(parent, CommittedDocs.repoRoot(module.toString(), module));
    assertEquals(parent, CommittedDocs.repoRoot(null, module));
    assertTrue(Files.isRegularFile(root.resolve("pom.xml")), root + " has no pom.xml");
  }

  private static List<Path> manPages() throws IOException {
    try (Stream<Path> files = Files.list(generated.resolve("man"))) {
      List<Path> pages = files.filter(p -> p.toString().endsWith(".1")).sorted()
          .collect(Collectors.toList());
      assertFalse(pages.isEmpty(), "no man pages in " + generated.resolve("man"));
      return pages;
    }
  }

  private static List<Path> generatedFiles() throws IOException {
    List<Path> result = new ArrayList<>();
    for (String dir : CommittedDocs.DIRS) {
      try (Stream<Path> files = Files.walk(generated.resolve(dir))) {
        files.filter(Files::isRegularFile).sorted().forEach(result::add);
      }
    }
    return result;
  }

  /** The program on the PATH; the test is skipped when there is none. */
  private static Path requireProgram(String name) {
    Optional<Path> found = Stream.of(System.getenv().getOrDefault("PATH", "")
            .split(File.pathSeparator))
        .filter(d -> !d.isEmpty())
        .map(d -> Path.of(d, name))
        .filter(Files::isExecutable)
        .findFirst();
    assumeTrue(found.isPresent(), name + " is not installed: skipped");
    return found.get();
  }

  private record Result(int code, String out, String err) {
    boolean ok() {
      return code == 0;
    }

    @Override
    public String toString() {
      return "exit status " + code + "\n--- stdout:\n" + out + "\n--- stderr:\n" + err;
    }
  }

  private static Result run(List<String> command, Map<String, String> env) throws Exception {
    ProcessBuilder builder = new ProcessBuilder(command).redirectInput(ProcessBuilder.Redirect.PIPE);
    builder.environment().putAll(env);
    Path out = Files.createTempFile("kvd-docs-test", ".out");
    Path err = Files.createTempFile("kvd-docs-test", ".err");
    try {
      Process process = builder.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
      process.getOutputStream().close();
      if (!process.waitFor(60, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor();
        return new Result(-1, Files.readString(out), "timed out after 60 s\n"
            + Files.readString(err));
      }
      return new Result(process.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
          Files.readString(err, StandardCharsets.UTF_8));
    } finally {
      Files.deleteIfExists(out);
      Files.deleteIfExists(err);
    }
  }
}
