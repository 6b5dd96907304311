package io.kvd.ctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvd.client.ClusterKeyFile;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves kvctl against a cluster with a cluster key: with the key (from --cluster-key-file, from
 * KVD_CLUSTER_KEY_FILE, or found as cluster.key beside --servers-file, in that order of
 * precedence) members, stats and fault set, list and clear work; without a key or with another,
 * admin commands fail with exit code 6 and a message naming the likely cause, while data
 * commands and ping work without a key; a key file others can read is refused (exit 5). How:
 * three keyed kvd nodes run in this JVM (the real core behind the real Netty shell) and kvctl runs
 * in-process with captured output.
 */
@Timeout(120)
class KvctlClusterKeyTest {
  private static final int SIZE = 3;
  private static InProcessCluster cluster;
  private static List<String> names;
  private static String nodeList;
  @TempDir
  static Path dir;
  private static Path keyFile;
  private static Path wrongKeyFile;
  private static Path serversFile;

  @BeforeAll
  static void startCluster() throws Exception {
    SecureRandom random = new SecureRandom();
    Path clusterDir = Files.createDirectories(dir.resolve("cluster"));
    keyFile = clusterDir.resolve(ClusterKeyFile.NAME);
    ClusterKeyFile.write(keyFile, ClusterKeyFile.generate(random), "test");
    wrongKeyFile = dir.resolve("wrong.key");
    ClusterKeyFile.write(wrongKeyFile, ClusterKeyFile.generate(random), null);
    cluster = InProcessCluster.start(SIZE, 8_000, 41, 27, ClusterKeyFile.read(keyFile));
    names = cluster.names;
    nodeList = cluster.nodeList();
    serversFile = clusterDir.resolve("servers.txt");
    Files.writeString(serversFile, String.join("\n", names) + "\n", StandardCharsets.UTF_8);
  }

  @AfterAll
  static void stopCluster() {
    cluster.close();
  }

  record Result(int code, String out, String err) {}

  private static Result run(Map<String, String> env, String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    try (Session session = new Session(new PrintStream(out, true), new PrintStream(err, true),
        new ByteArrayInputStream(new byte[0]), false, env)) {
      int code = KvctlMain.run(session, args);
      return new Result(code, out.toString(StandardCharsets.UTF_8),
          err.toString(StandardCharsets.UTF_8));
    }
  }

  private static Map<String, String> env(String keyFileVariable) {
    Map<String, String> env = new HashMap<>();
    env.put("KVCTL_SERVERS", nodeList);
    if (keyFileVariable != null) {
      env.put(KvctlMain.KEY_FILE_VARIABLE, keyFileVariable);
    }
    return env;
  }

  private static void assertExit(int expected, Result result) {
    assertEquals(expected, result.code(), "exit code; stdout: " + result.out() + "; stderr: "
        + result.err());
  }

  @Test
  void withTheKeyEveryAdminCommandWorks() {
    Map<String, String> byOption = env(null);
    String option = keyFile.toString();
    assertExit(Exit.OK, run(byOption, "--cluster-key-file", option, "members"));
    Result stats = run(byOption, "--cluster-key-file", option, "stats");
    assertExit(Exit.OK, stats);
    for (String name : names) {
      assertTrue(stats.out().contains(name), "a row per node: " + stats.out());
    }
    String a = names.get(0);
    try {
      assertExit(Exit.OK, run(byOption, "--cluster-key-file", option, "fault", "set", a,
          "--delay-ms", "1", "--expire-s", "60"));
      Result list = run(byOption, "--cluster-key-file", option, "fault", "list", a);
      assertExit(Exit.OK, list);
      assertTrue(list.out().contains("delay 1"), list.out());
      assertExit(Exit.OK, run(byOption, "--cluster-key-file", option, "fault", "partition", a,
          "--expire-s", "60"));
      assertExit(Exit.OK, run(byOption, "--cluster-key-file", option, "fault", "heal"));
    } finally {
      assertExit(Exit.OK, run(byOption, "--cluster-key-file", option, "fault", "clear"));
    }
    Result cleared = run(byOption, "--cluster-key-file", option, "fault", "list", a);
    assertFalse(cleared.out().contains("delay"), cleared.out());

    // From the environment, and beside the servers file (where kvd cluster writes it).
    assertExit(Exit.OK, run(env(keyFile.toString()), "ring"));
    assertExit(Exit.OK, run(Map.of(), "--servers-file", serversFile.toString(), "members"));
    assertExit(Exit.OK, run(Map.of(), "--servers-file", serversFile.toString(), "-o", "json",
        "top", "--iterations", "1"));
  }

  @Test
  void withoutTheKeyOrWithAnotherAdminCommandsExit6AndSayWhy() {
    Result none = run(env(null), "--timeout-ms", "50", "--retries", "1", "members");
    assertExit(Exit.AUTH, none);
    assertTrue(none.err().contains("no answer from " + SIZE + " nodes")
        && none.err().contains("wrong or missing cluster key? (--cluster-key-file"),
        none.err());
    assertTrue(none.err().contains("kvctl used no cluster key"), none.err());
    Result wrong = run(env(wrongKeyFile.toString()), "--timeout-ms", "50", "--retries", "1",
        "stats");
    assertExit(Exit.AUTH, wrong);
    assertTrue(wrong.err().contains("wrong or missing cluster key?")
        && wrong.err().contains(wrongKeyFile.toString()), wrong.err());
    Result fault = run(env(null), "--timeout-ms", "50", "--retries", "1", "fault", "set",
        names.get(0), "--loss-pct", "100", "--expire-s", "60");
    assertExit(Exit.AUTH, fault);
    assertTrue(fault.err().contains("no answer from 1 node ("), fault.err());
    assertExit(Exit.AUTH, run(env(null), "--timeout-ms", "50", "--retries", "1", "members",
        names.get(1)));

    // Precedence: --cluster-key-file over the environment, the environment over the file beside
    // the servers file.
    assertExit(Exit.OK, run(env(wrongKeyFile.toString()), "--cluster-key-file",
        keyFile.toString(), "members"));
    Map<String, String> wrongInEnvironment = new HashMap<>();
    wrongInEnvironment.put(KvctlMain.KEY_FILE_VARIABLE, wrongKeyFile.toString());
    assertExit(Exit.AUTH, run(wrongInEnvironment, "--timeout-ms", "50", "--retries", "1",
        "--servers-file", serversFile.toString(), "members"));

    // Data commands and ping go over the client protocol: no key needed.
    assertExit(Exit.OK, run(env(null), "put", "keyless", "works"));
    Result get = run(env(null), "get", "keyless");
    assertExit(Exit.OK, get);
    assertEquals("works", get.out());
    assertExit(Exit.OK, run(env(null), "ping"));
  }

  @Test
  void aKeyFileOthersCanReadIsRefused() throws IOException {
    Path open = dir.resolve("open.key");
    Files.writeString(open, Files.readString(keyFile), StandardCharsets.UTF_8);
    Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rw-r-----"));
    Result refused = run(env(null), "--cluster-key-file", open.toString(), "members");
    assertExit(Exit.LOCAL_ERROR, refused);
    assertTrue(refused.err().contains("chmod 600"), refused.err());
    Result missing = run(env(dir.resolve("absent.key").toString()), "members");
    assertExit(Exit.LOCAL_ERROR, missing);
    assertTrue(missing.err().contains("KVD_CLUSTER_KEY_FILE") && missing.err()
        .contains("no such file"), missing.err());
  }
}
