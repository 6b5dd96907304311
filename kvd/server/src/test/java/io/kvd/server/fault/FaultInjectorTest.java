package io.kvd.server.fault;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Proves the fault layer's decisions without a network: an injector fed a seeded random sends
 * into a link that records what it was asked to do, so every test is exact and repeatable. Rates
 * are checked over 100,000 datagrams within 5 standard deviations of the binomial (the seeds are
 * fixed, so a pass is deterministic; the bound says the rates are the configured ones, not luck).
 */
class FaultInjectorTest {
  private static final int DATAGRAMS = 100_000;
  private static final byte[] DATAGRAM = new byte[100];

  /** One thing the injector asked the link to do: send now (delay 0) or after a delay. */
  private record Sent(long to, long delayMs) {}

  /** Records every send; delayed copies stay waiting unless released. */
  private static class RecordingLink implements FaultInjector.Link {
    final List<Sent> sent = new ArrayList<>();

    @Override
    public void sendNow(long to, byte[] datagram) {
      sent.add(new Sent(to, 0));
    }

    @Override
    public void sendLater(long to, byte[] datagram, long delayMs) {
      assertTrue(delayMs > 0, "a delayed copy has a positive delay");
      sent.add(new Sent(to, delayMs));
    }

    long count(java.util.function.Predicate<Sent> which) {
      return sent.stream().filter(which).count();
    }
  }

  private static FaultInjector injector(FaultConfig config, long seed) {
    return new FaultInjector(config, new SplittableRandom(seed), Integer.MAX_VALUE,
        Long.MAX_VALUE);
  }

  /** Sends DATAGRAMS datagrams, releasing each delayed copy at once so no bound is reached. */
  private static RecordingLink sendMany(FaultInjector faults) {
    RecordingLink link = new RecordingLink() {
      @Override
      public void sendLater(long to, byte[] datagram, long delayMs) {
        super.sendLater(to, datagram, delayMs);
        faults.onDelayedSent(datagram.length);
      }
    };
    for (int i = 0; i < DATAGRAMS; i++) {
      faults.send(i, DATAGRAM, link);
    }
    return link;
  }

  private static void assertRate(double expectedPct, long observed, String what) {
    double p = expectedPct / 100;
    double mean = DATAGRAMS * p;
    double sd = Math.sqrt(DATAGRAMS * p * (1 - p));
    assertTrue(Math.abs(observed - mean) <= 5 * sd + 1, what + ": " + observed + " of "
        + DATAGRAMS + ", expected " + mean + " +- " + 5 * sd);
  }

  @Test
  void withoutFaultsEveryDatagramIsSentOnceAtOnce() {
    FaultInjector faults = injector(FaultConfig.NONE, 1);
    RecordingLink link = sendMany(faults);
    assertEquals(DATAGRAMS, link.sent.size());
    assertEquals(DATAGRAMS, link.count(s -> s.delayMs() == 0));
    for (int i = 0; i < DATAGRAMS; i++) {
      assertEquals(i, link.sent.get(i).to(), "in order, to the right address");
    }
    assertFalse(FaultConfig.NONE.active());
  }

  @Test
  void theSameSeedGivesTheSameDecisionsAndAnotherSeedOthers() {
    FaultConfig config = new FaultConfig(10, 10, 10, 5, 3, 0);
    List<Sent> first = sendMany(injector(config, 42)).sent;
    List<Sent> again = sendMany(injector(config, 42)).sent;
    List<Sent> other = sendMany(injector(config, 43)).sent;
    assertEquals(first, again);
    assertNotEquals(first, other);
  }

  @Test
  void lossDropsTheConfiguredShareAndNothingElse() {
    FaultInjector faults = injector(new FaultConfig(10, 0, 0, 0, 0, 0), 7);
    RecordingLink link = sendMany(faults);
    assertRate(10, DATAGRAMS - link.sent.size(), "lost");
    assertEquals(DATAGRAMS - link.sent.size(), faults.lost());
    assertEquals(link.sent.size(), link.count(s -> s.delayMs() == 0), "no delays");
    assertEquals(0, sendMany(injector(new FaultConfig(100, 100, 100, 5, 0, 0), 7)).sent.size(),
        "100% loss sends nothing");
  }

  @Test
  void duplicationSendsTheConfiguredShareTwice() {
    FaultInjector faults = injector(new FaultConfig(0, 20, 0, 0, 0, 0), 8);
    RecordingLink link = sendMany(faults);
    assertRate(20, link.sent.size() - DATAGRAMS, "duplicated");
    assertEquals(link.sent.size() - DATAGRAMS, faults.duplicated());
    for (int i = 1; i < link.sent.size(); i++) {
      assertTrue(link.sent.get(i).to() >= link.sent.get(i - 1).to(),
          "a duplicate follows its original");
    }
  }

