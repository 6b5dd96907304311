package io.kvd.check;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvd.check.Checker.Verdict;
import io.kvd.check.Operation.Outcome;
import io.kvd.check.Operation.Type;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Proves the history checker on hand-made histories, including ones that must fail: stale reads
 * (not linearizable but sequentially consistent), reads out of a writer's order (neither), reads
 * of values never written or of failed writes, remove semantics, unknown writes that take effect
 * late or never, the time budget, and the report's counts; and, on seeded random histories of a
 * real sequential register, that correct histories always pass.
 */
class CheckerTest {
  private long nextId;

  private Operation op(int client, Type type, long value, boolean found, long invoke,
      long complete, Outcome outcome) {
    return new Operation(nextId++, client, "k", type, value, found, invoke, complete, outcome);
  }

  private Operation put(int client, long value, long invoke, long complete) {
    return op(client, Type.PUT, value, false, invoke, complete, Outcome.OK);
  }

  private Operation get(int client, long value, long invoke, long complete) {
    return op(client, Type.GET, value, false, invoke, complete, Outcome.OK);
  }

  private Operation remove(int client, boolean found, long invoke, long complete) {
    return op(client, Type.REMOVE, Operation.ABSENT, found, invoke, complete, Outcome.OK);
  }

  private static Verdict lin(List<Operation> ops) {
    return new Checker().check(sorted(ops), true);
  }

  private static Verdict seq(List<Operation> ops) {
    return new Checker().check(sorted(ops), false);
  }

  private static List<Operation> sorted(List<Operation> ops) {
    List<Operation> copy = new ArrayList<>(ops);
    copy.sort((a, b) -> Long.compare(a.invokeNs(), b.invokeNs()));
    return copy;
  }

  @Test
  void aSequentialHistoryPasses() {
    List<Operation> h = List.of(get(1, Operation.ABSENT, 0, 1), put(1, 5, 2, 3), get(1, 5, 4, 5),
        remove(1, true, 6, 7), get(1, Operation.ABSENT, 8, 9), remove(1, false, 10, 11));
    assertEquals(Verdict.OK, lin(h));
    assertEquals(Verdict.OK, seq(h));
  }

  @Test
  void aStaleReadIsNotLinearizableButIsSequentiallyConsistent() {
    List<Operation> h = List.of(put(1, 1, 0, 10), put(1, 2, 20, 30), get(2, 1, 40, 50));
    assertEquals(Verdict.VIOLATION, lin(h));
    assertEquals(Verdict.OK, seq(h));
  }

  @Test
  void overlappingOperationsMayOrderEitherWay() {
    assertEquals(Verdict.OK, lin(List.of(put(1, 1, 0, 100), get(2, 1, 10, 20))));
    assertEquals(Verdict.OK, lin(List.of(put(1, 1, 0, 100), get(2, Operation.ABSENT, 10, 20))));
    assertEquals(Verdict.VIOLATION, lin(List.of(put(1, 1, 0, 5), get(2, Operation.ABSENT,
        10, 20))));
  }

  @Test
  void readingAWritersValuesOutOfOrderFailsBothModes() {
    List<Operation> h = List.of(put(1, 1, 0, 10), put(1, 2, 20, 30), get(2, 2, 40, 50),
        get(2, 1, 60, 70));
    assertEquals(Verdict.VIOLATION, lin(h));
    assertEquals(Verdict.VIOLATION, seq(h));
  }

  @Test
  void readingANeverWrittenOrFailedValueFails() {
    assertEquals(Verdict.VIOLATION, lin(List.of(put(1, 1, 0, 10), get(2, 7, 20, 30))));
    assertEquals(Verdict.VIOLATION, seq(List.of(put(1, 1, 0, 10), get(2, 7, 20, 30))));
    List<Operation> failed = List.of(op(1, Type.PUT, 3, false, 0, 10, Outcome.FAILED),
        get(2, 3, 20, 30));
    assertEquals(Verdict.VIOLATION, new Checker().check(List.of(get(2, 3, 20, 30)), true));
    assertTrue(new Checker().check(failed).linearizableViolations() == 1);
  }

  @Test
  void removeMustMatchWhetherTheKeyExisted() {
    assertEquals(Verdict.VIOLATION, lin(List.of(remove(1, true, 0, 10))));
    assertEquals(Verdict.VIOLATION, lin(List.of(put(1, 1, 0, 10), remove(1, false, 20, 30))));
    assertEquals(Verdict.OK, lin(List.of(put(1, 1, 0, 10), remove(2, true, 20, 30),
        get(1, Operation.ABSENT, 40, 50))));
    assertEquals(Verdict.VIOLATION, lin(List.of(put(1, 1, 0, 10), remove(2, true, 20, 30),
        get(1, 1, 40, 50))));
  }

