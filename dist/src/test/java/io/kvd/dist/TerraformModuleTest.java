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
import java.io.IOException;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.opentest4j.AssertionFailedError;

/**
 * The terraform module (terraform/), parsed with a real HCL parser (see {@link TerraformModule}):
 * its variables and their validations (evaluated on sample values), the network, the security
 * group's rules, the fixed private IPs, the instances, the outputs, and terraform fmt's layout.
 */
class TerraformModuleTest {
  private static JsonNode module;

  @BeforeAll
  static void parse() {
    module = TerraformModule.merged();
  }

  @Test
  void everyTfFileParses() {
    Set<String> names = TerraformModule.tfFiles().stream()
        .map(p -> TerraformModule.dir().relativize(p).toString())
        .collect(Collectors.toCollection(TreeSet::new));
    assertTrue(names.containsAll(List.of("main.tf", "outputs.tf", "variables.tf", "versions.tf")),
        "terraform/ has " + names);
    assertEquals(names.size(), TerraformModule.parsed().size());
    TerraformModule.parsed().forEach((file, json) ->
        assertTrue(json.isObject() && json.size() > 0, file + " parsed to nothing: " + json));
  }

  @Test
  void theParserRejectsBrokenHcl() throws IOException {
    Path dir = TerraformModule.root().resolve("dist/target/hcl2json-negative");
    Files.createDirectories(dir);
    Path broken = dir.resolve("broken.tf");
    Files.writeString(broken, "resource \"aws_instance\" \"x\" {\n  count = \n");
    AssertionFailedError error = assertThrows(AssertionFailedError.class,
        () -> TerraformModule.parse(List.of(broken)));
    assertTrue(error.getMessage().contains("broken.tf"), error.getMessage());
  }

  @Test
  void versions() {
    JsonNode terraform = block(module, "terraform");
    assertEquals(">= 1.5", terraform.path("required_version").asText());
    JsonNode aws = terraform.path("required_providers").path(0).path("aws");
    assertEquals("hashicorp/aws", aws.path("source").asText());
    assertEquals("~> 5.0", aws.path("version").asText());
    JsonNode random = terraform.path("required_providers").path(0).path("random");
    assertEquals("hashicorp/random", random.path("source").asText());
    assertEquals("~> 3.6", random.path("version").asText(), "random_bytes came in 3.6.0");
  }

  /** One cluster key per deployment: 32 random bytes, given to every node and bench host. */
  @Test
  void oneClusterKeyPerDeployment() {
    JsonNode key = block(module, "resource", "random_bytes", "cluster_key");
    assertEquals(32, key.get("length").asInt(), "bytes: 256 bits, as kvd wants at least");
    Map<String, JsonNode> locals = TerraformModule.locals(module);
    for (String local : List.of("node_cloud_init", "bench_cloud_init")) {
      assertEquals("random_bytes.cluster_key.hex", expr(locals.get(local).get("cluster_key")),
          local);
    }
    assertTrue(expr(locals.get("kvd_opts")).contains("--cluster-key-file /etc/kvd/cluster.key"),
        expr(locals.get("kvd_opts")));
    assertTrue(expr(locals.get("kvd_opts")).contains("\"--client-admin ${var.client_admin}\""),
        "SHUTDOWN and WIPEOUT only over the keyed admin path: " + expr(locals.get("kvd_opts")));
  }

  // ---- variables ----

  private static final Map<String, Object> DEFAULTS = new LinkedHashMap<>();

  static {
    DEFAULTS.put("node_count", 20);
    DEFAULTS.put("bench_count", 1);
    DEFAULTS.put("kvd_port", 43100);
    DEFAULTS.put("kvd_heap", "64m");
    DEFAULTS.put("instance_type", "c7i.large");
    DEFAULTS.put("ami_ssm_parameter", "/aws/service/debian/release/12/latest/amd64");
    DEFAULTS.put("kvd_opts", "");
    DEFAULTS.put("metrics_port", 9404);
    DEFAULTS.put("client_admin", "off");
    DEFAULTS.put("ssh_user", "admin");
  }

