package io.kvd.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import org.junit.jupiter.api.Test;

/**
 * Proves the per-source token buckets at their edges: exactly the burst passes at once and the
 * next request waits exactly one token's refill time; the sustained rate is exact; refill follows
 * the given time to the millisecond and never overflows after long idleness; reply bytes are
 * charged after the fact with a wait computed from the debt; the OVERLOAD-reply bucket; and the
 * table is fixed: 100,000 distinct addresses neither change its size nor allocate. How: the
 * table is driven directly with explicit nowMs; allocation is read from the JVM's per-thread
 * counter.
 */
class SourceLimitsTest {
  private static final int A = 0x0A00_0001;

  private static ClientLimits limits(long perSec, long burst) {
    return ClientLimits.OPEN.withSourceLimits(true).withRequests(perSec, burst);
  }

  /** Sends a request at nowMs: the wait, or 0 after taking the token. */
  private static long request(SourceLimits table, int ipv4, long nowMs) {
    int slot = table.slot(ipv4, nowMs);
    long waitMs = table.requestWaitMs(slot);
    if (waitMs == 0) {
      table.chargeRequest(slot);
    }
    return waitMs;
  }

  @Test
  void theBurstPassesAtOnceThenEachRequestWaitsOneTokensRefill() {
    SourceLimits table = new SourceLimits(limits(10, 10), 1);
    long t = 5_000;
    for (int i = 0; i < 10; i++) {
      assertEquals(0, request(table, A, t), "request " + (i + 1) + " of the burst");
    }
    assertEquals(100, request(table, A, t), "the 11th waits for one token: 1000 ms / 10");
    assertEquals(1, request(table, A, t + 99), "99 ms later: 1 ms to go");
    assertEquals(0, request(table, A, t + 100), "a token after exactly 100 ms");
    assertEquals(100, request(table, A, t + 100));
    assertEquals(50, request(table, A, t + 150));
    // Refused requests take nothing: after the full refill time the whole burst is back.
    for (int i = 0; i < 10; i++) {
      assertEquals(0, request(table, A, t + 100 + 1_000), "burst again after 1 s idle");
    }
    assertEquals(100, request(table, A, t + 1_100));
  }

  @Test
  void exactlyTheRateIsAdmittedPerSecondUnderAFlood() {
    SourceLimits table = new SourceLimits(limits(250, 1), 2);
    long start = 10_000;
    int admitted = 0;
    // A request every ms (and 3 per ms), for exactly one second after the first.
    for (long t = start; t < start + 1_000; t++) {
      for (int k = 0; k < 3; k++) {
        if (request(table, A, t) == 0) {
          admitted++;
        }
      }
    }
    assertEquals(250, admitted, "one per 4 ms, the first at once");
  }

  @Test
  void aBurstLargerThanTheRate() {
    SourceLimits table = new SourceLimits(limits(2, 7), 3);
    for (int i = 0; i < 7; i++) {
      assertEquals(0, request(table, A, 0));
    }
    assertEquals(500, request(table, A, 0));
    assertEquals(0, request(table, A, 500));
    // 3.5 s refill 7 tokens; a longer wait adds none beyond the burst.
    long t = 500 + 3_500;
    for (int i = 0; i < 7; i++) {
      assertEquals(0, request(table, A, t + 100_000));
    }
    assertEquals(500, request(table, A, t + 100_000));
  }

  @Test
  void longIdlenessRefillsWithoutOverflow() {
    ClientLimits l = ClientLimits.OPEN.withSourceLimits(true)
        .withRequests(ClientLimits.REQUESTS_MAX, ClientLimits.REQUESTS_MAX)
        .withReplyBytes(ClientLimits.REPLY_BYTES_MAX, ClientLimits.REPLY_BYTES_MAX);
    SourceLimits table = new SourceLimits(l, 4);
    int slot = table.slot(A, 1);
    table.chargeReply(slot, 65_507);
    table.chargeRequest(slot);
    slot = table.slot(A, Long.MAX_VALUE / 2);
    assertEquals(0, table.requestWaitMs(slot));
    assertEquals(0, table.replyWaitMs(slot));
  }

  @Test
  void replyBytesAreChargedAfterTheReplyAndTheWaitFollowsTheDebt() {
    // 1,000 bytes per second is one byte per ms; burst 1,000 bytes.
    SourceLimits table = new SourceLimits(ClientLimits.OPEN.withSourceLimits(true)
        .withReplyBytes(1_000, 1_000), 5);
    int slot = table.slot(A, 100);
    assertEquals(0, table.replyWaitMs(slot));
    table.chargeReply(slot, 999);
    assertEquals(0, table.replyWaitMs(slot), "one byte of budget left: still answered");
    table.chargeReply(slot, 501);
    // Debt 1,500 bytes against 1,000: answered again once it is below 1,000, after 501 ms.
    assertEquals(501, table.replyWaitMs(slot));
    slot = table.slot(A, 100 + 500);
    assertEquals(1, table.replyWaitMs(slot));
    slot = table.slot(A, 100 + 501);
    assertEquals(0, table.replyWaitMs(slot));
  }

