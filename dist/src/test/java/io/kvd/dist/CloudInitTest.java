package io.kvd.dist;

import static io.kvd.dist.TerraformModule.block;
import static io.kvd.dist.TerraformModule.expr;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.IOException;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

/**
 * The cloud-init the module gives its instances, rendered as terraform renders it: the template
 * variables computed from sample inputs the way main.tf's locals compute them (the test first
 * checks that main.tf's expressions are the ones it computes), substituted by
 * {@link TemplateRenderer}, parsed as YAML, and checked; its shell snippets are run against
 * stand-in commands, and its unpacking and unit installation on a release-shaped archive.
 */
class CloudInitTest {
  static final String HTTPS_URL = "https://releases.example.com/kvd/kvd-0.1.0-release.tar.gz";
  static final String S3_URL = "s3://kvd-releases/builds/kvd-0.1.0-release.tar.gz";
  static final String ARCHIVE = "/tmp/kvd-release.tar.gz";
  /** What random_bytes.cluster_key.hex stands for here: 32 bytes as 64 lowercase hex digits. */
  static final String CLUSTER_KEY =
      "00112233445566778899aabbccddeeff0123456789abcdeffedcba9876543210";
  static final String KEY_OPTION = "--cluster-key-file /etc/kvd/cluster.key";
  static final YAMLMapper YAML = new YAMLMapper();

  private static JsonNode module;

  @BeforeAll
  static void parse() {
    module = TerraformModule.merged();
  }

  // ---- terraform's side: variables, locals, template variables ----

  /** The inputs: every variable's default, then the given values (required ones included). */
  static Map<String, Object> tfvars(Map<String, Object> given) {
    Map<String, Object> vars = new HashMap<>();
    module.path("variable").properties().forEach(e -> {
      JsonNode def = block(module, "variable", e.getKey()).get("default");
      if (def != null) {
        vars.put(e.getKey(), TerraformModuleTest.javaValue(def));
      }
    });
    vars.put("ssh_key_name", "ops");
    vars.put("operator_cidr", "203.0.113.7/32");
    given.forEach((k, v) -> vars.put(k, v instanceof Integer n ? BigDecimal.valueOf(n) : v));
    return vars;
  }

  /** main.tf's locals for these inputs, computed here after checking main.tf's expressions. */
  static Map<String, Object> locals(Map<String, Object> vars) {
    Map<String, JsonNode> src = TerraformModule.locals(module);
    Map<String, Object> locals = new HashMap<>();

    assertEquals("startswith(var.release_url, \"s3://\")", expr(src.get("release_in_s3")));
    boolean inS3 = ((String) vars.get("release_url")).startsWith("s3://");
    locals.put("release_in_s3", inS3);

    // cidrhost(prefix, n) is the prefix's base address plus n (Cidr.host, checked below).
    assertEquals("[for i in range(var.node_count) : cidrhost(var.subnet_cidr, 10 + i)]",
        expr(src.get("node_private_ips")));
    List<String> nodeIps = new ArrayList<>();
    int nodes = ((BigDecimal) vars.get("node_count")).intValueExact();
    for (int i = 0; i < nodes; i++) {
      nodeIps.add(Cidr.host((String) vars.get("subnet_cidr"), 10 + i));
    }
    locals.put("node_private_ips", nodeIps);

    assertEquals("[for ip in local.node_private_ips : \"${ip}:${var.kvd_port}\"]",
        expr(src.get("servers")));
    String port = ((BigDecimal) vars.get("kvd_port")).toPlainString();
    locals.put("servers", nodeIps.stream().map(ip -> ip + ":" + port).toList());

    Matcher packages = Pattern.compile("concat\\(\\[((?:\"[a-z0-9.+-]+\"(?:, )?)+)\\],"
        + " local\\.release_in_s3 \\? \\[((?:\"[a-z0-9.+-]+\"(?:, )?)+)\\] : \\[\\]\\)")
        .matcher(expr(src.get("packages")));
    assertTrue(packages.matches(), "local.packages: " + expr(src.get("packages")));
    List<String> list = new ArrayList<>(strings(packages.group(1)));
    if (inS3) {
      list.addAll(strings(packages.group(2)));
    }
    locals.put("packages", list);

    assertEquals("join(\" \", compact([var.kvd_opts, \"" + KEY_OPTION + "\","
        + " \"--client-admin ${var.client_admin}\","
        + " var.metrics_port > 0 ? \"--metrics-port ${var.metrics_port}\" : \"\"]))",
        expr(src.get("kvd_opts")));
    String opts = (String) vars.get("kvd_opts");
    String clientAdmin = "--client-admin " + vars.get("client_admin");
    int metricsPort = ((BigDecimal) vars.get("metrics_port")).intValueExact();
    String metrics = metricsPort > 0 ? "--metrics-port " + metricsPort : "";
    locals.put("kvd_opts", String.join(" ", Stream.of(opts, KEY_OPTION, clientAdmin, metrics)
        .filter(o -> !o.isEmpty()).toList()));
    return locals;
  }

