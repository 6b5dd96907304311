package io.kvd.ctl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.kvd.core.Addresses;
import io.kvd.core.NodeConfig;
import io.kvd.core.cluster.Ring;
import io.kvd.testkit.KvdCluster;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves every kvctl command in its modes and output formats, with the documented exit codes:
 * data commands (text and binary values, values from arguments, files and stdin), addressing
 * (--node, --servers-file, KVCTL_SERVERS), ping, pid, members, ring, locate, stats, top, fault
 * (set, list, partition, heal, clear, with refusals at the bounds), wipeout (with the shell's
 * confirmation), script mode (stop at the first failure, --keep-going, -f), usage errors and
 * unreachable nodes. How: three kvd nodes run in this JVM (the real core behind the real Netty
 * shell, on loopback) and kvctl runs in-process with captured stdin, stdout, stderr and exit
 * code. SHUTDOWN, suspend and resume end or stop processes, so KvctlProcessIT covers them.
 */
@Timeout(120)
class KvctlCommandsTest {
  private static final int SIZE = 3;
  private static final ObjectMapper JSON = new ObjectMapper();
  private static InProcessCluster cluster;
  private static List<String> names;
  private static long[] addresses;
  private static String nodeList;

  @BeforeAll
  static void startCluster() throws Exception {
    cluster = InProcessCluster.start(SIZE, 7_000, 31, 17, null);
    names = cluster.names;
    addresses = cluster.addresses;
    nodeList = cluster.nodeList();
  }

  @AfterAll
  static void stopCluster() {
    cluster.close();
  }

  /** What one kvctl run printed and returned. */
  record Result(int code, byte[] stdout, String stderr) {
    String out() {
      return new String(stdout, StandardCharsets.UTF_8);
    }

    JsonNode json() {
      try {
        return JSON.readTree(stdout);
      } catch (IOException e) {
        throw new AssertionError("not JSON: " + out(), e);
      }
    }
  }

  private static Result run(byte[] stdin, boolean terminal, Map<String, String> env,
      Session.Confirmer confirmer, String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    try (Session session = new Session(new PrintStream(out, true), new PrintStream(err, true),
        new ByteArrayInputStream(stdin), terminal, env)) {
      session.confirmer = confirmer;
      int code = KvctlMain.run(session, args);
      return new Result(code, out.toByteArray(), err.toString(StandardCharsets.UTF_8));
    }
  }

  /** Piped (plain output), addressed with KVCTL_SERVERS. */
  private static Result kvctl(String... args) {
    return run(new byte[0], false, Map.of("KVCTL_SERVERS", nodeList), null, args);
  }

  private static Result kvctlWithStdin(String stdin, String... args) {
    return run(stdin.getBytes(StandardCharsets.UTF_8), false, Map.of("KVCTL_SERVERS", nodeList),
        null, args);
  }

  private static void assertExit(int expected, Result result) {
    assertEquals(expected, result.code(), "exit code; stdout: " + result.out() + "; stderr: "
        + result.stderr());
  }

  @Test
  void putGetRemoveInEveryFormat() {
    assertExit(Exit.OK, kvctl("put", "fruit", "apple"));
    Result plain = kvctl("get", "fruit");
    assertExit(Exit.OK, plain);
    assertEquals("apple", plain.out(), "piped: the bare value, as $(kvctl get k) wants it");
    assertEquals("", plain.stderr());

    Result table = kvctl("-o", "table", "get", "fruit");
    assertTrue(table.out().startsWith("KEY"), table.out());
    assertTrue(table.out().contains("fruit  apple  0"), table.out());
    Result onTerminal = run(new byte[0], true, Map.of("KVCTL_SERVERS", nodeList), null, "get",
        "fruit");
    assertEquals(table.out(), onTerminal.out(), "a table by default on a terminal");

    JsonNode json = kvctl("get", "fruit", "-o", "json").json();
    assertEquals("apple", json.get("value").asText());
    assertEquals("YXBwbGU=", json.get("valueBase64").asText());
    assertEquals(0, json.get("version").asInt());

    assertExit(Exit.OK, kvctl("put", "fruit", "pear", "--version", "7"));
    assertEquals(7, kvctl("-o", "json", "get", "fruit").json().get("version").asInt());
    assertExit(Exit.OK, kvctl("remove", "fruit"));
    Result gone = kvctl("get", "fruit");
    assertExit(Exit.NOT_FOUND, gone);
    assertEquals("", gone.out(), "nothing on stdout for an absent key");
    assertTrue(gone.stderr().contains("no such key: fruit"), gone.stderr());
    assertExit(Exit.NOT_FOUND, kvctl("rm", "fruit"));
  }

