package io.kvd.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;

/**
 * Proves that pinning restricts the calling thread, and only it, to the CPU asked for, and that
 * a CPU outside the range or outside the process's allowed set is refused with the allowed set
 * named. How: a fresh thread pins itself and reads /proc/thread-self/status.
 */
@EnabledOnOs(OS.LINUX)
class AffinityTest {
  private static String inFreshThread(Runnable action) throws InterruptedException {
    AtomicReference<String> allowed = new AtomicReference<>();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    Thread thread = new Thread(() -> {
      try {
        action.run();
        allowed.set(Affinity.allowedCpus());
      } catch (Throwable t) {
        failure.set(t);
      }
    });
    thread.start();
    thread.join();
    if (failure.get() instanceof RuntimeException e) {
      throw e;
    }
    return allowed.get();
  }

  /** The highest CPU in this process's allowed list ("0-1", "0,2-3"). */
  private static int lastAllowed() {
    String[] numbers = Affinity.allowedCpus().split("[-,]");
    return Integer.parseInt(numbers[numbers.length - 1].trim());
  }

  @Test
  void pinsTheCallingThreadAndNoOther() throws Exception {
    String before = Affinity.allowedCpus();
    int first = Integer.parseInt(Affinity.allowedCpus().split("[-,]")[0].trim());
    assertEquals(String.valueOf(first), inFreshThread(() -> Affinity.pinCurrentThread(first)));
    assertEquals(before, Affinity.allowedCpus(), "the test's own thread is left alone");
    int last = lastAllowed();
    assertEquals(String.valueOf(last), inFreshThread(() -> Affinity.pinCurrentThread(last)));
  }

  @Test
  void refusesACpuOutsideTheRangeOrTheAllowedSet() {
    assertThrows(IllegalArgumentException.class, () -> Affinity.pinCurrentThread(-1));
    assertThrows(IllegalArgumentException.class,
        () -> Affinity.pinCurrentThread(Affinity.CPU_MAX + 1));
    // One past the CPUs this process may use: in range, but the kernel refuses it (EINVAL).
    int beyond = lastAllowed() + 1;
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> inFreshThread(() -> Affinity.pinCurrentThread(beyond)));
    assertTrue(e.getMessage().contains("allowed: "), e.getMessage());
  }

  @Test
  void parsesCpuLists() {
    assertEquals(List.of(0), Affinity.parseList("0"));
    assertEquals(List.of(2, 3, 0), Affinity.parseList("2, 3,0"));
    assertThrows(IllegalArgumentException.class, () -> Affinity.parseList("0-1"));
    assertThrows(IllegalArgumentException.class, () -> Affinity.parseList(""));
    assertThrows(IllegalArgumentException.class, () -> Affinity.parseList("1024"));
  }
}