  private static List<String> strings(String quotedList) {
    List<String> out = new ArrayList<>();
    Matcher m = Pattern.compile("\"([^\"]*)\"").matcher(quotedList);
    while (m.find()) {
      out.add(m.group(1));
    }
    return out;
  }

  /** The variables main.tf hands templatefile(): the local object, its references resolved. */
  static Map<String, Object> templateVars(String local, Map<String, Object> vars) {
    Map<String, Object> locals = locals(vars);
    JsonNode object = TerraformModule.locals(module).get(local);
    assertNotNull(object, "local." + local);
    assertTrue(object.isObject(), "local." + local + " is an object of template variables");
    Map<String, Object> out = new LinkedHashMap<>();
    object.properties().forEach(e -> {
      String ref = expr(e.getValue());
      Object value;
      if (ref.matches("var\\.[a-z_0-9]+")) {
        assertTrue(vars.containsKey(ref.substring(4)), ref);
        value = vars.get(ref.substring(4));
      } else if (ref.matches("local\\.[a-z_0-9]+")) {
        assertTrue(locals.containsKey(ref.substring(6)), ref + " is not computed by this test");
        value = locals.get(ref.substring(6));
      } else if (ref.equals("random_bytes.cluster_key.hex")) {
        value = CLUSTER_KEY; // generated at apply: a sample stands for it
      } else {
        throw new AssertionError(local + "." + e.getKey() + " = " + ref + ": not computed here");
      }
      out.put(e.getKey(), value);
    });
    return out;
  }

  static String template(String name) {
    return TerraformModule.read(TerraformModule.dir().resolve(name));
  }

  static String renderNode(Map<String, Object> given) {
    assertEquals("templatefile(\"${path.module}/cloud-init-node.yaml.tftpl\", local.node_cloud_init)",
        expr(block(module, "resource", "aws_instance", "node").get("user_data")));
    return TemplateRenderer.render(template("cloud-init-node.yaml.tftpl"),
        templateVars("node_cloud_init", tfvars(given)));
  }

  static String renderBench(Map<String, Object> given) {
    assertEquals("templatefile(\"${path.module}/cloud-init-bench.yaml.tftpl\","
        + " local.bench_cloud_init)",
        expr(block(module, "resource", "aws_instance", "bench").get("user_data")));
    return TemplateRenderer.render(template("cloud-init-bench.yaml.tftpl"),
        templateVars("bench_cloud_init", tfvars(given)));
  }

  // ---- what the cloud-init does ----

  static JsonNode cloudConfig(String rendered) throws IOException {
    assertTrue(rendered.startsWith("#cloud-config\n"), "first line: " + rendered.lines().findFirst());
    JsonNode yaml = YAML.readTree(rendered);
    assertTrue(yaml.isObject(), "not a mapping: " + rendered);
    return yaml;
  }

  static List<String> packages(JsonNode config) {
    List<String> out = new ArrayList<>();
    config.path("packages").forEach(p -> out.add(p.asText()));
    return out;
  }

  static Map<String, String> files(JsonNode config) {
    Map<String, String> out = new LinkedHashMap<>();
    for (JsonNode f : config.path("write_files")) {
      assertTrue(out.put(f.path("path").asText(), f.path("content").asText()) == null,
          "written twice: " + f.path("path"));
    }
    return out;
  }

