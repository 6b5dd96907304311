package io.kvd.jmh;

import io.kvd.core.auth.ClusterKey;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * What the cluster key costs per internal message, in ns: tagging a datagram (HMAC-SHA256 over
 * its bytes, the tag field appended in a new array) and verifying a tagged one, for datagrams the
 * size of a gossip or replication message without a value (150 bytes), with a 100-byte value
 * (250) and with a 10,000-byte value (10,150). Compare with CoreBenchmarks.nodeGet, a whole GET
 * through the core.
 *
 * <pre>java -jar kvd/jmh/target/kvd-jmh.jar AuthBenchmarks -f 1 -wi 3 -i 5</pre>
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgs = {"-Xmx1g", "-XX:+UseG1GC"})
public class AuthBenchmarks {
  /** A key and a datagram, untagged and tagged. */
  @State(Scope.Thread)
  public static class Keyed {
    @Param({"150", "250", "10150"})
    int datagramLength;

    ClusterKey key;
    byte[] datagram;
    byte[] tagged;

    @Setup(Level.Trial)
    public void setUp() {
      SplittableRandom random = new SplittableRandom(431);
      byte[] material = new byte[32];
      random.nextBytes(material);
      key = ClusterKey.of(material);
      datagram = new byte[datagramLength];
      random.nextBytes(datagram);
      tagged = key.sign(datagram);
      if (key.verify(tagged, tagged.length) != ClusterKey.Verdict.VALID) {
        throw new IllegalStateException("a signed datagram does not verify");
      }
    }
  }

  @Benchmark
  public byte[] sign(Keyed keyed) {
    return keyed.key.sign(keyed.datagram);
  }

  @Benchmark
  public ClusterKey.Verdict verify(Keyed keyed) {
    return keyed.key.verify(keyed.tagged, keyed.tagged.length);
  }
}