  @Test
  void valuesAreBinarySafeFromArgumentsFilesAndStdin(@TempDir Path dir) throws IOException {
    byte[] binary = {0, 1, 2, (byte) 0xFF, '\n', 0x7F};
    String hex = HexFormat.of().formatHex(binary);
    assertExit(Exit.OK, kvctl("put", "--hex", "6b6579", hex));
    Result raw = kvctl("get", "key");
    assertArrayEquals(binary, raw.stdout(), "piped get writes the stored bytes exactly");
    assertEquals(hex + "\n", kvctl("get", "--hex", "6b6579").out(), "--hex: key and value");
    assertEquals("AAEC/wp/\n", kvctl("get", "--base64", "a2V5").out());
    assertTrue(kvctl("-o", "table", "get", "key").out().contains("0x" + hex),
        "a table shows binary values in hex");

    Path file = dir.resolve("value.bin");
    Files.write(file, binary);
    assertExit(Exit.OK, kvctl("put", "from-file", "--file", file.toString()));
    assertArrayEquals(binary, kvctl("get", "from-file").stdout());

    assertExit(Exit.OK, kvctlWithStdin("from stdin\n", "put", "piped", "--stdin"));
    assertEquals("from stdin\n", kvctl("get", "piped").out());
    assertExit(Exit.OK, kvctlWithStdin("dash", "put", "dash", "-"));
    assertEquals("dash", kvctl("get", "dash").out());
    assertExit(Exit.OK, kvctlWithStdin("AAEC/wp/", "put", "YjY0", "--stdin", "--base64"));
    assertArrayEquals(binary, kvctl("get", "b64").stdout());

    assertExit(Exit.USAGE, kvctl("put", "k", "v", "--file", file.toString()));
    assertExit(Exit.USAGE, kvctl("put", "k"));
    assertExit(Exit.USAGE, kvctl("put", "--hex", "zz", "00"));
    assertExit(Exit.USAGE, kvctl("get", "--hex", "--base64", "00"));
  }

  @Test
  void serverErrorsAreExit4AtTheProtocolsLimits() {
    String longest = "v".repeat(NodeConfig.VALUE_LENGTH_MAX);
    assertExit(Exit.OK, kvctl("put", "big", longest));
    assertEquals(longest, kvctl("get", "big").out());
    Result tooLong = kvctl("put", "big", longest + "v");
    assertExit(Exit.SERVER_ERROR, tooLong);
    assertTrue(tooLong.stderr().contains("INVALID_VALUE"), tooLong.stderr());
    String keyMax = "k".repeat(NodeConfig.KEY_LENGTH_MAX);
    assertExit(Exit.OK, kvctl("put", keyMax, "v"));
    Result keyTooLong = kvctl("put", keyMax + "k", "v");
    assertExit(Exit.SERVER_ERROR, keyTooLong);
    assertTrue(keyTooLong.stderr().contains("INVALID_KEY"), keyTooLong.stderr());
    // The errors show by code in stats once their second has closed (within about 1 s).
    long deadlineNanos = System.nanoTime() + 3_000_000_000L;
    String stats = "";
    while (!stats.contains("INVALID_KEY 1") && System.nanoTime() < deadlineNanos) {
      stats = kvctl("-o", "table", "stats").out();
    }
    assertTrue(stats.contains("INVALID_KEY 1"), "errors by code: " + stats);
  }

