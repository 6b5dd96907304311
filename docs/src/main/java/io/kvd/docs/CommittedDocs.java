package io.kvd.docs;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * The generated files as committed at the repository's root ({@code completions/}, {@code man/}),
 * compared with those the build generated into {@code docs/target/generated-docs}, and updated
 * from them.
 */
public final class CommittedDocs {
  /** The directories, under the generated directory and under the repository's root. */
  public static final List<String> DIRS = List.of("completions", "man");
  /**
   * The command that regenerates the files and copies them over the committed ones, run from the
   * repository's root. It compiles the tools (-am) but runs no test; the same switch on {@code
   * mvn -pl docs -am verify} does it too.
   */
  public static final String UPDATE_COMMAND =
      "mvn -B -q -pl docs -am process-classes -Dkvd.docs.update=true";

  private CommittedDocs() {}

  /** A file that differs: its path under the root, and how. */
  public record Difference(String path, String what) {
    @Override
    public String toString() {
      return path + ": " + what;
    }
  }

  /**
   * The repository's root: {@code kvdHome} (Maven's multi-module project directory, which is where
   * mvn ran unless a .mvn directory says otherwise) when it holds this docs module, else the
   * module's parent directory.
   */
  public static Path repoRoot(String kvdHome, Path module) throws IOException {
    if (kvdHome != null && !kvdHome.isBlank()) {
      Path home = Path.of(kvdHome);
      Path docs = home.resolve("docs");
      if (Files.isDirectory(docs) && Files.isSameFile(docs, module)) {
        return home.toAbsolutePath().normalize();
      }
    }
    return module.toAbsolutePath().normalize().getParent();
  }

  /** Every difference between the generated files and the committed ones, in path order. */
  public static List<Difference> diff(Path generated, Path root) throws IOException {
    List<Difference> differences = new ArrayList<>();
    for (String dir : DIRS) {
      TreeSet<String> paths = new TreeSet<>(files(generated.resolve(dir), dir));
      paths.addAll(files(root.resolve(dir), dir));
      for (String path : paths) {
        Path made = generated.resolve(path);
        Path committed = root.resolve(path);
        if (!Files.exists(committed)) {
          differences.add(new Difference(path, "generated but not committed"));
        } else if (!Files.exists(made)) {
          differences.add(new Difference(path, "committed but no longer generated"));
        } else {
          byte[] a = Files.readAllBytes(committed);
          byte[] b = Files.readAllBytes(made);
          if (!Arrays.equals(a, b)) {
            differences.add(new Difference(path, firstDifference(a, b)));
          }
        }
      }
    }
    return differences;
  }

  /** Makes the committed files those generated; returns what it changed. */
  public static List<Difference> update(Path generated, Path root) throws IOException {
    List<Difference> differences = diff(generated, root);
    for (Difference d : differences) {
      Path made = generated.resolve(d.path());
      Path committed = root.resolve(d.path());
      if (Files.exists(made)) {
        Files.createDirectories(committed.getParent());
        Files.copy(made, committed, StandardCopyOption.REPLACE_EXISTING);
      } else {
        Files.delete(committed);
      }
    }
    return differences;
  }

  /** The message of a failed comparison: what differs, and how to update. */
  public static String report(List<Difference> differences, Path root) {
    return "The committed shell completions and man pages in " + root + " differ from those"
        + " generated from the tools' command trees and docs/src/main/asciidoc ("
        + differences.size() + " files):\n"
        + differences.stream().map(d -> "  " + d).collect(Collectors.joining("\n"))
        + "\nIf the change is intended, regenerate and copy them, from the repository's root:\n"
        + "  " + UPDATE_COMMAND + "\n"
        + "then review and commit completions/ and man/ (edit docs/src/main/asciidoc, never the"
        + " generated files).";
  }

  private static List<String> files(Path dir, String prefix) throws IOException {
    if (!Files.isDirectory(dir)) {
      return List.of();
    }
    try (Stream<Path> paths = Files.walk(dir)) {
      return paths.filter(Files::isRegularFile)
          .map(p -> prefix + "/" + dir.relativize(p).toString().replace('\\', '/'))
          .sorted()
          .collect(Collectors.toList());
    }
  }

  /** Where two versions of a file first differ, by line, for the report. */
  private static String firstDifference(byte[] committed, byte[] generated) {
    List<String> a = new String(committed, StandardCharsets.UTF_8).lines()
        .collect(Collectors.toList());
    List<String> b = new String(generated, StandardCharsets.UTF_8).lines()
        .collect(Collectors.toList());
    for (int i = 0; i < Math.max(a.size(), b.size()); i++) {
      String x = i < a.size() ? a.get(i) : null;
      String y = i < b.size() ? b.get(i) : null;
      if (x == null || !x.equals(y)) {
        return "differs from line " + (i + 1) + " (committed " + a.size() + " lines, generated "
            + b.size() + "): committed " + quote(x) + ", generated " + quote(y);
      }
    }
    return "differs in line endings or a final newline";
  }

  private static String quote(String line) {
    if (line == null) {
      return "(end of file)";
    }
    return "\"" + (line.length() > 100 ? line.substring(0, 100) + "..." : line) + "\"";
  }
}
