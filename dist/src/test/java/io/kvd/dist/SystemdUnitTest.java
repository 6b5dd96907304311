package io.kvd.dist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * dist/src/main/systemd/kvd.service, the unit the release ships and the terraform module's
 * cloud-init installs: its settings, the JVM options it hands bin/kvd (run here with a stand-in
 * java), and systemd-analyze verify where systemd is installed.
 */
class SystemdUnitTest {
  static Path unitFile() {
    return TerraformModule.root().resolve("dist/src/main/systemd/kvd.service");
  }

  /** section to key to values (a key may repeat), comments and blank lines left out. */
  static Map<String, Map<String, List<String>>> parse(String text) {
    Map<String, Map<String, List<String>>> unit = new LinkedHashMap<>();
    Map<String, List<String>> section = null;
    for (String raw : text.split("\n")) {
      String line = raw.strip();
      if (line.isEmpty() || line.startsWith("#") || line.startsWith(";")) {
        continue;
      }
      assertFalse(line.endsWith("\\"), "no continuation lines: " + line);
      if (line.startsWith("[") && line.endsWith("]")) {
        section = unit.computeIfAbsent(line.substring(1, line.length() - 1),
            k -> new LinkedHashMap<>());
        continue;
      }
      assertNotNull(section, "setting outside a section: " + line);
      int eq = line.indexOf('=');
      assertTrue(eq > 0, "not a setting: " + line);
      section.computeIfAbsent(line.substring(0, eq).strip(), k -> new ArrayList<>())
          .add(line.substring(eq + 1).strip());
    }
    return unit;
  }

  static String one(Map<String, List<String>> section, String key) {
    List<String> values = section.get(key);
    assertNotNull(values, "no " + key);
    assertEquals(1, values.size(), key + " set more than once: " + values);
    return values.get(0);
  }

  /** systemd's word splitting of Environment=: whitespace outside double or single quotes. */
  static List<String> words(String value) {
    List<String> words = new ArrayList<>();
    StringBuilder word = new StringBuilder();
    char quote = 0;
    boolean inWord = false;
    for (char c : value.toCharArray()) {
      if (quote != 0) {
        if (c == quote) {
          quote = 0;
        } else {
          word.append(c);
        }
      } else if (c == '"' || c == '\'') {
        quote = c;
        inWord = true;
      } else if (Character.isWhitespace(c)) {
        if (inWord) {
          words.add(word.toString());
          word.setLength(0);
          inWord = false;
        }
      } else {
        word.append(c);
        inWord = true;
      }
    }
    assertEquals(0, quote, "unbalanced quote in " + value);
    if (inWord) {
      words.add(word.toString());
    }
    return words;
  }

  /** The unit's Environment= assignments. */
  static Map<String, String> environment(Map<String, List<String>> service) {
    Map<String, String> env = new LinkedHashMap<>();
    for (String value : service.getOrDefault("Environment", List.of())) {
      for (String assignment : words(value)) {
        int eq = assignment.indexOf('=');
        assertTrue(eq > 0, "Environment " + assignment);
        env.put(assignment.substring(0, eq), assignment.substring(eq + 1));
      }
    }
    return env;
  }

  @Test
  void theUnitRestartsOnFailureOnlyWithinAMemoryCeilingAsUserKvd() throws IOException {
    Map<String, Map<String, List<String>>> unit = parse(Files.readString(unitFile()));
    Map<String, List<String>> service = unit.get("Service");
    assertNotNull(service, "no [Service]");
    assertEquals("on-failure", one(service, "Restart"));
    assertTrue(words(one(service, "SuccessExitStatus")).contains("143"),
        "systemctl stop (SIGTERM, 143) is a success, so no restart");
    String memoryMax = one(service, "MemoryMax");
    assertTrue(memoryMax.matches("[0-9]+[KMG]"), "MemoryMax " + memoryMax);
    long bytes = Long.parseLong(memoryMax.substring(0, memoryMax.length() - 1))
        << switch (memoryMax.charAt(memoryMax.length() - 1)) {
          case 'K' -> 10;
          case 'M' -> 20;
          default -> 30;
        };
    assertTrue(bytes >= 2 * (64L << 20), "MemoryMax " + memoryMax + " leaves room above the heap");
    assertEquals("kvd", one(service, "User"));
    assertEquals("kvd", one(service, "Group"));
    assertEquals("-/etc/kvd/kvd.env", one(service, "EnvironmentFile"));

    List<String> exec = words(one(service, "ExecStart"));
    assertEquals("/opt/kvd/bin/kvd", exec.get(0));
    int serversFile = exec.indexOf("--servers-file");
    assertTrue(serversFile > 0, "ExecStart " + exec);
    assertEquals("/etc/kvd/servers.txt", exec.get(serversFile + 1));
    int port = exec.indexOf("--port");
    assertTrue(port > 0, "ExecStart " + exec);
    assertEquals("${KVD_PORT}", exec.get(port + 1));
    assertTrue(exec.contains("$KVD_OPTS"), "KVD_OPTS split into words: " + exec);

    Map<String, String> env = environment(service);
    assertEquals("43100", env.get("KVD_PORT"));
    assertEquals("64m", env.get("KVD_HEAP"));
    assertEquals("", env.get("KVD_OPTS"));
    assertTrue(words(env.get("KVD_JAVA_OPTS")).contains("-XX:+ExitOnOutOfMemoryError"),
        "KVD_JAVA_OPTS " + env.get("KVD_JAVA_OPTS"));

    assertTrue(one(unit.get("Unit"), "After").contains("network-online.target"));
    assertEquals("multi-user.target", one(unit.get("Install"), "WantedBy"));
  }

