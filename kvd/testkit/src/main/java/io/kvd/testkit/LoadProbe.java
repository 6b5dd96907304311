package io.kvd.testkit;

import com.google.protobuf.ByteString;
import io.kvd.client.KvClient;
import io.kvd.client.RetryPolicy;
import io.kvd.core.Command;
import io.kvd.core.ErrorCode;
import io.kvd.proto.ClientProtocol.KVRequest;
import java.net.InetSocketAddress;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import org.HdrHistogram.Recorder;

/**
 * A small closed-loop load probe for measuring one node while kvbench does not exist yet:
 * {@code clients} logical clients share one {@link KvClient}, each with one request in flight,
 * alternating PUT and GET of {@code valueLength}-byte values over its own keys, for
 * {@code seconds} after one second of warm-up. Prints one line of JSON.
 *
 * <pre>java -cp kvd/testkit/target/... io.kvd.testkit.LoadProbe HOST PORT CLIENTS SECONDS [VALUE_LENGTH]</pre>
 */
public final class LoadProbe {
  private LoadProbe() {}

  public static void main(String[] args) throws Exception {
    InetSocketAddress node = new InetSocketAddress(args[0], Integer.parseInt(args[1]));
    int clients = Integer.parseInt(args[2]);
    int seconds = Integer.parseInt(args[3]);
    int valueLength = args.length > 4 ? Integer.parseInt(args[4]) : 100;
    System.out.println(run(node, clients, seconds, valueLength));
  }

  /** Runs the probe and returns its JSON line. */
  public static String run(InetSocketAddress node, int clients, int seconds, int valueLength)
      throws InterruptedException {
    Recorder latency = new Recorder(3);
    AtomicLong ops = new AtomicLong();
    AtomicLong errors = new AtomicLong();
    long warmupEndNanos = System.nanoTime() + Long.getLong("warmupMs", 1_000) * 1_000_000L;
    long endNanos = warmupEndNanos + seconds * 1_000_000_000L;
    CountDownLatch done = new CountDownLatch(clients);
    try (KvClient client = KvClient.open(RetryPolicy.DEFAULT, Math.max(64, clients * 2))) {
      for (int c = 0; c < clients; c++) {
        new Loop(client, node, c, valueLength, warmupEndNanos, endNanos, latency, ops, errors,
            done).next();
      }
      done.await();
    }
    long count = ops.get();
    var histogram = latency.getIntervalHistogram();
    return String.format("{\"clients\":%d,\"valueLength\":%d,\"seconds\":%d,"
            + "\"throughputOpsPerSec\":%.0f,\"latencyUsP50\":%d,\"latencyUsP99\":%d,"
            + "\"errors\":%d}",
        clients, valueLength, seconds, count / (double) seconds,
        histogram.getValueAtPercentile(50) / 1_000, histogram.getValueAtPercentile(99) / 1_000,
        errors.get());
  }

  private static final class Loop {
    final KvClient client;
    final InetSocketAddress node;
    final int index;
    final byte[] value;
    final long warmupEndNanos;
    final long endNanos;
    final Recorder latency;
    final AtomicLong ops;
    final AtomicLong errors;
    final CountDownLatch done;
    final SplittableRandom random;
    long sequence;

    Loop(KvClient client, InetSocketAddress node, int index, int valueLength, long warmupEndNanos,
        long endNanos, Recorder latency, AtomicLong ops, AtomicLong errors, CountDownLatch done) {
      this.client = client;
      this.node = node;
      this.index = index;
      this.value = new byte[valueLength];
      this.warmupEndNanos = warmupEndNanos;
      this.endNanos = endNanos;
      this.latency = latency;
      this.ops = ops;
      this.errors = errors;
      this.done = done;
      this.random = new SplittableRandom(index);
      random.nextBytes(value);
    }

    void next() {
      long start = System.nanoTime();
      if (start >= endNanos) {
        done.countDown();
        return;
      }
      int command = (sequence++ & 1) == 0 ? Command.PUT : Command.GET;
      KVRequest.Builder request = KVRequest.newBuilder().setCommand(command)
          .setKey(ByteString.copyFromUtf8("p" + index + "-" + random.nextInt(64)));
      if (command == Command.PUT) {
        request.setValue(ByteString.copyFrom(value)).setVersion((int) sequence);
      }
      client.request(node, request.build()).whenComplete((reply, error) -> {
        long end = System.nanoTime();
        if (start >= warmupEndNanos) {
          boolean ok = error == null && (reply.getErrCode() == ErrorCode.SUCCESS
              || reply.getErrCode() == ErrorCode.NOT_FOUND);
          if (ok) {
            ops.incrementAndGet();
            latency.recordValue(end - start);
          } else {
            errors.incrementAndGet();
          }
        }
        next();
      });
    }
  }
}