  /** Variables that must have a default (its value not pinned here) and those that must not. */
  private static final List<String> WITH_DEFAULT = List.of("bench_instance_type", "region",
      "availability_zone", "client_cidr", "vpc_cidr", "subnet_cidr");
  private static final List<String> REQUIRED = List.of("ssh_key_name", "operator_cidr",
      "release_url");

  static JsonNode variable(String name) {
    return block(module, "variable", name);
  }

  @Test
  void everyVariableHasADescriptionATypeAndTheStatedDefault() {
    Set<String> expected = new TreeSet<>(DEFAULTS.keySet());
    expected.addAll(WITH_DEFAULT);
    expected.addAll(REQUIRED);
    assertTrue(module.path("variable").size() >= expected.size());
    for (String name : expected) {
      assertNotNull(module.path("variable").get(name), "no variable " + name);
    }
    module.path("variable").properties().forEach(e -> {
      JsonNode v = block(module, "variable", e.getKey());
      assertTrue(v.path("description").asText().length() > 10, e.getKey() + ": description");
      assertTrue(v.path("type").asText().matches("\\$\\{(string|number|bool)\\}"),
          e.getKey() + ": type " + v.path("type"));
    });
    DEFAULTS.forEach((name, value) -> {
      JsonNode def = variable(name).get("default");
      assertNotNull(def, name + " has no default");
      if (value instanceof Integer n) {
        assertTrue(def.isNumber() && def.asInt() == n, name + " default " + def);
        assertEquals("${number}", variable(name).path("type").asText(), name + " type");
      } else {
        assertEquals(value, def.asText(), name + " default");
        assertEquals("${string}", variable(name).path("type").asText(), name + " type");
      }
    });
    WITH_DEFAULT.forEach(n -> assertNotNull(variable(n).get("default"), n + " has no default"));
    REQUIRED.forEach(n -> assertFalse(variable(n).has("default"), n + " must be given"));
  }

  /** The validations of a variable hold for the value (as terraform checks them at plan). */
  static boolean valid(String name, Object value) {
    JsonNode validations = variable(name).path("validation");
    Map<String, Object> vars = new HashMap<>();
    vars.put(name, value instanceof Integer n ? BigDecimal.valueOf(n) : value);
    for (JsonNode validation : validations) {
      assertFalse(validation.path("error_message").asText().isBlank(), name + ": error_message");
      if (!HclExpression.isTrue(validation.path("condition").asText(), vars)) {
        return false;
      }
    }
    return true;
  }

  static Object javaValue(JsonNode value) {
    if (value.isNumber()) {
      return value.decimalValue();
    }
    if (value.isBoolean()) {
      return value.booleanValue();
    }
    return value.asText();
  }

  @Test
  void everyDefaultPassesItsVariablesValidation() {
    module.path("variable").properties().forEach(e -> {
      JsonNode def = block(module, "variable", e.getKey()).get("default");
      if (def != null) {
        assertTrue(valid(e.getKey(), javaValue(def)), e.getKey() + " = " + def);
      }
    });
  }

