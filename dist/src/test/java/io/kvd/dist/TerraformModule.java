package io.kvd.dist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * The terraform/ module of the repository, parsed with a real HCL parser: the npm package
 * {@value #PARSER} (HashiCorp's HCL library compiled to WebAssembly), installed on first use into
 * dist/target/hcl2json with npm and run by node on src/test/resources/io/kvd/dist/hcl2json.js.
 * Parsed once per JVM.
 */
final class TerraformModule {
  static final String PARSER = "@cdktf/hcl2json@0.21.0";
  private static final String PARSER_VERSION = PARSER.substring(PARSER.lastIndexOf('@') + 1);
  private static final long NPM_TIMEOUT_S = 300;
  private static final long NODE_TIMEOUT_S = 60;

  static final ObjectMapper JSON = new ObjectMapper();

  private static Map<Path, JsonNode> parsed;

  private TerraformModule() {}

  /** The repository's root (the surefire property kvd.root, else the parent of the working dir). */
  static Path root() {
    String root = System.getProperty("kvd.root");
    Path path = root != null ? Path.of(root) : Path.of("").toAbsolutePath().getParent();
    return path.toAbsolutePath().normalize();
  }

  static Path dir() {
    return root().resolve("terraform");
  }

  /** Every .tf file under terraform/ (none in .terraform/, terraform's own working folder). */
  static List<Path> tfFiles() {
    try (Stream<Path> files = Files.walk(dir())) {
      return files
          .filter(p -> p.getFileName().toString().endsWith(".tf") && Files.isRegularFile(p))
          .filter(p -> !dir().relativize(p).toString().startsWith(".terraform"))
          .sorted()
          .collect(Collectors.toList());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static String read(Path file) {
    try {
      return Files.readString(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Each .tf file parsed: file to the parser's JSON. */
  static synchronized Map<Path, JsonNode> parsed() {
    if (parsed == null) {
      parsed = parse(tfFiles());
    }
    return parsed;
  }

  /** All files merged, as terraform reads a module: blocks of each type side by side. */
  static ObjectNode merged() {
    ObjectNode merged = JSON.createObjectNode();
    for (JsonNode file : parsed().values()) {
      mergeInto(merged, file);
    }
    return merged;
  }

  private static void mergeInto(ObjectNode into, JsonNode from) {
    for (Map.Entry<String, JsonNode> field : from.properties()) {
      JsonNode existing = into.get(field.getKey());
      if (existing == null) {
        into.set(field.getKey(), field.getValue().deepCopy());
      } else if (existing.isArray() && field.getValue().isArray()) {
        ((com.fasterxml.jackson.databind.node.ArrayNode) existing).addAll(
            (com.fasterxml.jackson.databind.node.ArrayNode) field.getValue().deepCopy());
      } else if (existing.isObject() && field.getValue().isObject()) {
        mergeInto((ObjectNode) existing, field.getValue());
      } else {
        fail("cannot merge " + field.getKey() + " across files");
      }
    }
  }

  /** The one block of a labelled type, e.g. block(m, "resource", "aws_instance", "node"). */
  static JsonNode block(JsonNode module, String... path) {
    JsonNode node = module;
    for (String name : path) {
      assertNotNull(node.get(name), "no " + String.join(".", path) + " in the module");
      node = node.get(name);
    }
    assertTrue(node.isArray() && node.size() == 1,
        String.join(".", path) + " should be defined once: " + node);
    return node.get(0);
  }

  /** The module's locals, all locals blocks merged. */
  static Map<String, JsonNode> locals(JsonNode module) {
    Map<String, JsonNode> locals = new LinkedHashMap<>();
    for (JsonNode block : module.path("locals")) {
      block.properties().forEach(e -> {
        assertTrue(locals.put(e.getKey(), e.getValue()) == null, "local." + e.getKey() + " twice");
      });
    }
    return locals;
  }

  /** An expression's source text, without the "${" "}" the parser wraps it in, spaces collapsed. */
  static String expr(JsonNode value) {
    assertNotNull(value, "missing expression");
    assertTrue(value.isTextual(), "not an expression: " + value);
    String text = value.asText();
    assertTrue(text.startsWith("${") && text.endsWith("}"), "not an expression: " + text);
    return text.substring(2, text.length() - 1).replaceAll("\\s+", " ").trim();
  }

  /** Runs the parser on the files: npm installs it first when it is not in dist/target yet. */
  static Map<Path, JsonNode> parse(List<Path> files) {
    assertTrue(!files.isEmpty(), "no .tf file under " + dir());
    Path pkg = ensureParser();
    Path script = scriptFile();
    List<String> command = new ArrayList<>(List.of(executable("node"), script.toString(),
        pkg.toString()));
    files.forEach(f -> command.add(f.toString()));
    Result result = run(command, root().toFile(), NODE_TIMEOUT_S);
    if (result.code != 0) {
      fail("the HCL parser rejected the module (exit " + result.code + "):\n" + result.err);
    }
    try {
      JsonNode all = JSON.readTree(result.out);
      Map<Path, JsonNode> byFile = new LinkedHashMap<>();
      for (Path file : files) {
        JsonNode one = all.get(file.toString());
        assertNotNull(one, "the parser said nothing about " + file);
        byFile.put(file, one);
      }
      return byFile;
    } catch (IOException e) {
      throw new UncheckedIOException("the parser's output is not JSON: " + result.out, e);
    }
  }

  /** dist/target/hcl2json/node_modules/@cdktf/hcl2json, installed by npm unless already there. */
  static synchronized Path ensureParser() {
    Path prefix = root().resolve("dist/target/hcl2json");
    Path pkg = prefix.resolve("node_modules/@cdktf/hcl2json");
    if (installedVersion(pkg).equals(PARSER_VERSION)) {
      return pkg;
    }
    String npm = executable("npm");
    try {
      Files.createDirectories(prefix);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    Result result = run(List.of(npm, "install", "--no-audit", "--no-fund",
        "--prefix", prefix.toString(), PARSER), prefix.toFile(), NPM_TIMEOUT_S);
    if (result.code != 0) {
      fail("npm could not install " + PARSER + " (exit " + result.code + "):\n" + result.err);
    }
    assertEquals(PARSER_VERSION, installedVersion(pkg), "npm installed " + pkg);
    return pkg;
  }

  private static String installedVersion(Path pkg) {
    Path manifest = pkg.resolve("package.json");
    if (!Files.isRegularFile(manifest)) {
      return "";
    }
    try {
      return JSON.readTree(manifest.toFile()).path("version").asText("");
    } catch (IOException e) {
      return "";
    }
  }

  /** hcl2json.js from the test resources, copied out when the resources are in a jar. */
  private static Path scriptFile() {
    try (InputStream in = TerraformModule.class.getResourceAsStream("hcl2json.js")) {
      assertNotNull(in, "test resource io/kvd/dist/hcl2json.js is missing");
      Path script = root().resolve("dist/target/hcl2json/hcl2json.js");
      Files.createDirectories(script.getParent());
      Files.write(script, in.readAllBytes());
      return script;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The program's path on PATH, or a failure that says how to get it. */
  static String executable(String name) {
    String found = which(name);
    if (found == null) {
      fail(name + " is not installed, and the terraform module's tests need node and npm to"
          + " parse it with " + PARSER + ": install them (Debian: apt-get install nodejs npm;"
          + " .ci/run does it)");
    }
    return found;
  }

  /** The program's path on PATH, or null. */
  static String which(String name) {
    String path = System.getenv("PATH");
    if (path == null) {
      return null;
    }
    for (String dir : path.split(File.pathSeparator)) {
      Path candidate = Path.of(dir.isEmpty() ? "." : dir, name);
      if (Files.isRegularFile(candidate) && Files.isExecutable(candidate)) {
        return candidate.toString();
      }
    }
    return null;
  }

  record Result(int code, String out, String err) {}

  /** Runs a command to its end (at most timeoutS; killed and failed after that). */
  static Result run(List<String> command, File dir, long timeoutS) {
    return run(command, dir, timeoutS, Map.of());
  }

  static Result run(List<String> command, File dir, long timeoutS, Map<String, String> env) {
    try {
      Path out = Files.createTempFile("kvd-dist-", ".out");
      Path err = Files.createTempFile("kvd-dist-", ".err");
      try {
        ProcessBuilder builder = new ProcessBuilder(command).directory(dir)
            .redirectOutput(out.toFile()).redirectError(err.toFile())
            .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        builder.environment().putAll(env);
        Process process = builder.start();
        if (!process.waitFor(timeoutS, TimeUnit.SECONDS)) {
          process.descendants().forEach(ProcessHandle::destroyForcibly);
          process.destroyForcibly();
          process.waitFor(10, TimeUnit.SECONDS);
          fail(String.join(" ", command) + " did not finish in " + timeoutS + " s:\n"
              + Files.readString(err));
        }
        return new Result(process.exitValue(), Files.readString(out), Files.readString(err));
      } finally {
        Files.deleteIfExists(out);
        Files.deleteIfExists(err);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