  @Test
  void theClusterIsAddressedByNodeServersFileOrEnvironment(@TempDir Path dir) throws IOException {
    assertExit(Exit.OK, kvctl("put", "where", "here"));
    Map<String, String> none = Map.of();
    Result viaNode = run(new byte[0], false, none, null, "--node", names.get(1), "get", "where");
    assertEquals("here", viaNode.out());
    Result optionAfterCommand = run(new byte[0], false, none, null, "get", "where", "-n",
        names.get(2));
    assertEquals("here", optionAfterCommand.out(), "global options also after the command");
    Path servers = dir.resolve("servers.txt");
    Files.writeString(servers, "# a comment\n" + String.join("\n", names) + "\n");
    assertEquals("here", run(new byte[0], false, none, null, "--servers-file",
        servers.toString(), "get", "where").out());
    assertEquals("here", run(new byte[0], false, Map.of("KVCTL_SERVERS",
        String.join(" ", names)), null, "get", "where").out(), "spaces separate too");

    Result noNodes = run(new byte[0], false, none, null, "get", "where");
    assertExit(Exit.USAGE, noNodes);
    assertTrue(noNodes.stderr().contains("KVCTL_SERVERS"), noNodes.stderr());
    assertExit(Exit.USAGE, run(new byte[0], false, none, null, "--node", "nowhere", "get", "x"));
    assertExit(Exit.LOCAL_ERROR, run(new byte[0], false, none, null, "--servers-file",
        dir.resolve("missing").toString(), "get", "x"));
  }

  @Test
  void anUnreachableNodeIsExit3() throws IOException {
    int silent = KvdCluster.freeUdpPorts(1)[0];
    Map<String, String> none = Map.of();
    Result get = run(new byte[0], false, none, null, "--node", "127.0.0.1:" + silent,
        "--timeout-ms", "20", "--retries", "1", "get", "k");
    assertExit(Exit.UNREACHABLE, get);
    assertTrue(get.stderr().contains("no reply"), get.stderr());
    Result ping = run(new byte[0], false, none, null, "--timeout-ms", "20", "--retries", "0",
        "-o", "json", "ping", names.get(0), "127.0.0.1:" + silent);
    assertExit(Exit.UNREACHABLE, ping);
    assertTrue(ping.json().get(0).get("alive").asBoolean());
    assertTrue(ping.json().get(0).get("rttUs").asLong() > 0);
    assertFalse(ping.json().get(1).get("alive").asBoolean());
  }

  @Test
  void pingAndPidAskEveryNodeByDefault() {
    Result ping = kvctl("-o", "table", "is-alive");
    assertExit(Exit.OK, ping);
    for (String name : names) {
      assertTrue(ping.out().contains(name), ping.out());
    }
    assertEquals(SIZE, kvctl("ping").out().split("\n").length, "one plain row per node");
    JsonNode pids = kvctl("-o", "json", "pid").json();
    for (int i = 0; i < SIZE; i++) {
      assertEquals(7_000 + i, pids.get(i).get("pid").asInt());
    }
    assertEquals("7001\n", kvctl("pid", names.get(1)).out(), "one node piped: the bare pid");
  }

