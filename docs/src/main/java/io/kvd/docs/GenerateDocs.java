package io.kvd.docs;

import io.kvd.ctl.KvctlMain;
import io.kvd.ctl.Session;
import io.kvd.bench.KvbenchMain;
import io.kvd.server.KvdMain;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.asciidoctor.Asciidoctor;
import org.asciidoctor.Attributes;
import org.asciidoctor.Options;
import org.asciidoctor.SafeMode;
import org.asciidoctor.log.Severity;
import picocli.AutoComplete;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.codegen.docgen.manpage.ManPageGenerator;

/**
 * Generates the tools' shell completions and the AsciiDoc sources of their man pages from their
 * picocli command trees, deterministically (no dates, paths or versions of the machine):
 *
 * <ul>
 *   <li>{@code OUT/completions/bash/NAME}: picocli's bash completion script;
 *   <li>{@code OUT/completions/zsh/_NAME}: the same script for zsh, run by its bashcompinit, usable
 *       from {@code $fpath} (autoloaded by compinit) or sourced;
 *   <li>{@code ADOC/_generated/PAGE.adoc}: picocli's man page of each command and subcommand
 *       (PAGE is {@code kvctl}, {@code kvctl-get}, {@code kvctl-fault-set}...), with section
 *       headings tidied and subcommands referring to their own pages;
 *   <li>{@code ADOC/_generated/PAGE-see-also.adoc}: a SEE ALSO section naming the related pages;
 *   <li>{@code ADOC/PAGE.adoc}: the page to render: the hand-written {@code TEMPLATES/PAGE.adoc}
 *       when there is one (it includes the generated sections it wants, by tag, and adds prose),
 *       else the whole generated page and its SEE ALSO.
 * </ul>
 *
 * <p>AsciidoctorJ then renders each {@code ADOC/PAGE.adoc} to {@code OUT/man/PAGE.1} (troff), with
 * no date and "kvd VERSION" as the source; a warning fails the generation.
 *
 * <p>Usage: {@code GenerateDocs --out DIR --adoc DIR --templates DIR --project-version VERSION
 * [--update true --kvd-home DIR --module DIR]}.
 */
public final class GenerateDocs {
  /** Where picocli's pages go, under the AsciiDoc directory ('_': not rendered by itself). */
  static final String GENERATED = "_generated";
  /** The width of the usage text picocli lays out, fixed so that no terminal changes it. */
  private static final int USAGE_WIDTH = 80;

  /** A documented tool: its command's name and how to build its command line. */
  record Tool(String name, Supplier<CommandLine> commandLine) {}

  /**
   * The documented tools, in the order their pages name each other. Documenting another tool is
   * one line here (and its module as a dependency of this one).
   */
  static final List<Tool> TOOLS = List.of(
      new Tool("kvd", () -> new CommandLine(new KvdMain())),
      new Tool("kvctl", () -> KvctlMain.commandLine(new KvctlMain(emptySession()))),
      new Tool("kvbench", () -> new CommandLine(new KvbenchMain(System.out, System.err,
          false))));

  private GenerateDocs() {}

  /** The command line of the generator, as the docs module's pom runs it. */
  @Command(name = "generate-docs", mixinStandardHelpOptions = true,
      description = "Generates the completions and man pages into --out.")
  static final class Arguments implements Callable<Integer> {
    @Option(names = "--out", required = true, paramLabel = "DIR",
        description = "Where completions/ and man/ go.")
    Path out;

    @Option(names = "--adoc", required = true, paramLabel = "DIR",
        description = "Where the AsciiDoc sources of the man pages go.")
    Path adoc;

    @Option(names = "--templates", required = true, paramLabel = "DIR",
        description = "The hand-written pages (PAGE.adoc).")
    Path templates;

    @Option(names = "--project-version", required = true, paramLabel = "VERSION",
        description = "The version the man pages name.")
    String version;

    @Option(names = "--update", arity = "1", paramLabel = "true|false",
        description = "Then copy the generated files over the committed ones.")
    boolean update;

    @Option(names = "--kvd-home", paramLabel = "DIR",
        description = "Maven's multi-module project directory (the repository's root).")
    String kvdHome;

    @Option(names = "--module", paramLabel = "DIR", description = "The docs module's directory.")
    Path module;

