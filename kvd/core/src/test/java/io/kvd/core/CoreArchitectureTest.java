package io.kvd.core;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.domain.JavaMethodCall;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.lang.ArchRule;
import java.nio.ByteBuffer;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Instant;
import java.time.InstantSource;
import java.time.LocalDateTime;
import java.util.List;
import java.util.Random;
import java.util.SplittableRandom;
import java.util.Timer;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * Proves that the core stays sans-IO and deterministic: no class of io.kvd.core.. (main code only)
 * depends on Netty, sockets, channels, threads or java.util.concurrent, or reads a clock or an
 * unseeded source of randomness. How: ArchUnit rules over the imported main classes, which must
 * include the core's known classes (so the rules cannot pass on an empty import), and the same
 * rules run against canary classes, each committing one forbidden act, which must each be caught
 * (so a rule that matches nothing would fail here too).
 */
class CoreArchitectureTest {
  private static final String CORE = "io.kvd.core..";

  private static final ArchRule NO_IO_OR_THREADS = noClasses().that().resideInAPackage(CORE)
      .should().dependOnClassesThat().resideInAnyPackage("io.netty..", "java.net..",
          "java.nio.channels..", "java.util.concurrent..")
      .orShould().dependOnClassesThat().belongToAnyOf(Thread.class, ThreadGroup.class,
          Timer.class)
      .because("the core is a single-threaded state machine; the shell owns sockets and threads");

  private static final DescribedPredicate<JavaMethodCall> READS_JAVA_TIME_NOW =
      DescribedPredicate.describe("a java.time now() method",
          call -> call.getTargetOwner().getPackageName().equals("java.time")
              && call.getName().equals("now"));

  private static final ArchRule NO_CLOCK_OR_UNSEEDED_RANDOM = noClasses().that()
      .resideInAPackage(CORE)
      .should().callMethod(System.class, "currentTimeMillis")
      .orShould().callMethod(System.class, "nanoTime")
      .orShould().callMethodWhere(READS_JAVA_TIME_NOW)
      .orShould().dependOnClassesThat().belongToAnyOf(Clock.class, InstantSource.class,
          SecureRandom.class)
      .orShould().callConstructor(Random.class)
      .orShould().callConstructor(SplittableRandom.class)
      .orShould().callMethod(Math.class, "random")
      .orShould().callMethod(StrictMath.class, "random")
      .because("time is passed in as nowMs and randomness comes from seeds, so runs replay");

  private static final ArchRule NO_LOGGING = noClasses().that().resideInAPackage(CORE)
      .should().dependOnClassesThat().resideInAnyPackage("org.slf4j..", "ch.qos.logback..",
          "org.apache.logging..", "org.apache.log4j..", "org.apache.commons.logging..",
          "java.util.logging..")
      .orShould().dependOnClassesThat().belongToAnyOf(System.Logger.class)
      .orShould().accessField(System.class, "out")
      .orShould().accessField(System.class, "err")
      .because("the core reports through NodeEvents; the shell decides what becomes a log line");

  private static final List<ArchRule> RULES = List.of(NO_IO_OR_THREADS,
      NO_CLOCK_OR_UNSEEDED_RANDOM, NO_LOGGING);

  /** The main classes of the core, imported once for all tests (imports are slow). */
  private static final JavaClasses CORE_CLASSES = new ClassFileImporter()
      .withImportOption(new ImportOption.DoNotIncludeTests())
      .importPackages("io.kvd.core");

  @Test
  void coreClassesAreImportedWithoutTests() {
    JavaClasses core = CORE_CLASSES;
    for (Class<?> expected : List.of(Node.class, ReplyCache.class, NodeConfig.class,
        io.kvd.core.store.Store.class, io.kvd.core.codec.ClientCodec.class, Invariants.class)) {
      assertTrue(core.contain(expected), expected.getName() + " not imported");
    }
    List<String> tests = core.stream().map(JavaClass::getName)
        .filter(name -> name.contains("Test") || name.contains("Canary"))
        .collect(Collectors.toList());
    assertTrue(tests.isEmpty(), "test classes imported: " + tests);
  }

  @Test
  void coreDoesNoIoAndStartsNoThreads() {
    NO_IO_OR_THREADS.check(CORE_CLASSES);
  }

  @Test
  void coreReadsNoClockAndNoUnseededRandom() {
    NO_CLOCK_OR_UNSEEDED_RANDOM.check(CORE_CLASSES);
  }

  @Test
  void coreUsesNoLoggingFrameworkAndNoConsole() {
    NO_LOGGING.check(CORE_CLASSES);
  }