  @Test
  void membersRingAndLocateShowTheClusterAsTheNodesSeeIt() {
    JsonNode members = kvctl("-o", "json", "members").json();
    assertEquals(names.get(0), members.get("node").asText(), "the first node that answers");
    assertEquals(SIZE, members.get("liveCount").asInt());
    assertEquals(SIZE, members.get("members").size());
    for (JsonNode m : members.get("members")) {
      assertEquals("ALIVE", m.get("status").asText());
    }
    Result table = kvctl("-o", "table", "members", names.get(2));
    assertTrue(table.out().contains("View of " + names.get(2)), table.out());
    assertTrue(table.out().contains(names.get(2) + " (self)"), table.out());

    JsonNode ring = kvctl("-o", "json", "ring").json();
    assertEquals(SIZE, ring.get("up").asInt());
    double shares = 0;
    for (JsonNode m : ring.get("members")) {
      shares += m.get("ownsShare").asDouble();
      assertEquals(64, m.get("virtualNodes").asInt());
      assertTrue(m.get("reachable").asBoolean());
    }
    assertEquals(1.0, shares, 1e-9, "the shares cover the key space");
    Result ringTable = kvctl("-o", "table", "ring");
    assertTrue(ringTable.out().contains("UP alive"), "a legend: " + ringTable.out());
    assertTrue(ringTable.out().contains(SIZE + " members: " + SIZE + " up, 0 suspect, 0 down"),
        "a summary: " + ringTable.out());

    JsonNode locate = kvctl("-o", "json", "locate", "some-key").json();
    Ring expected = new Ring(addresses, 64);
    boolean[] live = {true, true, true};
    int[] replicas = new int[4];
    byte[] key = "some-key".getBytes(StandardCharsets.UTF_8);
    int n = expected.replicas(Ring.keyToken(key, 0, key.length), live, SIZE, replicas);
    assertEquals(n, locate.get("replicas").size(), "all 3 members (fewer than 4)");
    for (int i = 0; i < n; i++) {
      assertEquals(Addresses.toString(expected.member(replicas[i])),
          locate.get("replicas").get(i).get("node").asText());
    }
    assertEquals("primary", locate.get("replicas").get(0).get("role").asText());
    assertEquals(n, kvctl("locate", "some-key").out().split("\n").length);
  }

  @Test
  void statsAndTopReportPerNodeCounters() {
    for (int i = 0; i < 5; i++) {
      assertExit(Exit.OK, kvctl("put", "counted-" + i, "x"));
    }
    JsonNode stats = kvctl("-o", "json", "stats").json();
    assertEquals(SIZE, stats.size());
    long puts = 0;
    for (JsonNode node : stats) {
      assertTrue(node.get("reachable").asBoolean());
      puts += node.get("requests").get("PUT").asLong();
      assertTrue(node.get("counters").get("gossip.sent").asLong() > 0);
      assertTrue(node.get("storeBytesMax").asLong() > 0);
      assertTrue(node.get("heapMaxBytes").asLong() > 0);
    }
    assertTrue(puts >= 5, "the PUTs are counted where they ran: " + puts);
    long putLatencies = 0;
    for (JsonNode node : stats) {
      JsonNode put = node.get("latencyMs").get("PUT");
      if (put != null) {
        putLatencies += put.get("count").asLong();
        assertEquals(put.get("count").asLong(), put.get("buckets").get("inf").asLong());
      }
    }
    assertTrue(putLatencies >= 5, "each PUT's latency is counted where it was answered");
    Result table = kvctl("-o", "table", "stats");
    assertTrue(table.out().startsWith("NODE"), table.out());
    assertTrue(table.out().contains("ERRORS/S"), table.out());
    Result counters = kvctl("stats", "--counters", names.get(0));
    assertTrue(counters.out().contains("\tgossip.sent\t"), counters.out());
    assertTrue(counters.out().contains("\treplies.SUCCESS\t"), counters.out());
    assertTrue(counters.out().contains("\trepair.keysPushed\t"), counters.out());

    Result top = kvctl("-o", "json", "top", "--iterations", "2", "--interval-ms", "100");
    assertExit(Exit.OK, top);
    String[] refreshes = top.out().strip().split("\n");
    assertEquals(2, refreshes.length, "one JSON document per refresh: " + top.out());
    Result topTable = kvctl("-o", "table", "top", "--iterations", "1");
    assertTrue(topTable.out().contains(SIZE + " nodes, " + SIZE + " answering"), topTable.out());
    assertExit(Exit.USAGE, kvctl("top", "--interval-ms", "10"));
  }

  @Test
  void faultsAndPartitionsAreSetListedHealedAndCleared() throws Exception {
    try {
      faultsAndPartitions(names.get(0), names.get(1));
    } finally {
      kvctl("fault", "clear"); // whatever failed, leave the cluster whole for the other tests
    }
  }

