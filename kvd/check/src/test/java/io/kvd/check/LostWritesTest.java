package io.kvd.check;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import io.kvd.check.Operation.Outcome;
import io.kvd.check.Operation.Type;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Hand-made histories: final reads (client 9) that do and do not show a lost write. */
class LostWritesTest {
  private static Operation op(long id, int client, Type type, long value, boolean found,
      long invoke, long complete, Outcome outcome) {
    return new Operation(id, client, "k", type, value, found, invoke, complete, outcome);
  }

  private static List<LostWrites.Lost> find(Operation... ops) {
    return LostWrites.find(List.of(ops), o -> o.client() == 9);
  }

  @Test
  void aFinalReadOfAnOlderValueThanAnAcknowledgedPutIsLost() {
    Operation newer = op(2, 1, Type.PUT, 2, false, 30, 40, Outcome.OK);
    List<LostWrites.Lost> lost = find(
        op(1, 1, Type.PUT, 1, false, 10, 20, Outcome.OK),
        newer,
        op(3, 9, Type.GET, 1, true, 50, 60, Outcome.OK));
    assertEquals(1, lost.size());
    assertSame(newer, lost.get(0).newerWrite());
  }

  @Test
  void theLatestValueOrAConcurrentOneIsNotLost() {
    assertEquals(0, find(
        op(1, 1, Type.PUT, 1, false, 10, 20, Outcome.OK),
        op(2, 1, Type.PUT, 2, false, 30, 40, Outcome.OK),
        op(3, 9, Type.GET, 2, true, 50, 60, Outcome.OK)).size());
    // Put 1 overlaps put 2, so it may have taken effect last.
    assertEquals(0, find(
        op(1, 1, Type.PUT, 1, false, 10, 35, Outcome.OK),
        op(2, 2, Type.PUT, 2, false, 30, 40, Outcome.OK),
        op(3, 9, Type.GET, 1, true, 50, 60, Outcome.OK)).size());
    // An unknown put may take effect at any time.
    assertEquals(0, find(
        op(1, 1, Type.PUT, 1, false, 10, 0, Outcome.UNKNOWN),
        op(2, 2, Type.PUT, 2, false, 30, 40, Outcome.OK),
        op(3, 9, Type.GET, 1, true, 50, 60, Outcome.OK)).size());
  }

  @Test
  void absenceAfterAnAcknowledgedPutIsLostUnlessARemoveExplainsIt() {
    assertEquals(1, find(
        op(1, 1, Type.PUT, 1, false, 10, 20, Outcome.OK),
        op(2, 9, Type.GET, Operation.ABSENT, false, 50, 60, Outcome.OK)).size());
    assertEquals(0, find(
        op(1, 1, Type.PUT, 1, false, 10, 20, Outcome.OK),
        op(2, 2, Type.REMOVE, Operation.ABSENT, true, 30, 40, Outcome.OK),
        op(3, 9, Type.GET, Operation.ABSENT, false, 50, 60, Outcome.OK)).size());
    assertEquals(0, find(
        op(1, 1, Type.PUT, 1, false, 10, 20, Outcome.OK),
        op(2, 2, Type.REMOVE, Operation.ABSENT, false, 30, 0, Outcome.UNKNOWN),
        op(3, 9, Type.GET, Operation.ABSENT, false, 50, 60, Outcome.OK)).size());
    // A remove that found nothing, or that failed, does not explain it.
    assertEquals(1, find(
        op(1, 1, Type.PUT, 1, false, 10, 20, Outcome.OK),
        op(2, 2, Type.REMOVE, Operation.ABSENT, false, 30, 40, Outcome.OK),
        op(3, 2, Type.REMOVE, Operation.ABSENT, false, 41, 45, Outcome.FAILED),
        op(4, 9, Type.GET, Operation.ABSENT, false, 50, 60, Outcome.OK)).size());
  }

  @Test
  void readsOtherThanFinalOnesAreNotJudged() {
    assertEquals(0, LostWrites.find(List.of(
        op(1, 1, Type.PUT, 1, false, 10, 20, Outcome.OK),
        op(2, 1, Type.PUT, 2, false, 30, 40, Outcome.OK),
        op(3, 5, Type.GET, 1, true, 50, 60, Outcome.OK)), o -> o.client() == 9).size());
  }
}