  /** runcmd's commands, each as its argv (a string command as sh -c would run it). */
  static List<List<String>> commands(JsonNode config) {
    List<List<String>> out = new ArrayList<>();
    for (JsonNode c : config.path("runcmd")) {
      List<String> argv = new ArrayList<>();
      if (c.isArray()) {
        c.forEach(a -> {
          assertTrue(a.isValueNode(), "runcmd argument " + a);
          argv.add(a.asText());
        });
      } else {
        argv.addAll(List.of("sh", "-c", c.asText()));
      }
      out.add(argv);
    }
    return out;
  }

  static int indexOf(List<List<String>> commands, List<String> argv) {
    int i = commands.indexOf(argv);
    assertTrue(i >= 0, "no command " + argv + " in " + commands);
    return i;
  }

  /** The sh -c command whose arguments include the word. */
  static int shellIndex(List<List<String>> commands, String word) {
    for (int i = 0; i < commands.size(); i++) {
      List<String> c = commands.get(i);
      if (c.size() >= 3 && c.get(0).equals("sh") && c.get(1).equals("-c")
          && String.join(" ", c).contains(word)) {
        return i;
      }
    }
    throw new AssertionError("no sh -c command with " + word + " in " + commands);
  }

  static Map<String, String> envFile(String content) {
    Map<String, String> env = new LinkedHashMap<>();
    for (String line : content.split("\n")) {
      int eq = line.indexOf('=');
      assertTrue(eq > 0 && line.substring(0, eq).matches("[A-Z_]+"), "env line: " + line);
      assertTrue(env.put(line.substring(0, eq), line.substring(eq + 1)) == null, line);
    }
    return env;
  }

  @Test
  void cidrhostIsTheBaseAddressPlusTheHostNumber() {
    assertEquals("10.7.3.10", Cidr.host("10.7.3.0/24", 10));
    assertEquals("10.42.1.4", Cidr.host("10.42.0.0/23", 260));
    assertEquals("10.42.1.254", Cidr.host("10.42.0.0/23", -2));
    assertEquals("10.7.3.12", Cidr.host("10.7.3.77/24", 12), "host bits of the prefix cleared");
    assertThrows(HclExpression.EvalException.class, () -> Cidr.host("10.7.3.0/24", 256));
    assertThrows(HclExpression.EvalException.class, () -> Cidr.host("10.7.3/24", 1));
  }

  @Test
  void aNodeOfThreeGetsJavaTheServersFileTheEnvAndTheService() throws IOException {
    String rendered = renderNode(Map.of("node_count", 3, "release_url", HTTPS_URL,
        "vpc_cidr", "10.7.0.0/16", "subnet_cidr", "10.7.3.0/24"));
    JsonNode config = cloudConfig(rendered);

    List<String> packages = packages(config);
    assertTrue(packages.contains("openjdk-17-jre-headless"), "packages " + packages);
    assertTrue(packages.contains("curl"), "packages " + packages);
    assertFalse(packages.contains("awscli"), "no AWS CLI for an https release: " + packages);

    Map<String, String> files = files(config);
    assertEquals("10.7.3.10:43100\n10.7.3.11:43100\n10.7.3.12:43100\n",
        files.get("/etc/kvd/servers.txt"));
    assertEquals(Map.of("KVD_PORT", "43100", "KVD_HEAP", "64m", "KVD_OPTS",
        KEY_OPTION + " --client-admin off --metrics-port 9404"), envFile(files.get("/etc/kvd/kvd.env")));
    assertEquals(CLUSTER_KEY + "\n", files.get("/etc/kvd/cluster.key"), "the key, as kvd reads");
    JsonNode keyFile = writeFile(config, "/etc/kvd/cluster.key");
    assertEquals("0600", keyFile.path("permissions").asText(), "for its owner only");
    assertEquals("root:root", keyFile.path("owner").asText(), "kvd does not exist yet");

    List<List<String>> commands = commands(config);
    int user = shellIndex(commands, "useradd");
    int chown = indexOf(commands, List.of("chown", "kvd:kvd", "/etc/kvd/cluster.key"));
    assertTrue(String.join(" ", commands.get(user)).matches(".*useradd --system .*kvd\"?"),
        "system user kvd: " + commands.get(user));
    int fetch = shellIndex(commands, HTTPS_URL);
    assertEquals(HTTPS_URL, last(commands.get(fetch)), "the URL is the script's argument");
    assertTrue(commands.get(fetch).get(2).contains("curl"), commands.get(fetch).toString());
    int mkdir = indexOf(commands, List.of("mkdir", "-p", "/opt/kvd"));
    int tar = unpackIndex(commands);
    int install = indexOf(commands,
        List.of("cp", "/opt/kvd/systemd/kvd.service", "/etc/systemd/system/kvd.service"));
    int reload = indexOf(commands, List.of("systemctl", "daemon-reload"));
    int enable = indexOf(commands, List.of("systemctl", "enable", "--now", "kvd"));
    assertTrue(user < enable && fetch < mkdir && mkdir < tar && tar < install
        && install < reload && reload < enable, "order of " + commands);
    assertTrue(user < chown && chown < enable, "the key is kvd's before kvd starts: "
        + commands);
    assertEquals(enable, commands.size() - 1, "kvd starts last");
  }

