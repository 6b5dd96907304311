package io.kvd.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvd.core.Addresses;
import io.kvd.core.cluster.Ring;
import io.kvd.client.ServersFile.Member;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves the servers file parser: the format existing clients use, comments and blank lines, name
 * resolution (through a table here, so no DNS), and a clear message with the line at fault for
 * every kind of mistake, within the member and size limits.
 */
class ServersFileTest {
  private static final ServersFile.Resolver TABLE = host -> {
    Map<String, byte[]> table = Map.of(
        "127.0.0.1", new byte[] {127, 0, 0, 1},
        "10.0.0.7", new byte[] {10, 0, 0, 7},
        "node-a", new byte[] {10, 0, 0, 7});
    byte[] ipv4 = table.get(host);
    if (ipv4 == null) {
      throw new UnknownHostException(host);
    }
    return ipv4;
  };

  private static List<Member> parse(String text) {
    return ServersFile.parse(text, "servers.txt", TABLE);
  }

  private static String error(String text) {
    return assertThrows(IllegalArgumentException.class, () -> parse(text)).getMessage();
  }

  @Test
  void membersAreReadInOrderSkippingCommentsAndBlankLines() {
    List<Member> members = parse("# the cluster\n\n127.0.0.1:43100\r\n  node-a:43101  # b\n"
        + "127.0.0.1:43102\n");
    assertEquals(3, members.size());
    assertEquals(Addresses.of(new byte[] {127, 0, 0, 1}, 43100), members.get(0).address());
    assertEquals(Addresses.of(new byte[] {10, 0, 0, 7}, 43101), members.get(1).address());
    assertEquals("node-a", members.get(1).host());
    assertEquals(4, members.get(1).line());
    assertEquals("10.0.0.7:43101", members.get(1).toString());
    assertEquals(new java.net.InetSocketAddress("10.0.0.7", 43101),
        members.get(1).socketAddress(), "the resolved address, not the name");
    assertEquals(3, ServersFile.addresses(members).length);
  }

  @Test
  void whatFormatWritesParsesBack() {
    String text = ServersFile.format("three", "127.0.0.1", List.of(43100, 43101, 43102));
    List<Member> members = parse(text);
    assertEquals(List.of(43100, 43101, 43102), members.stream().map(Member::port).toList());
  }

  @Test
  void mistakesNameTheLine() {
    assertTrue(error("127.0.0.1:43100\n127.0.0.1\n").startsWith("servers.txt:2: expected"));
    assertTrue(error("127.0.0.1:x\n").contains("not a number"));
    assertTrue(error("127.0.0.1:0\n").contains("outside 1..65535"));
    assertTrue(error("127.0.0.1:65536\n").contains("outside"));
    assertTrue(error(":43100\n").contains("expected host:port"));
    assertTrue(error("nowhere:43100\n").contains("cannot resolve 'nowhere'"));
    assertTrue(error("# only comments\n\n").contains("no members"));
  }

  @Test
  void theSameAddressTwiceIsAnError() {
    String message = error("10.0.0.7:43100\n127.0.0.1:43100\nnode-a:43100\n");
    assertTrue(message.startsWith("servers.txt:3: 10.0.0.7:43100 is listed twice (also on line 1)"),
        message);
  }

  @Test
  void moreMembersThanTheRingTakesAreAnError() {
    StringBuilder text = new StringBuilder();
    for (int i = 0; i <= Ring.MEMBERS_MAX; i++) {
      text.append("127.0.0.1:").append(10_000 + i).append('\n');
    }
    assertTrue(error(text.toString()).contains("more than " + Ring.MEMBERS_MAX + " members"));
  }

  @Test
  void aFileOverTheSizeLimitIsRefusedBeforeParsing(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("servers.txt");
    Files.writeString(file, "#".repeat((int) ServersFile.LENGTH_MAX + 1), StandardCharsets.UTF_8);
    String message = assertThrows(IllegalArgumentException.class,
        () -> ServersFile.read(file, TABLE)).getMessage();
    assertTrue(message.contains("at most " + ServersFile.LENGTH_MAX), message);
  }

  @Test
  void theSystemResolverFindsLoopback() throws Exception {
    assertEquals(127, ServersFile.SYSTEM.ipv4("127.0.0.1")[0]);
    assertEquals(4, ServersFile.SYSTEM.ipv4("localhost").length);
  }
}