  @Test
  void validationsAdmitWhatTheyShouldAndNothingElse() {
    assertTrue(variable("node_count").path("validation").size() > 0);
    for (int n : new int[] {1, 20, 80, 100, 250}) {
      assertTrue(valid("node_count", n), "node_count " + n);
    }
    assertFalse(valid("node_count", 0));
    assertFalse(valid("node_count", 251));
    assertFalse(valid("node_count", new BigDecimal("2.5")));
    assertTrue(valid("bench_count", 0));
    assertFalse(valid("bench_count", -1));
    assertTrue(valid("kvd_port", 43100));
    assertFalse(valid("kvd_port", 80));
    assertFalse(valid("kvd_port", 70000));
    assertTrue(valid("operator_cidr", "203.0.113.7/32"));
    assertFalse(valid("operator_cidr", "0.0.0.0/0"), "SSH open to the world");
    assertFalse(valid("operator_cidr", "my laptop"));
    assertFalse(valid("operator_cidr", "10.0.0.300/32"));
    assertTrue(valid("client_cidr", "10.42.0.0/16"));
    assertFalse(valid("subnet_cidr", "10.42.0.0"));
    assertTrue(valid("release_url", "https://releases.example.com/kvd-0.1.0-release.tar.gz"));
    assertTrue(valid("release_url", "s3://kvd-releases/kvd-0.1.0-release.tar.gz"));
    assertTrue(valid("release_url",
        "https://b.s3.amazonaws.com/kvd.tar.gz?X-Amz-Signature=ab%2Fcd&X-Amz-Expires=3600"));
    assertFalse(valid("release_url", "ftp://example.com/kvd.tar.gz"));
    assertFalse(valid("release_url", "https://example.com/kvd 0.1.tar.gz"));
    assertFalse(valid("release_url", "https://example.com/\"kvd.tar.gz"));
    assertTrue(valid("kvd_heap", "128m"));
    assertTrue(valid("kvd_heap", "1g"));
    assertFalse(valid("kvd_heap", "64"));
    assertFalse(valid("kvd_heap", "64mb"));
    assertTrue(valid("kvd_opts", "--metrics-port 9404"));
    assertTrue(valid("client_admin", "open"));
    assertFalse(valid("client_admin", "on"));
    assertFalse(valid("client_admin", "off --x"));
    assertFalse(valid("kvd_opts", "--x\nKVD_PORT=1"), "a newline would add a line to kvd.env");
    assertFalse(valid("kvd_opts", "$(reboot)"));
    assertTrue(valid("metrics_port", 0));
    assertFalse(valid("metrics_port", 22));
    assertTrue(valid("availability_zone", "eu-west-1b"));
    assertFalse(valid("availability_zone", "eu-west-1"));
  }

  /** terraform.tfvars.example parses, sets every required variable, and passes validation. */
  @Test
  void theExampleTfvarsAreValid() {
    Path example = TerraformModule.dir().resolve("terraform.tfvars.example");
    JsonNode tfvars = TerraformModule.parse(List.of(example)).get(example);
    for (String name : REQUIRED) {
      assertTrue(tfvars.has(name), "the example sets " + name);
    }
    tfvars.properties().forEach(e -> {
      assertNotNull(module.path("variable").get(e.getKey()), "no variable " + e.getKey());
      assertTrue(valid(e.getKey(), javaValue(e.getValue())), e.getKey() + " = " + e.getValue());
    });
  }

  @Test
  void theSubnetHoldsTheClusterItAdmits() {
    JsonNode preconditions = block(module, "resource", "aws_subnet", "kvd")
        .path("lifecycle").path(0).path("precondition");
    assertTrue(preconditions.size() >= 2, "aws_subnet preconditions: " + preconditions);
    String subnet = variable("subnet_cidr").path("default").asText();
    assertTrue(fits(preconditions, subnet, 250, 20), "250 nodes and 20 bench hosts in " + subnet);
    assertTrue(fits(preconditions, subnet, 80, 1), "80 nodes in " + subnet);
    assertFalse(fits(preconditions, "10.42.0.0/24", 250, 1), "a /24 cannot hold 10 + 250 + 1");
    assertTrue(fits(preconditions, "10.42.0.0/24", 200, 4));
    // The nodes' highest address and the bench hosts' lowest stay inside and apart.
    String lastNode = Cidr.host(subnet, 10 + 250 - 1);
    String lowestBench = Cidr.host(subnet, -2 - 19);
    assertTrue(toLong(lastNode) < toLong(lowestBench), lastNode + " vs " + lowestBench);
  }

  private static boolean fits(JsonNode preconditions, String subnet, int nodes, int bench) {
    Map<String, Object> vars = new HashMap<>();
    vars.put("subnet_cidr", subnet);
    vars.put("node_count", BigDecimal.valueOf(nodes));
    vars.put("bench_count", BigDecimal.valueOf(bench));
    vars.put("region", "us-east-1");
    vars.put("availability_zone", "us-east-1a");
    for (JsonNode p : preconditions) {
      if (!HclExpression.isTrue(p.path("condition").asText(), vars)) {
        return false;
      }
    }
    return true;
  }

  private static long toLong(String ip) {
    long v = 0;
    for (String octet : ip.split("\\.")) {
      v = v * 256 + Integer.parseInt(octet);
    }
    return v;
  }

  // ---- resources ----