  /** bin/kvd run as the unit runs it, with a java that prints its arguments. */
  static List<String> launch(Path dir, Map<String, String> env, String... args)
      throws IOException {
    Path bin = Files.createDirectories(dir.resolve("bin"));
    Path java = bin.resolve("java");
    Files.writeString(java, "#!/bin/sh\nfor a in \"$@\"; do echo \"$a\"; done\n");
    Files.setPosixFilePermissions(java, PosixFilePermissions.fromString("rwxr-xr-x"));
    Path jar = dir.resolve("kvd.jar");
    Files.writeString(jar, "not a jar: the stand-in java does not read it");
    Map<String, String> all = new LinkedHashMap<>(env);
    all.put("PATH", bin + ":/usr/bin:/bin");
    all.put("KVD_JAR", jar.toString());
    List<String> command = new ArrayList<>(List.of("bash",
        TerraformModule.root().resolve("bin/kvd").toString()));
    command.addAll(List.of(args));
    TerraformModule.Result result = TerraformModule.run(command, dir.toFile(), 30, all);
    assertEquals(0, result.code(), "bin/kvd: " + result.err());
    return result.out().lines().toList();
  }

  @Test
  void theLauncherPassesTheUnitsHeapAndJvmOptionsToJava(@TempDir Path dir) throws IOException {
    Map<String, String> env = environment(parse(Files.readString(unitFile())).get("Service"));
    List<String> java = launch(dir, Map.of("KVD_HEAP", env.get("KVD_HEAP"), "KVD_JAVA_OPTS",
        env.get("KVD_JAVA_OPTS")), "--servers-file", "/etc/kvd/servers.txt", "--port", "43100");
    assertTrue(java.contains("-Xmx64m"), "java " + java);
    int jar = java.indexOf("-jar");
    assertTrue(jar > 0, "java " + java);
    int lastDefault = java.indexOf("-Xmx64m");
    for (String option : words(env.get("KVD_JAVA_OPTS"))) {
      int at = java.lastIndexOf(option);
      assertTrue(at > lastDefault && at < jar,
          option + " comes after the launcher's own options, so it wins: " + java);
    }
    assertEquals(List.of("--servers-file", "/etc/kvd/servers.txt", "--port", "43100"),
        java.subList(jar + 2, java.size()));

    List<String> bigger = launch(dir, Map.of("KVD_HEAP", "96m"), "--port", "43100");
    assertTrue(bigger.contains("-Xmx96m") && !bigger.contains("-Xmx64m"), "KVD_HEAP " + bigger);
  }

  /** systemd's own check of a copy whose ExecStart names an executable that exists here. */
  @Test
  void systemdAnalyzeVerifiesTheUnit(@TempDir Path dir) throws IOException {
    String analyze = TerraformModule.which("systemd-analyze");
    assumeTrue(analyze != null, "systemd-analyze is not installed");
    Path kvd = dir.resolve("kvd");
    Files.writeString(kvd, "#!/bin/sh\nexit 0\n");
    Files.setPosixFilePermissions(kvd, PosixFilePermissions.fromString("rwxr-xr-x"));
    String unit = Files.readString(unitFile());
    assertTrue(unit.contains("ExecStart=/opt/kvd/bin/kvd "));
    String copy = unit.replace("ExecStart=/opt/kvd/bin/kvd ", "ExecStart=" + kvd + " ");

    List<String> complaints = verify(analyze, dir, "kvd.service", copy);
    assertTrue(complaints.isEmpty(), "systemd-analyze verify:\n" + String.join("\n", complaints));
    // The same check on a broken copy complains: it is not a check that always passes.
    List<String> broken = verify(analyze, dir.resolve("broken"), "kvd.service",
        copy.replace("Restart=on-failure", "Restart=sometimes"));
    assertFalse(broken.isEmpty(), "systemd-analyze verify let Restart=sometimes through");
  }

  private static List<String> verify(String analyze, Path dir, String name, String text)
      throws IOException {
    Files.createDirectories(dir);
    Path file = dir.resolve(name);
    Files.writeString(file, text);
    TerraformModule.Result result = TerraformModule.run(
        List.of(analyze, "verify", "--man=no", file.toString()), dir.toFile(), 60);
    List<String> complaints = new ArrayList<>();
    (result.out() + "\n" + result.err()).lines()
        .filter(l -> l.contains(name))
        .forEach(complaints::add);
    if (result.code() != 0) {
      complaints.add("exit " + result.code() + ": " + result.err());
    }
    return complaints;
  }
}