  @Test
  void anUnknownWriteMayTakeEffectLateOrNever() {
    Operation unknown = op(1, Type.PUT, 9, false, 0, 0, Outcome.UNKNOWN);
    assertEquals(Verdict.OK, lin(List.of(unknown, get(2, Operation.ABSENT, 10, 20),
        get(2, 9, 30, 40))), "it took effect between the reads");
    assertEquals(Verdict.OK, lin(List.of(unknown, get(2, Operation.ABSENT, 10, 20))),
        "it never took effect");
    assertEquals(Verdict.VIOLATION, lin(List.of(unknown, get(2, 9, 10, 20),
        get(2, Operation.ABSENT, 30, 40))), "values do not vanish without a remove");
    assertEquals(Verdict.VIOLATION, lin(List.of(get(2, 9, 0, 5), op(1, Type.PUT, 9, false, 10,
        0, Outcome.UNKNOWN))), "not before it was invoked");
    // The writer moved on after the timeout; its write may still land after its next one.
    Operation late = op(1, Type.PUT, 1, false, 0, 0, Outcome.UNKNOWN);
    assertEquals(Verdict.OK, seq(List.of(late, put(1, 2, 100, 110), get(2, 2, 120, 130),
        get(2, 1, 140, 150))));
  }

  @Test
  void theBudgetTurnsAnExplodingSearchIntoUnknown() {
    List<Operation> h = new ArrayList<>();
    for (int i = 0; i < 60; i++) {
      h.add(put(i, i, 0, 1_000));
    }
    h.add(get(100, 12_345, 0, 1_000)); // never written: every order must be tried
    h.add(get(101, 7, 0, 1_000));
    assertEquals(Verdict.UNKNOWN, new Checker(5_000_000).check(sorted(h), true));
  }

  @Test
  void theReportCountsKeysPerModeAndShowsTheSmallestFailure() {
    List<Operation> h = new ArrayList<>();
    h.add(new Operation(1, 1, "good", Type.PUT, 1, false, 0, 10, Outcome.OK));
    h.add(new Operation(2, 2, "good", Type.GET, 1, false, 20, 30, Outcome.OK));
    h.add(new Operation(3, 1, "stale", Type.PUT, 1, false, 0, 10, Outcome.OK));
    h.add(new Operation(4, 1, "stale", Type.PUT, 2, false, 20, 30, Outcome.OK));
    h.add(new Operation(5, 2, "stale", Type.GET, 1, false, 40, 50, Outcome.OK));
    Checker.Report report = new Checker().check(h);
    assertEquals(2, report.keys());
    assertEquals(1, report.linearizableOk());
    assertEquals(1, report.linearizableViolations());
    assertEquals(2, report.sequentialOk());
    assertTrue(report.smallestViolation().contains("stale"), report.smallestViolation());
    assertTrue(report.toJson().contains("\"linearizableViolations\":1"));
    assertNull(new Checker().check(h.subList(0, 2)).smallestViolation());
  }

  @Test
  void historiesOfARealRegisterAlwaysPass() {
    long seed = Long.getLong("kvd.seed", new SplittableRandom().nextLong());
    SplittableRandom random = new SplittableRandom(seed);
    for (int round = 0; round < 200; round++) {
      // Clients with overlapping operations; each takes effect at a random instant inside its
      // interval, applied in that order to a real register, so the history is linearizable.
      List<long[]> effects = new ArrayList<>();
      int ops = 2 + random.nextInt(25);
      for (int i = 0; i < ops; i++) {
        long invoke = random.nextLong(1_000);
        long complete = invoke + 1 + random.nextLong(200);
        long at = invoke + random.nextLong(complete - invoke);
        effects.add(new long[] {at, invoke, complete, random.nextInt(3), i + 1, i % 4});
      }
      effects.sort((a, b) -> Long.compare(a[0], b[0]));
      long register = Operation.ABSENT;
      List<Operation> h = new ArrayList<>();
      for (long[] e : effects) {
        Type type = Type.values()[(int) e[3]];
        long value = type == Type.PUT ? e[4] : type == Type.GET ? register : Operation.ABSENT;
        boolean found = register != Operation.ABSENT;
        Outcome outcome = random.nextInt(10) == 0 && type != Type.GET ? Outcome.UNKNOWN
            : Outcome.OK;
        h.add(new Operation(nextId++, (int) e[5] * 1_000 + (int) e[4], "k", type, value, found,
            e[1], e[2], outcome));
        if (type == Type.PUT) {
          register = value;
        } else if (type == Type.REMOVE) {
          register = Operation.ABSENT;
        }
      }
      Checker.Report report = new Checker().check(h);
      assertTrue(report.clean(), "seed=" + seed + " round " + round + ":\n"
          + report.smallestViolation());
    }
  }
}