  @Test
  void theAmiComesFromThePublicSsmParameter() {
    JsonNode ssm = block(module, "data", "aws_ssm_parameter", "ami");
    assertEquals("var.ami_ssm_parameter", expr(ssm.get("name")));
    for (String instance : List.of("node", "bench")) {
      String ami = expr(block(module, "resource", "aws_instance", instance).get("ami"));
      assertTrue(ami.contains("data.aws_ssm_parameter.ami.value"), instance + " ami: " + ami);
    }
    assertTrue(module.path("data").path("aws_ami").isMissingNode(), "no aws_ami lookup as well");
  }

  @Test
  void oneVpcWithOnePublicSubnetInTheZone() {
    JsonNode vpc = block(module, "resource", "aws_vpc", "kvd");
    assertEquals("var.vpc_cidr", expr(vpc.get("cidr_block")));
    assertEquals("aws_vpc.kvd.id", expr(block(module, "resource", "aws_internet_gateway", "kvd")
        .get("vpc_id")));
    JsonNode subnet = block(module, "resource", "aws_subnet", "kvd");
    assertEquals("var.subnet_cidr", expr(subnet.get("cidr_block")));
    assertEquals("var.availability_zone", expr(subnet.get("availability_zone")));
    assertTrue(subnet.path("map_public_ip_on_launch").asBoolean(false));
    JsonNode route = block(module, "resource", "aws_route_table", "kvd").path("route").path(0);
    assertEquals("0.0.0.0/0", route.path("cidr_block").asText());
    assertEquals("aws_internet_gateway.kvd.id", expr(route.get("gateway_id")));
    JsonNode association = block(module, "resource", "aws_route_table_association", "kvd");
    assertEquals("aws_subnet.kvd.id", expr(association.get("subnet_id")));
    assertEquals("aws_route_table.kvd.id", expr(association.get("route_table_id")));
  }

  record Rule(String name, String protocol, int from, int to, JsonNode json) {
    String source() {
      List<String> sources = new ArrayList<>();
      for (String key : List.of("cidr_ipv4", "cidr_ipv6", "referenced_security_group_id",
          "prefix_list_id")) {
        if (json.has(key)) {
          sources.add(key + "=" + json.get(key).asText());
        }
      }
      assertEquals(1, sources.size(), name + ": one source per rule: " + sources);
      return sources.get(0);
    }

    boolean covers(String proto, int port) {
      return protocol.equals("-1") || (protocol.equals(proto) && from <= port && port <= to);
    }
  }

  /** The ingress rules, with their ports resolved (var.NAME to its default). */
  static List<Rule> ingressRules() {
    assertTrue(module.path("resource").path("aws_security_group_rule").isMissingNode(),
        "rules are aws_vpc_security_group_ingress_rule resources");
    JsonNode group = block(module, "resource", "aws_security_group", "kvd");
    assertFalse(group.has("ingress") || group.has("egress"), "no inline rules");
    List<Rule> rules = new ArrayList<>();
    module.path("resource").path("aws_vpc_security_group_ingress_rule").properties()
        .forEach(e -> {
          JsonNode r = block(module, "resource", "aws_vpc_security_group_ingress_rule",
              e.getKey());
          assertEquals("aws_security_group.kvd.id", expr(r.get("security_group_id")), e.getKey());
          String protocol = r.path("ip_protocol").asText();
          int from = protocol.equals("-1") ? 0 : port(r.get("from_port"));
          int to = protocol.equals("-1") ? 65535 : port(r.get("to_port"));
          rules.add(new Rule(e.getKey(), protocol, from, to, r));
        });
    assertFalse(rules.isEmpty());
    return rules;
  }

  private static int port(JsonNode value) {
    assertNotNull(value, "rule without a port");
    if (value.isNumber()) {
      return value.asInt();
    }
    String e = expr(value);
    assertTrue(e.startsWith("var."), "port " + e);
    return variable(e.substring(4)).path("default").asInt(-1);
  }

