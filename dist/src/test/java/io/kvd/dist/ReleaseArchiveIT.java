package io.kvd.dist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvd.testkit.KvdCluster;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves that the release archive `mvn package` builds is all an operator needs: unpacked into an
 * empty folder (with the build tree out of reach: the launchers must find their jars in the
 * release's lib/), it holds the launchers, jars, completions, man pages and the systemd unit;
 * {@code bin/kvd --help} works; and {@code bin/kvd cluster} starts 3 members from the release's
 * own jar that {@code bin/kvctl} then writes to and reads from.
 */
class ReleaseArchiveIT {
  private static final long STEP_TIMEOUT_S = 120;

  @TempDir
  Path folder;

  @Test
  void unpackedReleaseRunsALocalCluster() throws Exception {
    Path archive = Paths.get(System.getProperty("kvd.release"));
    assertTrue(Files.isRegularFile(archive), "no release archive at " + archive);
    Path unpacked = folder.resolve("unpacked");
    Files.createDirectories(unpacked);
    assertEquals(0, run(unpacked, List.of("tar", "-xzf", archive.toString(), "-C",
        unpacked.toString())).exitCode);
    Path home;
    try (Stream<Path> top = Files.list(unpacked)) {
      List<Path> entries = top.toList();
      assertEquals(1, entries.size(), "one top folder: " + entries);
      home = entries.get(0);
    }
    assertTrue(home.getFileName().toString().startsWith("kvd-"), home.toString());
    for (String tool : List.of("kvd", "kvctl", "kvbench")) {
      assertTrue(Files.isExecutable(home.resolve("bin/" + tool)), "bin/" + tool);
      assertTrue(Files.size(home.resolve("lib/" + tool + ".jar")) > 100_000, tool + ".jar");
      assertTrue(Files.isRegularFile(home.resolve("man/" + tool + ".1")), tool + ".1");
      assertTrue(Files.isRegularFile(home.resolve("completions/bash/" + tool)),
          "bash completion of " + tool);
      assertTrue(Files.isRegularFile(home.resolve("completions/zsh/_" + tool)),
          "zsh completion of " + tool);
    }
    String unit = Files.readString(home.resolve("systemd/kvd.service"));
    assertTrue(unit.contains("Restart=on-failure") && unit.contains("SuccessExitStatus=143"),
        unit);

    Result help = run(home, List.of("bin/kvd", "--help"));
    assertEquals(0, help.exitCode, help.output);
    assertTrue(help.output.contains("Usage: kvd"), help.output);

    int[] ports = KvdCluster.freeUdpPorts(3);
    int basePort = ports[0];
    Path servers = folder.resolve("cluster/servers.txt");
    ProcessBuilder cluster = command(home, List.of("bin/kvd", "cluster", "--nodes", "3",
        "--base-port", Integer.toString(basePort), "--servers-file", servers.toString(),
        "--no-cds"));
    Path clusterLog = folder.resolve("cluster.log");
    cluster.redirectErrorStream(true).redirectOutput(clusterLog.toFile());
    Process process = cluster.start();
    try {
      awaitLine(clusterLog, "every member counts 3", process);
      // Each member runs the release's jar, not the build tree's.
      List<String> memberJars = memberJars(home);
      assertEquals(3, memberJars.size(), "members from the release's lib/kvd.jar: "
          + memberJars);
      String kvctl = "bin/kvctl";
      List<String> target = List.of("--servers-file", servers.toString());
      assertEquals(0, run(home, concat(kvctl, target, "put", "release-key", "v1")).exitCode);
      Result get = run(home, concat(kvctl, target, "get", "release-key"));
      assertEquals(0, get.exitCode, get.output);
      assertEquals("v1", get.output.strip());
      Result members = run(home, concat(kvctl, target, "members"));
      assertEquals(0, members.exitCode, members.output);
    } finally {
      process.destroy(); // SIGTERM: kvd cluster stops every member it started
      if (!process.waitFor(30, TimeUnit.SECONDS)) {
        process.destroyForcibly();
      }
    }
    assertTrue(memberJars(home).isEmpty(), "members left running");
  }

  private static List<String> concat(String tool, List<String> options, String... rest) {
    List<String> all = new ArrayList<>();
    all.add(tool);
    all.addAll(options);
    all.addAll(List.of(rest));
    return all;
  }

  /** Command lines of running JVMs that run {@code home}'s lib/kvd.jar. */
  private static List<String> memberJars(Path home) throws IOException {
    String jar = home.resolve("lib/kvd.jar").toString();
    List<String> found = new ArrayList<>();
    try (Stream<Path> processes = Files.list(Paths.get("/proc"))) {
      for (Path p : processes.filter(p -> p.getFileName().toString().matches("\\d+"))
          .toList()) {
        try {
          String commandLine = new String(Files.readAllBytes(p.resolve("cmdline")),
              StandardCharsets.UTF_8).replace('\0', ' ');
          if (commandLine.contains(jar) && !commandLine.contains(" cluster ")) {
            found.add(commandLine);
          }
        } catch (IOException gone) {
          // the process ended while we looked
        }
      }
    }
    return found;
  }

  private static void awaitLine(Path log, String text, Process process) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(STEP_TIMEOUT_S);
    while (System.nanoTime() < deadline) {
      String content = Files.exists(log) ? Files.readString(log) : "";
      if (content.contains(text)) {
        return;
      }
      if (!process.isAlive()) {
        throw new AssertionError("kvd cluster exited " + process.exitValue() + ":\n" + content);
      }
      Thread.sleep(200);
    }
    throw new AssertionError("no '" + text + "' within " + STEP_TIMEOUT_S + " s:\n"
        + Files.readString(log));
  }

  private record Result(int exitCode, String output) {}

  private static ProcessBuilder command(Path home, List<String> command) {
    ProcessBuilder builder = new ProcessBuilder(command).directory(home.toFile());
    // Nothing may point the launchers back at the build tree.
    builder.environment().keySet().removeIf(name -> name.endsWith("_JAR"));
    builder.environment().put("KVCTL_HISTORY", "/dev/null");
    return builder;
  }

  private static Result run(Path home, List<String> command) throws Exception {
    Process process = command(home, command).redirectErrorStream(true).start();
    process.getOutputStream().close();
    byte[] output = process.getInputStream().readAllBytes();
    if (!process.waitFor(STEP_TIMEOUT_S, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      throw new AssertionError("timed out: " + command);
    }
    return new Result(process.exitValue(), new String(output, StandardCharsets.UTF_8));
  }
}