    @Override
    public Integer call() throws IOException {
      long startNanos = System.nanoTime();
      List<String> pages = generate(out, adoc, templates);
      render(adoc, pages, out.resolve("man"), version);
      System.out.printf("GenerateDocs: %d completion scripts and %d man pages in %s (%.1f s)%n",
          2 * TOOLS.size(), pages.size(), out, (System.nanoTime() - startNanos) / 1e9);
      if (update) {
        if (module == null) {
          throw new IllegalArgumentException("--update needs --module");
        }
        Path root = CommittedDocs.repoRoot(kvdHome, module);
        List<CommittedDocs.Difference> changed = CommittedDocs.update(out, root);
        System.out.printf("GenerateDocs: updated %d committed files in %s%s%n", changed.size(),
            root, changed.stream().map(d -> "\n  " + d).collect(Collectors.joining()));
      }
      return 0;
    }
  }

  /** Runs the generator; exits with a non-zero status on failure. */
  public static void main(String[] args) {
    int code = new CommandLine(new Arguments()).execute(args);
    if (code != 0) {
      System.exit(code);
    }
  }

  /** A session with no environment and no terminal: completions and pages depend on neither. */
  private static Session emptySession() {
    return new Session(System.out, System.err, System.in, false, Map.of());
  }

  /** Writes the completions and the AsciiDoc sources; returns the pages' names. */
  static List<String> generate(Path out, Path adoc, Path templates) throws IOException {
    deleteTree(out.resolve("completions"));
    deleteTree(out.resolve("man"));
    deleteTree(adoc);
    Map<String, Page> pages = new LinkedHashMap<>();
    for (Tool tool : TOOLS) {
      CommandLine commandLine = tool.commandLine().get();
      commandLine.setUsageHelpWidth(USAGE_WIDTH);
      commandLine.setUsageHelpAutoWidth(false);
      String bash = AutoComplete.bash(tool.name(), commandLine);
      write(out.resolve("completions/bash/" + tool.name()), bashScript(tool.name(), bash));
      write(out.resolve("completions/zsh/_" + tool.name()), zshScript(tool.name(), bash));
      collectPages(commandLine.getCommandSpec(), null, pages);
    }
    Set<String> unused = new TreeSet<>(templateNames(templates));
    for (Page page : pages.values()) {
      write(adoc.resolve(GENERATED + "/" + page.name + ".adoc"), tidy(page.adoc(), pages));
      write(adoc.resolve(GENERATED + "/" + page.name + "-see-also.adoc"), seeAlso(page, pages));
      Path template = templates.resolve(page.name + ".adoc");
      String source;
      if (Files.exists(template)) {
        source = Files.readString(template, StandardCharsets.UTF_8);
        unused.remove(page.name);
      } else {
        source = "include::" + GENERATED + "/" + page.name
            + ".adoc[tag=picocli-generated-full-manpage]\n\n"
            + "include::" + GENERATED + "/" + page.name + "-see-also.adoc[]\n";
      }
      write(adoc.resolve(page.name + ".adoc"), source);
    }
    if (!unused.isEmpty()) {
      throw new IllegalStateException("templates in " + templates + " name no command: " + unused
          + "; the pages are " + pages.keySet());
    }
    return new ArrayList<>(pages.keySet());
  }

  /** Renders {@code ADOC/PAGE.adoc} to {@code MAN/PAGE.1} for each page; fails on a warning. */
  static void render(Path adoc, List<String> pages, Path man, String version) throws IOException {
    Files.createDirectories(man);
    List<String> problems = new ArrayList<>();
    try (Asciidoctor asciidoctor = Asciidoctor.Factory.create()) {
      asciidoctor.registerLogHandler(record -> {
        if (record.getSeverity().compareTo(Severity.WARN) >= 0) {
          problems.add(record.getSeverity() + ": " + record.getMessage()
              + (record.getCursor() != null ? " (" + record.getCursor() + ")" : ""));
        }
      });
      Attributes attributes = Attributes.builder()
          .attribute("reproducible", "")
          .attribute("mansource", "kvd " + version)
          .attribute("manmanual", "kvd Manual")
          .attribute("revnumber", version)
          .build();
      Options options = Options.builder()
          .backend("manpage")
          .docType("manpage")
          .standalone(true)
          .safe(SafeMode.SAFE)
          .baseDir(adoc.toFile())
          .toFile(false)
          .attributes(attributes)
          .build();
      for (String page : pages) {
        String troff = asciidoctor.convertFile(adoc.resolve(page + ".adoc").toFile(), options);
        write(man.resolve(page + ".1"), troff.endsWith("\n") ? troff : troff + "\n");
      }
    }
    if (!problems.isEmpty()) {
      throw new IllegalStateException("Asciidoctor warned while rendering the man pages:\n  "
          + String.join("\n  ", problems));
    }
  }