  @Test
  void kvdsUdpPortIsOpenToTheGroupItselfAndToClientCidr() {
    int kvdPort = (Integer) DEFAULTS.get("kvd_port");
    List<String> udpSources = new ArrayList<>();
    for (Rule rule : ingressRules()) {
      if (rule.covers("udp", kvdPort)) {
        assertEquals("udp", rule.protocol(), rule.name() + " opens more than UDP");
        assertEquals("var.kvd_port", expr(rule.json().get("from_port")), rule.name());
        assertEquals("var.kvd_port", expr(rule.json().get("to_port")), rule.name());
        udpSources.add(rule.source());
      }
    }
    assertEquals(Set.of("referenced_security_group_id=${aws_security_group.kvd.id}",
        "cidr_ipv4=${var.client_cidr}"), Set.copyOf(udpSources));
    assertEquals(2, udpSources.size());
  }

  @Test
  void sshOnlyFromOperatorCidrAndNothingFromTheWorld() {
    List<Rule> rules = ingressRules();
    List<Rule> ssh = rules.stream().filter(r -> r.covers("tcp", 22)).toList();
    assertFalse(ssh.isEmpty(), "no SSH rule");
    for (Rule rule : ssh) {
      assertEquals("cidr_ipv4=${var.operator_cidr}", rule.source(), rule.name());
    }
    for (Rule rule : rules) {
      String source = rule.source();
      assertFalse(source.contains("0.0.0.0/0") || source.contains("::/0"), rule.name());
      assertTrue(Set.of("cidr_ipv4=${var.operator_cidr}", "cidr_ipv4=${var.client_cidr}",
          "referenced_security_group_id=${aws_security_group.kvd.id}").contains(source),
          rule.name() + " opens to " + source);
      if (source.equals("cidr_ipv4=${var.client_cidr}")) {
        assertEquals("udp", rule.protocol(), "clients reach kvd's UDP port only");
      }
      if (rule.protocol().equals("tcp")) {
        assertEquals("cidr_ipv4=${var.operator_cidr}", source, rule.name());
      }
    }
    Rule metrics = rules.stream().filter(r -> r.covers("tcp", 9404)).findFirst()
        .orElseThrow(() -> new AssertionError("no rule for the metrics port 9404"));
    assertEquals("var.metrics_port > 0 ? 1 : 0", expr(metrics.json().get("count")));
    JsonNode egress = module.path("resource").path("aws_vpc_security_group_egress_rule");
    assertEquals(1, egress.size(), "egress rules: " + egress);
    JsonNode all = egress.properties().iterator().next().getValue().get(0);
    assertEquals("-1", all.path("ip_protocol").asText());
    assertEquals("0.0.0.0/0", all.path("cidr_ipv4").asText());
  }

  @Test
  void privateIpsAreFixedWithCidrhost() {
    Map<String, JsonNode> locals = TerraformModule.locals(module);
    assertEquals("[for i in range(var.node_count) : cidrhost(var.subnet_cidr, 10 + i)]",
        expr(locals.get("node_private_ips")));
    String bench = expr(locals.get("bench_private_ips"));
    assertTrue(bench.startsWith("[for i in range(var.bench_count) : cidrhost(var.subnet_cidr, "),
        bench);
    assertEquals("[for ip in local.node_private_ips : \"${ip}:${var.kvd_port}\"]",
        expr(locals.get("servers")));
    assertEquals("local.node_private_ips[count.index]",
        expr(block(module, "resource", "aws_instance", "node").get("private_ip")));
    assertEquals("local.bench_private_ips[count.index]",
        expr(block(module, "resource", "aws_instance", "bench").get("private_ip")));
  }

  @Test
  void nodesAndBenchHosts() {
    JsonNode node = block(module, "resource", "aws_instance", "node");
    assertEquals("var.node_count", expr(node.get("count")));
    assertEquals("var.instance_type", expr(node.get("instance_type")));
    assertEquals("templatefile(\"${path.module}/cloud-init-node.yaml.tftpl\","
        + " local.node_cloud_init)", expr(node.get("user_data")));
    JsonNode bench = block(module, "resource", "aws_instance", "bench");
    assertEquals("var.bench_count", expr(bench.get("count")));
    assertEquals("var.bench_instance_type", expr(bench.get("instance_type")));
    assertEquals("templatefile(\"${path.module}/cloud-init-bench.yaml.tftpl\","
        + " local.bench_cloud_init)", expr(bench.get("user_data")));
    for (JsonNode instance : List.of(node, bench)) {
      assertEquals("var.ssh_key_name", expr(instance.get("key_name")));
      assertEquals("aws_subnet.kvd.id", expr(instance.get("subnet_id")));
      assertEquals("[\"${aws_security_group.kvd.id}\"]",
          instance.path("vpc_security_group_ids").toString());
      assertTrue(instance.path("associate_public_ip_address").asBoolean(false));
      assertEquals("required", instance.path("metadata_options").path(0).path("http_tokens")
          .asText(), "IMDSv2");
      assertTrue(instance.path("user_data_replace_on_change").asBoolean(false),
          "a new servers file must reach every node: cloud-init runs once per instance");
    }
    assertTrue(Files.isRegularFile(TerraformModule.dir().resolve("cloud-init-node.yaml.tftpl")));
    assertTrue(Files.isRegularFile(TerraformModule.dir().resolve("cloud-init-bench.yaml.tftpl")));
  }

