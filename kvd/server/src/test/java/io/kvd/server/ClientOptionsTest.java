package io.kvd.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvd.core.ClientLimits;
import io.kvd.core.SourceLimits;
import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * Proves the client options as kvd parses them: the defaults (admin open, limits auto), the
 * values in lower case as documented (also where enum values are matched case-sensitively),
 * auto resolved by the bound address (off on loopback, on otherwise, the wildcard included),
 * every number reaching ClientLimits, out-of-range values refused by kvd with status 2 before
 * it binds, and the source table taken from the store's budget.
 */
class ClientOptionsTest {
  private static ClientOptions parse(String... args) {
    ClientOptions options = new ClientOptions();
    new CommandLine(options).parseArgs(args);
    return options;
  }

  @Test
  void defaultsAreOpenAndAuto() {
    ClientLimits loopback = parse().limits("127.0.0.1");
    assertTrue(loopback.clientAdmin());
    assertFalse(loopback.sourceLimits(), "auto is off on loopback");
    assertEquals(0, loopback.tableLength());
    assertFalse(parse().limits("127.0.0.2").sourceLimits());
    ClientLimits remote = parse().limits("10.0.0.5");
    assertTrue(remote.sourceLimits(), "auto is on for a non-loopback address");
    assertTrue(parse().limits("0.0.0.0").sourceLimits(), "and for every interface");
    assertEquals(ClientLimits.OPEN.withSourceLimits(true), remote);
    assertEquals(SourceLimits.lengthOf(ClientLimits.SOURCE_SLOTS_DEFAULT),
        remote.tableLength());
  }

  @Test
  void everyOptionReachesTheLimits() {
    ClientLimits limits = parse("--client-admin", "off", "--source-limits", "on",
        "--source-requests-per-sec", "7", "--source-requests-burst", "9",
        "--source-reply-bytes-per-sec", "1000", "--source-reply-bytes-burst", "2000",
        "--source-overload-replies-per-sec", "3", "--source-table-slots", "64")
        .limits("127.0.0.1");
    assertEquals(new ClientLimits(false, true, 7, 9, 1_000, 2_000, 3, 64), limits);
    assertEquals(64 * 32 + 16, limits.tableLength());
    assertFalse(parse("--source-limits", "off").limits("10.0.0.5").sourceLimits());
    assertTrue(parse("--client-admin", "open").limits("10.0.0.5").clientAdmin());
  }

  @Test
  void kvdRefusesBadValuesBeforeBinding() {
    for (String[] args : new String[][] {
        {"--client-admin", "closed"}, {"--source-limits", "sometimes"},
        {"--source-table-slots", "1000"}, {"--source-requests-per-sec", "0"},
        {"--source-reply-bytes-burst", "-1"}, {"--source-overload-replies-per-sec", "0"}}) {
      StringWriter err = new StringWriter();
      CommandLine kvd = new CommandLine(new KvdMain())
          .setCaseInsensitiveEnumValuesAllowed(true);
      kvd.setErr(new PrintWriter(err, true));
      kvd.setOut(new PrintWriter(new StringWriter(), true));
      assertEquals(KvdMain.EXIT_USAGE, kvd.execute(args), String.join(" ", args));
      assertTrue(err.toString().contains(args[0]), err.toString());
    }
  }

  @Test
  void theSourceTableComesOutOfTheStoresBudget() {
    MemoryBudget budget = MemoryBudget.of(64L << 20, -1, 6L << 20);
    long table = SourceLimits.lengthOf(ClientLimits.SOURCE_SLOTS_DEFAULT);
    assertEquals(budget.storeLengthMax() - table,
        budget.withSourceTableLength(table).storeLengthMax());
    IllegalArgumentException tooBig = assertThrows(IllegalArgumentException.class,
        () -> budget.withSourceTableLength(50L << 20).storeLengthMax());
    assertTrue(tooBig.getMessage().contains("--source-table-slots"), tooBig.getMessage());
  }
}
