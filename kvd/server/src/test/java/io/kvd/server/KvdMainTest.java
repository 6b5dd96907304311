package io.kvd.server;

import io.kvd.client.ServersFile;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * Proves, in process with captured stderr, that kvd and kvd cluster refuse bad arguments with exit
 * status 2 and a message that says what to fix, before binding or starting anything.
 */
class KvdMainTest {
  private record Run(int exitCode, String err) {}

  private static Run run(String... args) {
    StringWriter err = new StringWriter();
    CommandLine commandLine = new CommandLine(new KvdMain());
    commandLine.setErr(new PrintWriter(err, true));
    commandLine.setOut(new PrintWriter(new StringWriter(), true));
    int code = commandLine.execute(args);
    return new Run(code, err.toString());
  }

  private static Path serversFile(Path dir, String text) throws Exception {
    Path file = dir.resolve("servers.txt");
    Files.writeString(file, text, StandardCharsets.UTF_8);
    return file;
  }

  @Test
  void aNodeMissingFromTheServersFileIsAUsageError(@TempDir Path dir) throws Exception {
    Path file = serversFile(dir, "127.0.0.1:43100\n127.0.0.1:43101\n");
    Run run = run("--servers-file", file.toString(), "--host", "127.0.0.1", "--port", "43999");
    assertEquals(KvdMain.EXIT_USAGE, run.exitCode());
    assertTrue(run.err().contains("127.0.0.1:43999 (--host 127.0.0.1 --port 43999) is not one of"
        + " the 2 members"), run.err());
  }

  @Test
  void withoutHostTheNodeLooksForALocalEntryWithItsPort(@TempDir Path dir) throws Exception {
    Path file = serversFile(dir, "127.0.0.1:43100\n");
    Run run = run("--servers-file", file.toString(), "--port", "43999");
    assertEquals(KvdMain.EXIT_USAGE, run.exitCode());
    assertTrue(run.err().contains("no member of") && run.err().contains("has port 43999"),
        run.err());
  }

  @Test
  void anUnreadableOrMalformedServersFileIsAUsageError(@TempDir Path dir) throws Exception {
    Run missing = run("--servers-file", dir.resolve("absent.txt").toString());
    assertEquals(KvdMain.EXIT_USAGE, missing.exitCode());
    assertTrue(missing.err().contains("cannot read --servers-file"), missing.err());
    Path file = serversFile(dir, "127.0.0.1:43100\nnot a member\n");
    Run malformed = run("--servers-file", file.toString());
    assertEquals(KvdMain.EXIT_USAGE, malformed.exitCode());
    assertTrue(malformed.err().contains("servers.txt:2: expected host:port"), malformed.err());
  }

  @Test
  void outOfRangeOptionsAreUsageErrors() {
    assertEquals(KvdMain.EXIT_USAGE, run("--virtual-nodes", "0").exitCode());
    assertEquals(KvdMain.EXIT_USAGE, run("--fault-loss-pct", "101").exitCode());
    Run delay = run("--fault-delay-ms", "-5");
    assertEquals(KvdMain.EXIT_USAGE, delay.exitCode());
    assertTrue(delay.err().contains("fault delay and jitter"), delay.err());
    assertEquals(KvdMain.EXIT_USAGE, run("--port", "70000").exitCode());
  }

  @Test
  void badMetricsAndLogOptionsAreUsageErrors() {
    Run port = run("--metrics-port", "0");
    assertEquals(KvdMain.EXIT_USAGE, port.exitCode());
    assertTrue(port.err().contains("--metrics-port must be in 1..65535"), port.err());
    Run host = run("--metrics-host", "127.0.0.1");
    assertEquals(KvdMain.EXIT_USAGE, host.exitCode());
    assertTrue(host.err().contains("--metrics-host needs --metrics-port"), host.err());
    Run level = run("--log-level", "LOUD");
    assertEquals(KvdMain.EXIT_USAGE, level.exitCode());
    assertTrue(level.err().contains("--log-level") && level.err().contains("WARN"), level.err());
  }

  @Test
  void aClusterKeyFileMustBeAKeyReadableByItsOwnerOnly(@TempDir Path dir) throws Exception {
    String hex = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n";
    Path open = dir.resolve("open.key");
    Files.writeString(open, hex, StandardCharsets.UTF_8);
    Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rw-r--r--"));
    Run readable = run("--cluster-key-file", open.toString());
    assertEquals(KvdMain.EXIT_USAGE, readable.exitCode());
    assertTrue(readable.err().contains("--cluster-key-file " + open + ": permissions rw-r--r--")
        && readable.err().contains("chmod 600"), readable.err());
    assertFalse(readable.err().contains("00112233"), "never the key: " + readable.err());

    Path groupWritable = dir.resolve("group.key");
    Files.writeString(groupWritable, hex, StandardCharsets.UTF_8);
    Files.setPosixFilePermissions(groupWritable, PosixFilePermissions.fromString("rw--w----"));
    assertEquals(KvdMain.EXIT_USAGE, run("--cluster-key-file", groupWritable.toString())
        .exitCode());

    Path shortKey = dir.resolve("short.key");
    Files.writeString(shortKey, hex.substring(0, 62), StandardCharsets.UTF_8);
    Files.setPosixFilePermissions(shortKey, PosixFilePermissions.fromString("rw-------"));
    Run tooShort = run("--cluster-key-file", shortKey.toString());
    assertEquals(KvdMain.EXIT_USAGE, tooShort.exitCode());
    assertTrue(tooShort.err().contains("not a cluster key") && tooShort.err().contains("32"),
        tooShort.err());

    Run directory = run("--cluster-key-file", dir.toString());
    assertEquals(KvdMain.EXIT_USAGE, directory.exitCode());
    assertTrue(directory.err().contains("not a regular file"), directory.err());
    Run missing = run("--cluster-key-file", dir.resolve("absent.key").toString());
    assertEquals(KvdMain.EXIT_USAGE, missing.exitCode());
    assertTrue(missing.err().contains("no such file"), missing.err());
  }

  @Test
  void clusterRefusesBadSizesAndPorts() {
    Run none = run("cluster", "--nodes", "0");
    assertEquals(KvdMain.EXIT_USAGE, none.exitCode());
    assertTrue(none.err().contains("--nodes must be in 1..1024"), none.err());
    Run high = run("cluster", "--nodes", "10", "--base-port", "65530");
    assertEquals(KvdMain.EXIT_USAGE, high.exitCode());
    assertTrue(high.err().contains("65530..65539"), high.err());
    assertEquals(KvdMain.EXIT_USAGE, run("cluster", "--nodes", "3", "--heap", "lots").exitCode());
    assertEquals(KvdMain.EXIT_USAGE, run("cluster").exitCode(), "--nodes is required");
  }
}