  /** The write_files entry of {@code path}. */
  static JsonNode writeFile(JsonNode config, String path) {
    for (JsonNode f : config.path("write_files")) {
      if (f.path("path").asText().equals(path)) {
        return f;
      }
    }
    throw new AssertionError("no write_files entry " + path);
  }

  static int unpackIndex(List<List<String>> commands) {
    for (int i = 0; i < commands.size(); i++) {
      List<String> c = commands.get(i);
      if (!c.isEmpty() && c.get(0).equals("tar")) {
        assertTrue(c.contains(ARCHIVE), "tar reads the fetched archive: " + c);
        int dir = c.indexOf("-C");
        assertTrue(dir > 0 && c.get(dir + 1).equals("/opt/kvd"), "tar into /opt/kvd: " + c);
        assertTrue(c.contains("--strip-components=1"), "the top folder stripped: " + c);
        assertTrue(c.get(1).startsWith("-x") && c.get(1).contains("z"), "extract gzip: " + c);
        return i;
      }
    }
    throw new AssertionError("no tar command in " + commands);
  }

  private static String last(List<String> list) {
    return list.get(list.size() - 1);
  }

  @Test
  void portHeapAndOptionsReachTheNodes() throws IOException {
    JsonNode config = cloudConfig(renderNode(Map.of("node_count", 2, "release_url", HTTPS_URL,
        "kvd_port", 45000, "kvd_heap", "128m", "kvd_opts", "--log-level WARN",
        "metrics_port", 9500, "client_admin", "open")));
    Map<String, String> files = files(config);
    String subnet = (String) tfvars(Map.of()).get("subnet_cidr");
    assertEquals(Cidr.host(subnet, 10) + ":45000\n" + Cidr.host(subnet, 11) + ":45000\n",
        files.get("/etc/kvd/servers.txt"));
    assertEquals(Map.of("KVD_PORT", "45000", "KVD_HEAP", "128m", "KVD_OPTS",
        "--log-level WARN " + KEY_OPTION + " --client-admin open --metrics-port 9500"),
        envFile(files.get("/etc/kvd/kvd.env")));
    JsonNode closed = cloudConfig(renderNode(Map.of("node_count", 1, "release_url", HTTPS_URL,
        "metrics_port", 0)));
    assertEquals(KEY_OPTION + " --client-admin off",
        envFile(files(closed).get("/etc/kvd/kvd.env")).get("KVD_OPTS"),
        "the key and client admin options always, the metrics option only with a port");
  }

  @Test
  void eightyNodesEachGetTheWholeServersFile() throws IOException {
    JsonNode config = cloudConfig(renderNode(Map.of("node_count", 80, "release_url",
        HTTPS_URL)));
    List<String> lines = files(config).get("/etc/kvd/servers.txt").lines().toList();
    assertEquals(80, lines.size());
    assertEquals("10.42.0.10:43100", lines.get(0));
    assertEquals("10.42.0.89:43100", lines.get(79));
    assertEquals(80, lines.stream().distinct().count());
  }