  @Test
  void overloadRepliesHaveTheirOwnBucket() {
    SourceLimits table = new SourceLimits(ClientLimits.OPEN.withSourceLimits(true)
        .withOverloadRepliesPerSec(3), 6);
    int slot = table.slot(A, 0);
    assertTrue(table.takeOverloadReply(slot));
    assertTrue(table.takeOverloadReply(slot));
    assertTrue(table.takeOverloadReply(slot));
    assertFalse(table.takeOverloadReply(slot), "the fourth in the same second is dropped");
    slot = table.slot(A, 333);
    assertFalse(table.takeOverloadReply(slot), "999 thousandths of a token after 333 ms");
    slot = table.slot(A, 334);
    assertTrue(table.takeOverloadReply(slot));
  }

  @Test
  void aTableOfOneSlotIsSharedByEveryAddress() {
    SourceLimits table = new SourceLimits(limits(1, 2).withSourceSlots(1), 7);
    assertEquals(0, request(table, A, 0));
    assertEquals(0, request(table, 0x0B00_0001, 0));
    assertEquals(1_000, request(table, 0x0C00_0001, 0));
  }

  @Test
  void distinctAddressesMostlyGetDistinctSlotsAndTheSeedMovesThem() {
    SourceLimits one = new SourceLimits(limits(1, 1), 8);
    SourceLimits other = new SourceLimits(limits(1, 1), 9);
    int distinct = 0;
    int moved = 0;
    for (int i = 0; i < 100; i++) {
      int slotA = one.slot(A + i, 0);
      int slotB = one.slot(A + i + 1_000, 0);
      distinct += slotA != slotB ? 1 : 0;
      moved += slotA != other.slot(A + i, 0) ? 1 : 0;
    }
    assertTrue(distinct >= 99, distinct + " of 100 pairs apart in 16,384 slots");
    assertTrue(moved >= 99, "another seed, another layout: " + moved);
  }

  @Test
  void aHundredThousandSourcesLeaveTheTablesMemoryUnchanged() {
    SourceLimits table = new SourceLimits(limits(5, 5), 10);
    long length = table.length();
    assertEquals(SourceLimits.lengthOf(ClientLimits.SOURCE_SLOTS_DEFAULT), length);
    assertEquals(512 * 1024 + 16, length, "32 bytes a slot and the array header");
    com.sun.management.ThreadMXBean threads =
        (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    long thread = Thread.currentThread().getId();
    long admitted = 0;
    for (int round = 0; round < 3; round++) { // the first rounds warm up the JIT
      long before = threads.getThreadAllocatedBytes(thread);
      admitted = 0;
      for (int i = 0; i < 100_000; i++) {
        int slot = table.slot(0x0A00_0000 + round * 100_000 + i, round * 10_000L + i / 100);
        if (table.requestWaitMs(slot) == 0) {
          table.chargeRequest(slot);
          admitted++;
        }
        table.chargeReply(slot, 100);
        table.takeOverloadReply(slot);
      }
      long allocated = threads.getThreadAllocatedBytes(thread) - before;
      if (round == 2) {
        assertTrue(allocated < 1_024, "100,000 sources allocated " + allocated + " bytes");
      }
    }
    assertEquals(length, table.length());
    assertTrue(admitted > 90_000, "distinct sources each have their own budget mostly: "
        + admitted);
  }

  @Test
  void limitsAreValidatedAtTheirEdges() {
    ClientLimits on = ClientLimits.OPEN.withSourceLimits(true);
    on.withRequests(1, 1).withReplyBytes(1, 1).withOverloadRepliesPerSec(1).withSourceSlots(1)
        .validate();
    on.withRequests(ClientLimits.REQUESTS_MAX, ClientLimits.REQUESTS_MAX)
        .withReplyBytes(ClientLimits.REPLY_BYTES_MAX, ClientLimits.REPLY_BYTES_MAX)
        .withOverloadRepliesPerSec(ClientLimits.REQUESTS_MAX)
        .withSourceSlots(ClientLimits.SOURCE_SLOTS_MAX).validate();
    for (ClientLimits bad : new ClientLimits[] {on.withRequests(0, 1), on.withRequests(1, 0),
        on.withRequests(ClientLimits.REQUESTS_MAX + 1, 1), on.withReplyBytes(0, 1),
        on.withReplyBytes(1, ClientLimits.REPLY_BYTES_MAX + 1), on.withOverloadRepliesPerSec(0),
        on.withSourceSlots(0), on.withSourceSlots(3), on.withSourceSlots(1 << 25)}) {
      assertThrows(IllegalArgumentException.class, bad::validate, bad.toString());
      assertThrows(IllegalArgumentException.class,
          () -> NodeConfig.defaults(1, 1 << 20, 1).withClientLimits(bad).validate());
    }
    assertThrows(IllegalArgumentException.class,
        () -> NodeConfig.defaults(1, 1 << 20, 1).withClientLimits(null).validate());
    assertEquals(0, ClientLimits.OPEN.tableLength(), "no table when limits are off");
    assertNotEquals(0, on.tableLength());
    assertEquals(ClientLimits.OPEN, NodeConfig.defaults(1, 1, 1).clientLimits());
  }
}