  /** One man page: a command or subcommand, with its parent's and its subcommands' pages. */
  private static final class Page {
    final String name;
    final CommandSpec spec;
    final Page parent;
    final List<Page> children = new ArrayList<>();

    Page(CommandSpec spec, Page parent) {
      this.name = spec.qualifiedName("-");
      this.spec = spec;
      this.parent = parent;
    }

    String adoc() {
      StringWriter text = new StringWriter();
      try (PrintWriter writer = new PrintWriter(text)) {
        ManPageGenerator.writeSingleManPage(writer, spec);
      }
      return text.toString().replace("\r\n", "\n");
    }
  }

  /**
   * A page for {@code spec} and, depth first, each of its subcommands once (not per alias),
   * except hidden ones and picocli's {@code help}, which {@code --help} documents.
   */
  private static void collectPages(CommandSpec spec, Page parent, Map<String, Page> pages) {
    Page page = new Page(spec, parent);
    pages.put(page.name, page);
    if (parent != null) {
      parent.children.add(page);
    }
    Set<CommandSpec> done = Collections.newSetFromMap(new IdentityHashMap<>());
    for (CommandLine sub : spec.subcommands().values()) {
      CommandSpec subSpec = sub.getCommandSpec();
      if (done.add(subSpec) && !subSpec.usageMessage().hidden()
          && !(subSpec.userObject() instanceof CommandLine.HelpCommand)) {
        collectPages(subSpec, page, pages);
      }
    }
  }

  private static final Pattern SECTION_TAG =
      Pattern.compile("^// tag::picocli-generated-man-section-(.*)\\[\\]$");
  private static final Pattern HEADING = Pattern.compile("^(==+) +(.*?):?$");
  private static final Pattern XREF_TERM = Pattern.compile("^xref:([^\\[]+)\\.adoc\\[(.*)\\]::$");
  /** " -- " would become an em dash in AsciiDoc; "\--" keeps it two hyphens. */
  private static final Pattern DOUBLE_DASH = Pattern.compile("(?<=^| )--(?= |$)");
  /** The end of a first sentence: a period and a space. */
  private static final Pattern SENTENCE_END = Pattern.compile("\\.\\s");

  /**
   * Tidies picocli's page for a man page: the NAME line keeps the first sentence of the
   * description (the rest is in DESCRIPTION), each line of the description is a paragraph of its
   * own (as in the usage help), headings lose a trailing colon ("Exit codes" becomes "Exit status",
   * the man pages' name), a subcommand's entry names its page instead of an AsciiDoc cross
   * reference (which a man page cannot follow), and a lone "--" stays two hyphens.
   */
  static String tidy(String adoc, Map<String, Page> pages) {
    List<String> result = new ArrayList<>();
    String section = "";
    String pendingSee = null;
    for (String line : adoc.lines().collect(Collectors.toList())) {
      Matcher tag = SECTION_TAG.matcher(line);
      if (tag.matches()) {
        section = tag.group(1);
      }
      if (line.isEmpty() && pendingSee != null) {
        result.add("+");
        result.add("See *" + pendingSee + "*(1).");
        pendingSee = null;
      }
      if (line.startsWith("//") || line.startsWith(":") || line.startsWith("[%")
          || line.startsWith("= ")) {
        result.add(line);
        continue;
      }
      Matcher heading = HEADING.matcher(line);
      if (heading.matches()) {
        String title = heading.group(2).startsWith("Exit codes") ? "Exit status"
            : heading.group(2);
        result.add(heading.group(1) + " " + title);
        continue;
      }
      Matcher xref = XREF_TERM.matcher(line);
      if (xref.matches()) {
        result.add(xref.group(2) + "::");
        pendingSee = pages.containsKey(xref.group(1)) ? xref.group(1) : null;
        continue;
      }
      String text = DOUBLE_DASH.matcher(line).replaceAll("\\\\--");
      if (section.equals("name") && !text.isEmpty()) {
        Matcher end = SENTENCE_END.matcher(text);
        text = end.find() ? text.substring(0, end.start()) : text;
        text = text.endsWith(".") ? text.substring(0, text.length() - 1) : text;
      } else if (section.equals("description") && !text.isEmpty() && !result.isEmpty()
          && !result.get(result.size() - 1).isEmpty()
          && !result.get(result.size() - 1).startsWith("==")) {
        result.add("");
      }
      result.add(text);
    }
    return String.join("\n", result) + "\n";
  }