  @Test
  void anS3ReleaseBringsTheAwsCli() throws IOException {
    JsonNode config = cloudConfig(renderNode(Map.of("node_count", 3, "release_url", S3_URL)));
    assertTrue(packages(config).contains("awscli"), "packages " + packages(config));
    List<List<String>> commands = commands(config);
    int fetch = shellIndex(commands, S3_URL);
    assertTrue(commands.get(fetch).get(2).contains("aws s3 cp"), commands.get(fetch).toString());
  }

  @Test
  void aBenchHostGetsJavaTheReleaseAndTheServersFileButNoService() throws IOException {
    JsonNode config = cloudConfig(renderBench(Map.of("node_count", 3, "release_url", HTTPS_URL,
        "vpc_cidr", "10.7.0.0/16", "subnet_cidr", "10.7.3.0/24")));
    assertTrue(packages(config).contains("openjdk-17-jre-headless"));
    Map<String, String> files = files(config);
    assertEquals("10.7.3.10:43100\n10.7.3.11:43100\n10.7.3.12:43100\n",
        files.get("/etc/kvd/servers.txt"));
    assertFalse(files.containsKey("/etc/kvd/kvd.env"));
    assertEquals(CLUSTER_KEY + "\n", files.get("/etc/kvd/cluster.key"), "for kvctl");
    assertEquals("0600", writeFile(config, "/etc/kvd/cluster.key").path("permissions").asText());
    List<List<String>> commands = commands(config);
    int fetch = shellIndex(commands, HTTPS_URL);
    assertTrue(fetch < unpackIndex(commands));
    for (List<String> c : commands) {
      assertFalse(String.join(" ", c).contains("systemctl"), "no service on a bench host: " + c);
    }
    List<String> copy = commands.get(shellIndex(commands, "servers.txt"));
    assertEquals("admin", last(copy), "servers.txt for the login user: " + copy);
  }

  /** The templates use every variable main.tf gives them (and, by rendering, no other). */
  @Test
  void everyTemplateVariableIsUsed() {
    for (String[] pair : new String[][] {{"node_cloud_init", "cloud-init-node.yaml.tftpl"},
        {"bench_cloud_init", "cloud-init-bench.yaml.tftpl"}}) {
      String text = template(pair[1]);
      TerraformModule.locals(module).get(pair[0]).properties().forEach(e ->
          assertTrue(text.contains("${" + e.getKey() + "}") || text.contains(" in " + e.getKey()),
              pair[1] + " does not use " + e.getKey()));
    }
  }

  // ---- the shell snippets, run against stand-in commands ----

  /** Runs an sh -c command with stand-ins (scripts that log their name and arguments) first on PATH. */
  static List<String> runWithStandIns(List<String> argv, Path dir, Map<String, String> standIns)
      throws IOException {
    Path bin = Files.createDirectories(dir.resolve("bin"));
    Path log = dir.resolve("calls.log");
    Files.deleteIfExists(log);
    for (Map.Entry<String, String> s : standIns.entrySet()) {
      Path script = bin.resolve(s.getKey());
      Files.writeString(script, "#!/bin/sh\necho \"$(basename \"$0\") $*\" >> \"$STAND_IN_LOG\"\n"
          + s.getValue() + "\n");
      Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwxr-xr-x"));
    }
    TerraformModule.Result result = TerraformModule.run(argv, dir.toFile(), 30,
        Map.of("PATH", bin + ":/usr/bin:/bin", "STAND_IN_LOG", log.toString()));
    assertEquals(0, result.code(), argv + ": " + result.err());
    return Files.exists(log) ? Files.readAllLines(log) : List.of();
  }

