package io.kvd.bench;

import io.kvd.bench.Workload.Op;
import io.kvd.core.ErrorCode;
import java.util.concurrent.atomic.LongAdder;
import org.HdrHistogram.ConcurrentHistogram;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.SingleWriterRecorder;

/**
 * What a run counted, written by the sockets' threads: latency histograms per operation (in
 * microseconds, 3 significant digits, up to {@link #LATENCY_US_MAX}), outcomes by error code,
 * timeouts, retries and OVERLOAD waits.
 */
public final class Results {
  /** Longest latency recorded exactly: 10 minutes; longer ones are recorded as this. */
  public static final long LATENCY_US_MAX = 600_000_000L;

  final ConcurrentHistogram[] latencyUs = new ConcurrentHistogram[Op.values().length];
  final LongAdder[][] byCode = new LongAdder[Op.values().length][ErrorCode.COUNT];
  final LongAdder[] timeoutsByOp = new LongAdder[Op.values().length];
  final LongAdder completed = new LongAdder();
  final LongAdder errors = new LongAdder();
  final LongAdder timeouts = new LongAdder();
  final LongAdder retries = new LongAdder();
  final LongAdder overloadWaits = new LongAdder();
  final LongAdder badReplies = new LongAdder();
  final LongAdder strayReplies = new LongAdder();

  public Results() {
    for (Op op : Op.values()) {
      latencyUs[op.ordinal()] = new ConcurrentHistogram(LATENCY_US_MAX, 3);
      timeoutsByOp[op.ordinal()] = new LongAdder();
      for (int e = 0; e < ErrorCode.COUNT; e++) {
        byCode[op.ordinal()][e] = new LongAdder();
      }
    }
  }

  static Histogram newHistogram() {
    return new Histogram(LATENCY_US_MAX, 3);
  }

  static SingleWriterRecorder newRecorder() {
    return new SingleWriterRecorder(LATENCY_US_MAX, 3);
  }

  void completed(Op op, int errCode, long latencyUsValue) {
    completed.increment();
    if (errCode >= 0 && errCode < ErrorCode.COUNT) {
      byCode[op.ordinal()][errCode].increment();
    }
    if (errCode != ErrorCode.SUCCESS && errCode != ErrorCode.NOT_FOUND) {
      errors.increment();
    }
    latencyUs[op.ordinal()].recordValue(Math.min(latencyUsValue, LATENCY_US_MAX));
  }

  void timedOut(Op op) {
    timeoutsByOp[op.ordinal()].increment();
  }

  /** Operations completed (answered, with any code) while recording. */
  public long completedCount() {
    return completed.sum();
  }

  public long errorCount() {
    return errors.sum();
  }

  public long timeoutCount() {
    return timeouts.sum();
  }

  public Histogram latencyUs(Op op) {
    return latencyUs[op.ordinal()];
  }

  public long count(Op op, int errCode) {
    return byCode[op.ordinal()][errCode].sum();
  }

  public long timeouts(Op op) {
    return timeoutsByOp[op.ordinal()].sum();
  }

  public long retries() {
    return retries.sum();
  }

  public long overloadWaits() {
    return overloadWaits.sum();
  }

  public long badReplies() {
    return badReplies.sum();
  }

  public long strayReplies() {
    return strayReplies.sum();
  }
}
