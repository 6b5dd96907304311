package io.kvd.server.log;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.JsonEncoder;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.encoder.Encoder;
import org.slf4j.LoggerFactory;

/**
 * kvd's logging, set up from its options: one line per event on standard output, as text or as
 * one JSON object per line (logback's JsonEncoder). The level applies to kvd's own loggers
 * ({@code io.kvd..}); libraries (Netty, the metrics server) log at INFO at most, whatever the
 * level, so that DEBUG shows kvd's detail rather than theirs.
 *
 * <p>Loggers, by what they report: {@link #SERVER} (start, stop, bind failures), {@link
 * #MEMBERSHIP} (status changes and refutations), {@link #REPAIR} (completed repair cycles, lost
 * data), {@link #OPERATOR} (faults and blocks an operator set), {@link #NODE} (stalls, internal
 * errors) and {@link #METRICS} (the metrics endpoint).
 */
public final class LogSetup {
  public static final String SERVER = "io.kvd.server";
  public static final String MEMBERSHIP = "io.kvd.membership";
  public static final String REPAIR = "io.kvd.repair";
  public static final String OPERATOR = "io.kvd.operator";
  public static final String NODE = "io.kvd.node";
  public static final String METRICS = "io.kvd.metrics";

  /** The text form: an ISO-8601 UTC time first (tests and tools parse it), level, logger. */
  public static final String PATTERN =
      "%d{yyyy-MM-dd'T'HH:mm:ss.SSS'Z',UTC} %-5level [%logger{0}] %msg%n";

  /** --log-level's values, from the fewest lines to the most. */
  public enum LogLevel {
    ERROR(Level.ERROR), WARN(Level.WARN), INFO(Level.INFO), DEBUG(Level.DEBUG),
    TRACE(Level.TRACE);

    final Level level;

    LogLevel(Level level) {
      this.level = level;
    }
  }

  private LogSetup() {
  }

  /** Replaces the logging configuration (logback.xml's default) with these options. */
  public static void configure(LogLevel level, boolean json) {
    LoggerContext context = (LoggerContext) LoggerFactory.getILoggerFactory();
    context.reset();
    Encoder<ILoggingEvent> encoder;
    if (json) {
      JsonEncoder jsonEncoder = new JsonEncoder();
      jsonEncoder.setWithSequenceNumber(false);
      jsonEncoder.setWithNanoseconds(false);
      jsonEncoder.setWithContext(false);
      jsonEncoder.setWithMDC(false);
      jsonEncoder.setWithMessage(false);
      jsonEncoder.setWithArguments(false);
      jsonEncoder.setWithFormattedMessage(true);
      encoder = jsonEncoder;
    } else {
      PatternLayoutEncoder patternEncoder = new PatternLayoutEncoder();
      patternEncoder.setPattern(PATTERN);
      encoder = patternEncoder;
    }
    encoder.setContext(context);
    encoder.start();
    ConsoleAppender<ILoggingEvent> console = new ConsoleAppender<>();
    console.setContext(context);
    console.setName("stdout");
    console.setTarget("System.out");
    console.setEncoder(encoder);
    console.start();
    Logger root = context.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    root.addAppender(console);
    root.setLevel(level.level.isGreaterOrEqual(Level.INFO) ? level.level : Level.INFO);
    context.getLogger("io.kvd").setLevel(level.level);
  }
}