  /** SEE ALSO: the parent's page, the subcommands' pages, and for a tool the other tools'. */
  private static String seeAlso(Page page, Map<String, Page> pages) {
    List<String> names = new ArrayList<>();
    if (page.parent != null) {
      names.add(page.parent.name);
    }
    for (Page child : page.children) {
      names.add(child.name);
    }
    if (page.parent == null) {
      for (Tool tool : TOOLS) {
        if (!tool.name().equals(page.name) && pages.containsKey(tool.name())) {
          names.add(tool.name());
        }
      }
    }
    return "// tag::see-also[]\n== See also\n\n"
        + names.stream().map(n -> "*" + n + "*(1)").collect(Collectors.joining(", "))
        + "\n// end::see-also[]\n";
  }

  private static String generatedNote(String name, String comment) {
    return comment + " Generated from " + name + "'s command tree by io.kvd.docs.GenerateDocs;"
        + " do not edit. To update:\n" + comment + "   " + CommittedDocs.UPDATE_COMMAND + "\n";
  }

  /** picocli's script, with a note after the first line that it is generated. */
  static String bashScript(String name, String bash) {
    int firstLine = bash.indexOf('\n') + 1;
    return bash.substring(0, firstLine) + generatedNote(name, "#") + bash.substring(firstLine);
  }

  /**
   * The bash script for zsh: picocli's script defines the completion with bash's {@code
   * complete}, which zsh's bashcompinit provides. Sourced (after compinit), that is all it takes.
   * Autoloaded from {@code $fpath} as the completion function {@code _NAME}, it then completes the
   * word at hand; later completions go straight to the bash function it registered.
   */
  static String zshScript(String name, String bash) {
    String body = bash.substring(bash.indexOf('\n') + 1);
    return "#compdef " + name + "\n"
        + "# Zsh completion for " + name + ": its bash completion run by zsh's bashcompinit.\n"
        + generatedNote(name, "#")
        + "#\n"
        + "# Install: copy this file, named _" + name + ", to a directory of $fpath before\n"
        + "# compinit runs (see the README), or source it from ~/.zshrc after compinit.\n"
        + "\n"
        + "if ! (( $+functions[compdef] )); then\n"
        + "  autoload -U +X compinit && compinit\n"
        + "fi\n"
        + "autoload -U +X bashcompinit && bashcompinit\n"
        + "# bash's compopt sets options of the completion at hand, which zsh lacks. picocli's\n"
        + "# script aliases it, but a function autoloaded from $fpath is read without aliases.\n"
        + "(( $+functions[compopt] )) || function compopt { return 0; }\n"
        + "\n"
        + "# ---- picocli's bash completion for " + name + " ----\n"
        + body
        + "# ---- end of picocli's bash completion ----\n"
        + "\n"
        + "# Autoloaded by compinit as the function _" + name + " (rather than sourced): complete"
        + " the\n# current word now, as later completions will through the registration above.\n"
        + "if [[ ${funcstack[1]-} == _" + name + " ]]; then\n"
        + "  _bash_complete -F _complete_" + name + " -o default\n"
        + "fi\n";
  }

  private static Set<String> templateNames(Path templates) throws IOException {
    Set<String> names = new TreeSet<>();
    if (Files.isDirectory(templates)) {
      try (Stream<Path> files = Files.list(templates)) {
        files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".adoc"))
            .forEach(n -> names.add(n.substring(0, n.length() - ".adoc".length())));
      }
    }
    return names;
  }

  private static void write(Path file, String text) throws IOException {
    Files.createDirectories(file.getParent());
    Files.writeString(file, text, StandardCharsets.UTF_8);
  }

  static void deleteTree(Path root) throws IOException {
    if (!Files.exists(root)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(root)) {
      paths.sorted(Collections.reverseOrder()).forEach(p -> {
        try {
          Files.delete(p);
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      });
    }
  }
}