  @Test
  void theFetchSnippetRunsCurlForHttpsAndAwsForS3(@TempDir Path dir) throws IOException {
    Map<String, String> standIns = Map.of("curl", "exit 0", "aws", "exit 0");
    List<List<String>> https = commands(cloudConfig(renderNode(Map.of("node_count", 1,
        "release_url", HTTPS_URL))));
    assertEquals(List.of("curl -fsSL --retry 10 --retry-connrefused -o " + ARCHIVE + " "
        + HTTPS_URL), runWithStandIns(https.get(shellIndex(https, HTTPS_URL)), dir, standIns));
    List<List<String>> s3 = commands(cloudConfig(renderNode(Map.of("node_count", 1,
        "release_url", S3_URL))));
    assertEquals(List.of("aws s3 cp --only-show-errors " + S3_URL + " " + ARCHIVE),
        runWithStandIns(s3.get(shellIndex(s3, S3_URL)), dir, standIns));
    List<List<String>> bench = commands(cloudConfig(renderBench(Map.of("node_count", 1,
        "release_url", S3_URL))));
    assertEquals(List.of("aws s3 cp --only-show-errors " + S3_URL + " " + ARCHIVE),
        runWithStandIns(bench.get(shellIndex(bench, S3_URL)), dir, standIns));
  }

  @Test
  void theUserSnippetsCreateKvdOnceAndCopyTheServersFileHome(@TempDir Path dir)
      throws IOException {
    List<List<String>> node = commands(cloudConfig(renderNode(Map.of("node_count", 1,
        "release_url", HTTPS_URL))));
    List<String> user = node.get(shellIndex(node, "useradd"));
    List<String> calls = runWithStandIns(user, dir, Map.of("getent", "exit 2", "useradd",
        "exit 0"));
    assertEquals(2, calls.size(), "getent, then useradd: " + calls);
    assertTrue(calls.get(1).startsWith("useradd --system --user-group ")
        && calls.get(1).endsWith(" kvd"), calls.get(1));
    assertEquals(List.of("getent passwd kvd"), runWithStandIns(user, dir,
        Map.of("getent", "exit 0", "useradd", "exit 0")), "an existing kvd is kept");

    List<List<String>> bench = commands(cloudConfig(renderBench(Map.of("node_count", 1,
        "release_url", HTTPS_URL))));
    List<String> copy = bench.get(shellIndex(bench, "servers.txt"));
    calls = runWithStandIns(copy, dir, Map.of(
        "getent", "echo 'admin:x:1000:1000:Debian:/home/admin:/bin/bash'", "install", "exit 0"));
    assertEquals(List.of("getent passwd admin",
        "install -m 0644 -o admin -g admin /etc/kvd/servers.txt /home/admin/servers.txt",
        "install -m 0600 -o admin -g admin /etc/kvd/cluster.key /home/admin/cluster.key"), calls,
        "the key beside servers.txt, where kvctl --servers-file servers.txt finds it");
  }

  /**
   * The unpacking and installation commands, run with /opt/kvd and /etc/systemd/system moved into
   * a temporary folder, on an archive laid out as the release (kvd-VERSION/bin, lib, systemd):
   * the installed unit is dist/src/main/systemd/kvd.service, byte for byte.
   */
  @Test
  void theReleaseUnpacksIntoOptKvdAndItsUnitIsInstalled(@TempDir Path dir) throws Exception {
    Path unit = TerraformModule.root().resolve("dist/src/main/systemd/kvd.service");
    Path top = Files.createDirectories(dir.resolve("staging/kvd-0.1.0"));
    Files.createDirectories(top.resolve("bin"));
    Files.createDirectories(top.resolve("lib"));
    Files.createDirectories(top.resolve("systemd"));
    Files.writeString(top.resolve("bin/kvd"), "#!/bin/sh\n");
    Files.writeString(top.resolve("lib/kvd.jar"), "jar");
    Files.copy(unit, top.resolve("systemd/kvd.service"));
    Path archive = dir.resolve("kvd-release.tar.gz");
    assertEquals(0, TerraformModule.run(List.of("tar", "-czf", archive.toString(), "-C",
        dir.resolve("staging").toString(), "kvd-0.1.0"), dir.toFile(), 30).code());
    Files.createDirectories(dir.resolve("etc/systemd/system"));

    List<List<String>> commands = commands(cloudConfig(renderNode(Map.of("node_count", 1,
        "release_url", HTTPS_URL))));
    int from = indexOf(commands, List.of("mkdir", "-p", "/opt/kvd"));
    int to = indexOf(commands,
        List.of("cp", "/opt/kvd/systemd/kvd.service", "/etc/systemd/system/kvd.service"));
    for (List<String> command : commands.subList(from, to + 1)) {
      List<String> moved = new ArrayList<>();
      for (String arg : command) {
        moved.add(arg.replace(ARCHIVE, archive.toString())
            .replace("/opt/kvd", dir.resolve("opt/kvd").toString())
            .replace("/etc/systemd/system", dir.resolve("etc/systemd/system").toString()));
      }
      TerraformModule.Result result = TerraformModule.run(moved, dir.toFile(), 30);
      assertEquals(0, result.code(), moved + ": " + result.err());
    }
    assertTrue(Files.isRegularFile(dir.resolve("opt/kvd/bin/kvd")), "bin/kvd in /opt/kvd");
    assertTrue(Files.isRegularFile(dir.resolve("opt/kvd/lib/kvd.jar")), "lib/kvd.jar in /opt/kvd");
    assertEquals(Files.readString(unit),
        Files.readString(dir.resolve("etc/systemd/system/kvd.service")));
  }