  @Test
  void theReleaseObjectIsReadableWhenItIsInS3() {
    Map<String, JsonNode> locals = TerraformModule.locals(module);
    assertEquals("startswith(var.release_url, \"s3://\")", expr(locals.get("release_in_s3")));
    JsonNode policy = block(module, "resource", "aws_iam_role_policy", "release");
    assertEquals("local.release_in_s3 ? 1 : 0", expr(policy.get("count")));
    String document = policy.path("policy").asText();
    assertTrue(document.contains("s3:GetObject") && document.contains(
        "trimprefix(var.release_url, \"s3://\")"), document);
    assertFalse(document.contains("s3:*"), document);
    assertTrue(expr(block(module, "resource", "aws_instance", "node").get("iam_instance_profile"))
        .contains("aws_iam_instance_profile.kvd[0].name"));
  }

  // ---- outputs ----

  @Test
  void outputs() {
    for (String name : List.of("node_private_ips", "node_public_ips", "bench_public_ips",
        "servers_file", "scp_servers_file_command", "kvctl_members_command", "kvbench_command")) {
      JsonNode output = block(module, "output", name);
      assertFalse(output.path("description").asText().isBlank(), name + ": description");
      assertTrue(output.has("value"), name + ": value");
    }
    assertEquals("aws_instance.node[*].private_ip",
        expr(block(module, "output", "node_private_ips").get("value")));
    assertEquals("aws_instance.node[*].public_ip",
        expr(block(module, "output", "node_public_ips").get("value")));
    assertEquals("aws_instance.bench[*].public_ip",
        expr(block(module, "output", "bench_public_ips").get("value")));
    assertEquals("format(\"%s\\n\", join(\"\\n\", local.servers))",
        expr(block(module, "output", "servers_file").get("value")));
    String scp = block(module, "output", "scp_servers_file_command").path("value").asText();
    assertTrue(scp.contains("scp servers.txt ${var.ssh_user}@${local.driver_ip}:"), scp);
    String members = block(module, "output", "kvctl_members_command").path("value").asText();
    assertTrue(members.startsWith("ssh ${var.ssh_user}@${local.driver_ip} "), members);
    assertTrue(members.endsWith("/bin/kvctl --servers-file servers.txt members"), members);
    String bench = block(module, "output", "kvbench_command").path("value").asText();
    assertTrue(bench.startsWith("ssh ${var.ssh_user}@${local.driver_ip} "), bench);
    assertTrue(bench.contains("/bin/kvbench --servers-file servers.txt --clients 2048"
        + " --duration 60 --workload custom --mix get=90,put=10 --out run.json"), bench);
    assertEquals("var.bench_count > 0 ? aws_instance.bench[0].public_ip"
        + " : aws_instance.node[0].public_ip",
        expr(TerraformModule.locals(module).get("driver_ip")));
  }