  @Test
  void delaysAreUniformAroundTheMeanWithinTheJitter() {
    RecordingLink link = sendMany(injector(new FaultConfig(0, 0, 0, 50, 10, 0), 9));
    assertEquals(DATAGRAMS, link.sent.size());
    long min = link.sent.stream().mapToLong(Sent::delayMs).min().orElseThrow();
    long max = link.sent.stream().mapToLong(Sent::delayMs).max().orElseThrow();
    double mean = link.sent.stream().mapToLong(Sent::delayMs).average().orElseThrow();
    assertEquals(40, min);
    assertEquals(60, max);
    assertEquals(50, mean, 0.2);
  }

  @Test
  void jitterBeyondTheMeanIsClampedAtZero() {
    RecordingLink link = sendMany(injector(new FaultConfig(0, 0, 0, 2, 4, 0), 10));
    assertTrue(link.count(s -> s.delayMs() == 0) > 0, "some are sent at once");
    assertTrue(link.sent.stream().allMatch(s -> s.delayMs() <= 6));
  }

  @Test
  void reorderedCopiesAreHeldBackSoThatLaterOnesOvertakeThem() {
    FaultInjector faults = injector(new FaultConfig(0, 0, 25, 0, 0, 0), 11);
    RecordingLink link = sendMany(faults);
    long held = link.count(s -> s.delayMs() > 0);
    assertRate(25, held, "held back");
    assertEquals(held, faults.reordered());
    assertTrue(link.sent.stream().allMatch(
        s -> s.delayMs() <= FaultInjector.REORDER_HOLD_MS_MAX));
    assertEquals(FaultInjector.REORDER_HOLD_MS_MAX,
        link.sent.stream().mapToLong(Sent::delayMs).max().orElseThrow());
  }

  @Test
  void delayedCopiesAreBoundedInNumberAndDroppedAndCountedBeyond() {
    FaultInjector faults = new FaultInjector(new FaultConfig(0, 0, 0, 5, 0, 0),
        new SplittableRandom(12), 10, Long.MAX_VALUE);
    RecordingLink link = new RecordingLink();
    for (int i = 0; i < 15; i++) {
      faults.send(i, DATAGRAM, link);
    }
    assertEquals(10, link.sent.size());
    assertEquals(5, faults.overflowed());
    assertEquals(10, faults.delayedWaiting());
    for (int i = 0; i < 3; i++) {
      faults.onDelayedSent(DATAGRAM.length);
    }
    for (int i = 0; i < 5; i++) {
      faults.send(i, DATAGRAM, link);
    }
    assertEquals(13, link.sent.size(), "room for three more");
    assertEquals(7, faults.overflowed());
  }

  @Test
  void delayedCopiesAreBoundedInBytes() {
    FaultInjector faults = new FaultInjector(new FaultConfig(0, 0, 0, 5, 0, 0),
        new SplittableRandom(13), Integer.MAX_VALUE, 250);
    RecordingLink link = new RecordingLink();
    for (int i = 0; i < 5; i++) {
      faults.send(i, DATAGRAM, link);
    }
    assertEquals(2, link.sent.size(), "two datagrams of 100 bytes fit in 250");
    assertEquals(200, faults.delayedLengthWaiting());
    assertEquals(3, faults.overflowed());
  }

  @Test
  void aDelayedCopyReportedTwiceIsABug() {
    FaultInjector faults = injector(new FaultConfig(0, 0, 0, 5, 0, 0), 14);
    faults.send(1, DATAGRAM, new RecordingLink());
    faults.onDelayedSent(DATAGRAM.length);
    assertThrows(IllegalStateException.class, () -> faults.onDelayedSent(DATAGRAM.length));
  }

  @Test
  void invalidConfigsAreRejected() {
    assertThrows(IllegalArgumentException.class, () -> new FaultConfig(101, 0, 0, 0, 0, 0));
    assertThrows(IllegalArgumentException.class, () -> new FaultConfig(0, -1, 0, 0, 0, 0));
    assertThrows(IllegalArgumentException.class,
        () -> new FaultConfig(0, 0, Double.NaN, 0, 0, 0));
    assertThrows(IllegalArgumentException.class, () -> new FaultConfig(0, 0, 0, -1, 0, 0));
    assertThrows(IllegalArgumentException.class,
        () -> new FaultConfig(0, 0, 0, 0, FaultConfig.DELAY_MS_MAX + 1, 0));
    assertTrue(new FaultConfig(0.25, 0, 0, 0, 0, 0).active());
    assertTrue(new FaultConfig(0, 0, 0, 0, 1, 0).active());
  }
}