  /** The release archive has the layout the cloud-init unpacks: kvd-VERSION/ with systemd/. */
  @Test
  void theReleaseArchiveIsLaidOutAsTheCloudInitExpects() throws Exception {
    DocumentBuilderFactory factory = DocumentBuilderFactory.newInstance();
    factory.setNamespaceAware(false);
    Document doc = factory.newDocumentBuilder().parse(
        TerraformModule.root().resolve("dist/src/assembly/release.xml").toFile());
    assertEquals("true", text(doc.getDocumentElement(), "includeBaseDirectory"));
    assertEquals("kvd-${project.version}", text(doc.getDocumentElement(), "baseDirectory"));
    Map<String, String> fileSets = new HashMap<>();
    NodeList sets = doc.getElementsByTagName("fileSet");
    for (int i = 0; i < sets.getLength(); i++) {
      Element set = (Element) sets.item(i);
      fileSets.put(text(set, "directory"), text(set, "outputDirectory"));
    }
    assertEquals("systemd", fileSets.get("${project.basedir}/src/main/systemd"), "" + fileSets);
    assertEquals("bin", fileSets.get("${kvd.root}/bin"), "" + fileSets);
  }

  private static String text(Element parent, String tag) {
    NodeList nodes = parent.getElementsByTagName(tag);
    if (nodes.getLength() == 0) {
      fail("no <" + tag + "> in " + parent.getTagName());
    }
    return nodes.item(0).getTextContent().trim();
  }

  // ---- the renderer itself: terraform's rules, and failure outside its subset ----

  @Test
  void theRendererStripsAsTerraformDoes() {
    Map<String, Object> vars = Map.of("xs", List.of("a", "b"), "n", BigDecimal.valueOf(7),
        "s", "v");
    assertEquals("list:\n  - a\n  - b\nend 7 v\n", TemplateRenderer.render(
        "list:\n%{ for x in xs ~}\n  - ${x}\n%{ endfor ~}\nend ${n} ${s}\n", vars));
    assertEquals("list:\n\n  - a\n\n  - b\n\nend\n", TemplateRenderer.render(
        "list:\n%{ for x in xs }\n  - ${x}\n%{ endfor }\nend\n", vars),
        "without ~ each directive leaves its newline");
    assertEquals("ab", TemplateRenderer.render("%{ for x in xs ~}  ${x}  %{~ endfor }", vars));
    assertEquals("${x} %{y} $HOME 5%\n",
        TemplateRenderer.render("$${x} %%{y} $HOME 5%\n", vars), "escapes and lone $ and %");
  }

  @Test
  void theRendererFailsOnWhatItDoesNotSupport() {
    Map<String, Object> vars = Map.of("xs", List.of("a"), "s", "v");
    for (String template : List.of("${missing}", "${upper(s)}", "${s.x}", "%{ if s }x%{ endif }",
        "%{ for x in xs }${x}", "${x}%{ endfor }", "${xs}", "${s", "%{ for k, v in xs }%{ endfor }",
        "${ s == \"v\" ? 1 : 2 }")) {
      assertThrows(IllegalArgumentException.class, () -> TemplateRenderer.render(template, vars),
          template);
    }
  }
}