  /** The options the printed commands use are the tools' real ones (their man pages list them). */
  @Test
  void theCommandsUseRealOptions() throws IOException {
    Path man = TerraformModule.root().resolve("man");
    String kvbench = Files.readString(man.resolve("kvbench.1")).replace("\\-", "-");
    String bench = block(module, "output", "kvbench_command").path("value").asText();
    Matcher option = Pattern.compile("(--[a-z][a-z-]*)").matcher(
        bench.substring(bench.indexOf("kvbench ")));
    int count = 0;
    while (option.find()) {
      assertTrue(kvbench.contains("\\fB" + option.group(1) + "\\fP"),
          "kvbench has no option " + option.group(1));
      count++;
    }
    assertEquals(6, count);
    assertTrue(kvbench.contains("custom"), "kvbench workload custom");
    assertTrue(Files.isRegularFile(man.resolve("kvctl-members.1")), "kvctl members");
    String kvctl = Files.readString(man.resolve("kvctl.1")).replace("\\-", "-");
    assertTrue(kvctl.contains("\\fB--servers-file\\fP"));
  }

  // ---- terraform fmt's layout, checked mechanically ----

  @Test
  void everyFileIsCleanText() throws IOException {
    List<Path> files;
    try (Stream<Path> walk = Files.walk(TerraformModule.dir())) {
      files = walk.filter(Files::isRegularFile)
          .filter(p -> !TerraformModule.dir().relativize(p).toString().startsWith(".terraform"))
          .toList();
    }
    assertTrue(files.size() >= 7, "terraform/ files: " + files);
    for (Path file : files) {
      String text = Files.readString(file);
      assertFalse(text.isEmpty(), file + " is empty");
      assertTrue(text.endsWith("\n") && !text.endsWith("\n\n"), file + ": one newline at the end");
      assertFalse(text.contains("\r"), file + ": CR");
      String[] lines = text.split("\n", -1);
      for (int i = 0; i < lines.length; i++) {
        assertFalse(lines[i].contains("\t"), file + ":" + (i + 1) + ": tab");
        assertFalse(lines[i].endsWith(" "), file + ":" + (i + 1) + ": trailing whitespace");
      }
    }
  }

  @Test
  void tfFilesAreLaidOutAsTerraformFmtDoes() {
    for (Path file : TerraformModule.tfFiles()) {
      List<String> problems = fmtProblems(TerraformModule.read(file));
      assertTrue(problems.isEmpty(), file + ":\n" + String.join("\n", problems));
    }
  }

  @Test
  void theLayoutCheckFindsMistakes() {
    assertTrue(fmtProblems("a {\n  b = 1\n}\n").isEmpty());
    assertFalse(fmtProblems("a {\n   b = 1\n}\n").isEmpty(), "odd indentation");
    assertFalse(fmtProblems("a {\nb = 1\n}\n").isEmpty(), "not indented");
    assertFalse(fmtProblems("a {\n  b = 1\n  cc = 2\n}\n").isEmpty(), "= not aligned");
    assertTrue(fmtProblems("a {\n  b  = 1\n  cc = 2\n}\n").isEmpty());
    assertFalse(fmtProblems("a {\n  b  = 1\n\n  c  = 2\n}\n").isEmpty(), "too much padding");
    assertFalse(fmtProblems("a {\n}\nb {\n}\n").isEmpty(), "no blank line between blocks");
    assertTrue(fmtProblems("a {\n  p = f({\n    x = \"}\"\n  })\n}\n").isEmpty());
    assertFalse(fmtProblems("a {\n  p = f({\n  x = 1\n  })\n}\n").isEmpty());
  }

  private static final Pattern ATTRIBUTE =
      Pattern.compile("^( *)([A-Za-z_][A-Za-z0-9_-]*|\"[^\"]+\")( *)= (.*)$");