  private void faultsAndPartitions(String a, String b) throws IOException {
    assertExit(Exit.OK, kvctl("fault", "set", a, "--duplicate-pct", "5", "--delay-ms", "1",
        "--expire-s", "60"));
    JsonNode list = kvctl("-o", "json", "fault", "list", a).json();
    assertEquals(5.0, list.get(0).get("faults").get("duplicatePct").asDouble());
    assertTrue(list.get(0).get("faults").get("remainingMs").asLong() > 50_000);
    assertTrue(kvctl("-o", "table", "fault", "list").out().contains("dup 5%, delay 1+-0 ms"));

    Result refused = kvctl("fault", "set", a, "--loss-pct", "101");
    assertExit(Exit.SERVER_ERROR, refused);
    assertTrue(refused.stderr().contains("percentages"), refused.stderr());
    assertExit(Exit.USAGE, kvctl("fault", "set", a, "--loss-pct", "1", "--expire-s", "0"));
    assertExit(Exit.USAGE, kvctl("fault", "set", a, "--expire-s", "86401"));
    assertExit(Exit.OK, kvctl("fault", "set", a, "--expire-s", "86400"));

    assertExit(Exit.OK, kvctl("fault", "partition", a, "--expire-s", "60"));
    JsonNode viewOfB = kvctl("-o", "json", "members", b).json();
    for (JsonNode m : viewOfB.get("members")) {
      assertEquals(m.get("address").asText().equals(a),
          !m.get("blockedRemainingMs").isNull(), "B blocks A only: " + m);
    }
    JsonNode viewOfA = kvctl("-o", "json", "members", a).json();
    int blocked = 0;
    for (JsonNode m : viewOfA.get("members")) {
      blocked += m.get("blockedRemainingMs").isNull() ? 0 : 1;
    }
    assertEquals(SIZE - 1, blocked, "A blocks everyone else");
    assertExit(Exit.USAGE, kvctl("fault", "partition", a, "--from", a));

    assertExit(Exit.OK, kvctl("fault", "heal"));
    for (JsonNode m : kvctl("-o", "json", "members", b).json().get("members")) {
      assertTrue(m.get("blockedRemainingMs").isNull(), "healed: " + m);
    }
    // A node that refuses or does not answer does not stop the others from being changed, nor
    // from being healed. (A refuses: the silent address is not a member.)
    String down = "127.0.0.1:" + KvdCluster.freeUdpPorts(1)[0];
    Result partial = kvctl("--timeout-ms", "20", "--retries", "1", "-o", "json", "fault",
        "partition", a, "--from", b + "," + down);
    assertExit(Exit.SERVER_ERROR, partial);
    assertEquals(3, partial.json().size(), "a result for every node: " + partial.out());
    assertTrue(partial.json().get(0).get("result").asText().startsWith("refused"));
    assertEquals("unreachable", partial.json().get(2).get("result").asText());
    assertTrue(partial.stderr().contains(a + " refused: not another member"), partial.stderr());
    boolean bBlocksA = false;
    for (JsonNode m : kvctl("-o", "json", "members", b).json().get("members")) {
      bBlocksA |= m.get("address").asText().equals(a) && !m.get("blockedRemainingMs").isNull();
    }
    assertTrue(bBlocksA, "B, after the unreachable node in the list, was still changed");
    assertExit(Exit.UNREACHABLE, kvctl("--timeout-ms", "20", "--retries", "1", "fault", "heal",
        down, a, b));
    for (JsonNode m : kvctl("-o", "json", "members", b).json().get("members")) {
      assertTrue(m.get("blockedRemainingMs").isNull(), "healed past the unreachable node: " + m);
    }

    assertExit(Exit.OK, kvctl("fault", "clear"));
    assertTrue(kvctl("-o", "json", "fault", "list", a).json().get(0).get("faults").isNull());
    assertExit(Exit.USAGE, kvctl("fault"));
  }