  // Canaries: each commits exactly one forbidden act and must be caught by the rules above. They
  // live in the test tree, so the import of main classes never sees them.

  static final class CurrentTimeMillisCanary {
    long now() {
      return System.currentTimeMillis();
    }
  }

  static final class NanoTimeCanary {
    long now() {
      return System.nanoTime();
    }
  }

  static final class InstantNowCanary {
    Instant now() {
      return Instant.now();
    }
  }

  static final class LocalDateTimeNowCanary {
    LocalDateTime now() {
      return LocalDateTime.now();
    }
  }

  static final class ClockCanary {
    long now(Clock clock) {
      return clock.millis();
    }
  }

  static final class UnseededRandomCanary {
    int draw() {
      return new Random().nextInt();
    }
  }

  static final class UnseededSplittableRandomCanary {
    int draw() {
      return new SplittableRandom().nextInt();
    }
  }

  static final class MathRandomCanary {
    double draw() {
      return Math.random();
    }
  }

  static final class SecureRandomCanary {
    byte[] draw(SecureRandom random) {
      byte[] b = new byte[8];
      random.nextBytes(b);
      return b;
    }
  }

  static final class ThreadCanary {
    void start(Runnable work) {
      new Thread(work).start();
    }
  }

  static final class SleepCanary {
    void pause() throws InterruptedException {
      TimeUnit.MILLISECONDS.sleep(1);
    }
  }

  static final class ExecutorCanary {
    void submit(Runnable work) {
      Executors.newSingleThreadExecutor().execute(work);
    }
  }

  static final class ConcurrentMapCanary {
    final ConcurrentHashMap<Long, Long> map = new ConcurrentHashMap<>();
  }

  static final class AtomicCanary {
    final AtomicLong counter = new AtomicLong();
  }

  static final class SocketCanary {
    java.net.InetSocketAddress address() {
      return new java.net.InetSocketAddress(1);
    }
  }

  static final class ChannelCanary {
    void close(java.nio.channels.DatagramChannel channel) throws java.io.IOException {
      channel.close();
    }
  }

  static final class JulLoggerCanary {
    void log(String message) {
      java.util.logging.Logger.getLogger("core").info(message);
    }
  }

  static final class SystemLoggerCanary {
    void log(String message) {
      System.getLogger("core").log(System.Logger.Level.INFO, message);
    }
  }

  static final class SystemOutCanary {
    void print(String message) {
      System.out.println(message);
    }
  }

  static final class SystemErrCanary {
    void print(String message) {
      System.err.println(message);
    }
  }

  /** What the core may do: seeded randomness, buffers, its own invariants. */
  static final class AllowedCanary {
    long work(long seed, long nowMs) {
      ByteBuffer buffer = ByteBuffer.allocate(8).putLong(new Random(seed).nextLong());
      Invariants.check(nowMs >= 0, "nowMs %d < %d", nowMs, 0);
      return buffer.getLong(0) + new SplittableRandom(seed).nextLong();
    }
  }

  @Test
  void rulesCatchEachForbiddenAct() {
    List<Class<?>> canaries = List.of(CurrentTimeMillisCanary.class, NanoTimeCanary.class,
        InstantNowCanary.class, LocalDateTimeNowCanary.class, ClockCanary.class,
        UnseededRandomCanary.class, UnseededSplittableRandomCanary.class, MathRandomCanary.class,
        SecureRandomCanary.class, ThreadCanary.class, SleepCanary.class, ExecutorCanary.class,
        ConcurrentMapCanary.class, AtomicCanary.class, SocketCanary.class, ChannelCanary.class,
        JulLoggerCanary.class, SystemLoggerCanary.class, SystemOutCanary.class,
        SystemErrCanary.class);
    JavaClasses classes = new ClassFileImporter().importClasses(canaries);
    String violations = RULES.stream()
        .flatMap(rule -> rule.evaluate(classes).getFailureReport().getDetails().stream())
        .collect(Collectors.joining("\n"));
    for (Class<?> canary : canaries) {
      // Violations name their class as "<...CoreArchitectureTest$XCanary>" or as the origin of a
      // call, "<...CoreArchitectureTest$XCanary.method()>".
      String name = canary.getName();
      assertTrue(violations.contains("<" + name + ">") || violations.contains("<" + name + "."),
          canary.getSimpleName() + " was not caught; violations:\n" + violations);
    }
    JavaClasses allowed = new ClassFileImporter().importClasses(AllowedCanary.class);
    for (ArchRule rule : RULES) {
      assertFalse(rule.evaluate(allowed).hasViolation(),
          "seeded randomness flagged: " + rule.evaluate(allowed).getFailureReport());
    }
  }
}