  /**
   * What terraform fmt would change, as far as this checks: indentation by two spaces per open
   * bracket level (a line opening several brackets indents by one level), the = of consecutive
   * single-line attributes aligned one space after the longest name, one space elsewhere, and a
   * blank line (or a comment) before each top-level block after the first.
   */
  static List<String> fmtProblems(String text) {
    List<String> problems = new ArrayList<>();
    String[] lines = text.split("\n", -1);
    Deque<Integer> levels = new ArrayDeque<>();
    List<int[]> chain = new ArrayList<>(); // {line, indent, name length, = column}
    int chainIndent = -1;
    for (int i = 0; i < lines.length; i++) {
      String line = lines[i];
      String where = "line " + (i + 1) + ": ";
      if (line.isBlank()) {
        checkChain(chain, problems);
        chainIndent = -1;
        continue;
      }
      int[] brackets = brackets(line);
      int leadingClosers = brackets[0];
      int close = leadingClosers;
      while (close > 0 && !levels.isEmpty()) {
        int top = levels.pop();
        if (top > close) {
          levels.push(top - close);
          close = 0;
        } else {
          close -= top;
        }
      }
      int indent = line.length() - line.stripLeading().length();
      int expected = 2 * levels.size();
      if (indent != expected) {
        problems.add(where + "indented " + indent + ", expected " + expected + ": " + line);
      }
      if (indent == 0 && line.trim().endsWith("{") && i > 0 && !lines[i - 1].isBlank()
          && !lines[i - 1].startsWith("#")) {
        problems.add(where + "no blank line before the block: " + line);
      }
      int net = brackets[1];
      if (net > 0) {
        levels.push(net);
      } else {
        int n = -net;
        while (n > 0 && !levels.isEmpty()) {
          int top = levels.pop();
          if (top > n) {
            levels.push(top - n);
            n = 0;
          } else {
            n -= top;
          }
        }
      }
      Matcher m = ATTRIBUTE.matcher(line);
      boolean singleLine = m.matches() && leadingClosers == 0 && net == 0;
      if (singleLine && (chain.isEmpty() || chainIndent == indent)) {
        chain.add(new int[] {i + 1, indent, m.group(2).length(), m.start(3) + m.group(3).length()});
        chainIndent = indent;
      } else {
        checkChain(chain, problems);
        chainIndent = -1;
        if (singleLine) {
          chain.add(new int[] {i + 1, indent, m.group(2).length(),
              m.start(3) + m.group(3).length()});
          chainIndent = indent;
        } else if (m.matches() && m.group(3).length() != 1) {
          problems.add(where + "one space before = in a multi-line attribute: " + line);
        }
      }
    }
    checkChain(chain, problems);
    if (!levels.isEmpty()) {
      problems.add("unclosed brackets at the end");
    }
    return problems;
  }

  private static void checkChain(List<int[]> chain, List<String> problems) {
    if (chain.isEmpty()) {
      return;
    }
    int longest = chain.stream().mapToInt(a -> a[2]).max().getAsInt();
    for (int[] a : chain) {
      int expected = a[1] + longest + 1;
      if (a[3] != expected) {
        problems.add("line " + a[0] + ": = at column " + a[3] + ", expected " + expected
            + " (aligned one space after the longest name of its group)");
      }
    }
    chain.clear();
  }

  /**
   * {leading closing brackets, net brackets opened by the rest of the line}, outside strings
   * (with their ${...} and nested strings) and comments.
   */
  static int[] brackets(String line) {
    int leading = 0;
    int net = 0;
    boolean sawCode = false;
    Deque<int[]> modes = new ArrayDeque<>(); // {0: string} or {1: interpolation, brace depth}
    for (int i = 0; i < line.length(); i++) {
      char c = line.charAt(i);
      int[] mode = modes.peek();
      if (mode != null && mode[0] == 0) {
        if (c == '\\') {
          i++;
        } else if (c == '"') {
          modes.pop();
        } else if ((c == '$' || c == '%') && i + 1 < line.length() && line.charAt(i + 1) == '{') {
          if (i > 0 && line.charAt(i - 1) == c) {
            i++; // $${ or %%{: literal
          } else {
            modes.push(new int[] {1, 0});
            i++;
          }
        }
        continue;
      }
      if (mode != null) { // interpolation
        if (c == '"') {
          modes.push(new int[] {0});
        } else if (c == '{') {
          mode[1]++;
        } else if (c == '}') {
          if (mode[1] == 0) {
            modes.pop();
          } else {
            mode[1]--;
          }
        }
        continue;
      }
      if (c == '#' || (c == '/' && i + 1 < line.length() && line.charAt(i + 1) == '/')) {
        break;
      }
      if (c == ' ') {
        continue;
      }
      boolean closer = c == '}' || c == ']' || c == ')';
      if (closer && !sawCode) {
        leading++;
        continue;
      }
      sawCode = true;
      if (c == '"') {
        modes.push(new int[] {0});
      } else if (c == '{' || c == '[' || c == '(') {
        net++;
      } else if (closer) {
        net--;
      }
    }
    return new int[] {leading, net};
  }
}