  @Test
  void wipeoutNeedsATargetAndTheShellsConfirmation() {
    assertExit(Exit.OK, kvctl("put", "doomed", "x"));
    assertExit(Exit.USAGE, kvctl("wipeout"));
    assertExit(Exit.USAGE, kvctl("wipeout", names.get(0), "--all"));
    Map<String, String> env = Map.of("KVCTL_SERVERS", nodeList);
    List<String> asked = new ArrayList<>();
    Result declined = run(new byte[0], true, env, question -> {
      asked.add(question);
      return false;
    }, "wipeout", "--all");
    assertExit(Exit.USAGE, declined);
    assertTrue(declined.stderr().contains("not confirmed"), declined.stderr());
    assertEquals(1, asked.size());
    assertTrue(asked.get(0).contains("all 3 nodes"), asked.get(0));
    assertEquals("x", kvctl("get", "doomed").out(), "nothing deleted");
    Result yes = run(new byte[0], true, env, question -> true, "wipeout", names.get(2));
    assertExit(Exit.OK, yes);
    assertExit(Exit.OK, kvctl("wipeout", "--all", "--yes"));
    assertExit(Exit.NOT_FOUND, kvctl("get", "doomed"));
  }

  @Test
  void scriptsStopAtTheFirstFailureUnlessToldToKeepGoing(@TempDir Path dir) throws IOException {
    String script = "# set up\nput s1 one\n\nget s1\nget no-such-key\nput s2 two\n";
    Result stopped = kvctlWithStdin(script);
    assertExit(Exit.NOT_FOUND, stopped);
    assertEquals("one", stopped.out());
    assertTrue(stopped.stderr().contains("stdin:5: no such key"), stopped.stderr());
    assertExit(Exit.NOT_FOUND, kvctl("get", "s2"));

    Result kept = kvctlWithStdin(script + "bogus-command\nget s2\n", "--keep-going");
    assertExit(Exit.NOT_FOUND, kept);
    assertEquals("onetwo", kept.out(), "every line ran");
    assertTrue(kept.stderr().contains("bogus-command"), kept.stderr());

    Path file = dir.resolve("commands.kvctl");
    Files.writeString(file, "put 's 3' 'three words here'\nget 's 3'\n");
    Result fromFile = kvctl("-f", file.toString());
    assertExit(Exit.OK, fromFile);
    assertEquals("three words here", fromFile.out(), "shell-like quoting");
    assertExit(Exit.LOCAL_ERROR, kvctl("-f", dir.resolve("missing").toString()));
    Result usage = kvctlWithStdin("get\n");
    assertExit(Exit.USAGE, usage);
  }

  @Test
  void usageErrorsAndHelp() {
    Result unknown = kvctl("frobnicate");
    assertExit(Exit.USAGE, unknown);
    assertTrue(unknown.stderr().contains("frobnicate"), unknown.stderr());
    assertExit(Exit.USAGE, kvctl("get"));
    assertExit(Exit.USAGE, kvctl("-o", "xml", "get", "k"));
    Result help = kvctl("help");
    assertExit(Exit.OK, help);
    for (String command : List.of("get", "put", "remove", "wipeout", "shutdown", "ping", "pid",
        "members", "ring", "locate", "stats", "top", "fault", "suspend", "resume")) {
      assertTrue(help.out().contains("  " + command), command + " in help: " + help.out());
    }
    assertTrue(help.out().contains("Exit codes"), help.out());
    assertExit(Exit.OK, kvctl("help", "fault"));
    Result subHelp = kvctl("fault", "partition", "--help");
    assertExit(Exit.OK, subHelp);
    assertTrue(subHelp.out().contains("--expire-s"), "--help on every command: " + subHelp.out());
    Result suspendNothing = kvctl("suspend", "127.0.0.1:1");
    assertExit(Exit.LOCAL_ERROR, suspendNothing);
    assertTrue(suspendNothing.stderr().contains("no local process"), suspendNothing.stderr());
    Map<String, String> seen = new HashMap<>();
    seen.put("KVCTL_SERVERS", nodeList);
    assertExit(Exit.USAGE, run(new byte[0], false, seen, null, "--timeout-ms", "0", "get", "k"));
  }
}
