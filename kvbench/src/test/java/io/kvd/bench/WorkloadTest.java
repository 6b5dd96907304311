package io.kvd.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvd.bench.KeyChooser.Distribution;
import io.kvd.bench.Workload.Op;
import java.util.EnumMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.apache.commons.rng.UniformRandomProvider;
import org.apache.commons.rng.simple.RandomSource;
import org.junit.jupiter.api.Test;

/**
 * Proves that the workloads' operation mixes and the key distributions match their definitions
 * within tolerance for a fixed seed (200,000 draws each), that the same seed gives the same
 * sequence, and that bad mixes are refused.
 */
class WorkloadTest {
  private static final int DRAWS = 200_000;

  private static Map<Op, Double> measure(Workload workload, long seed) {
    SplittableRandom random = new SplittableRandom(seed);
    Map<Op, Double> counts = new EnumMap<>(Op.class);
    for (int i = 0; i < DRAWS; i++) {
      counts.merge(workload.op(random.nextDouble()), 1.0 / DRAWS, Double::sum);
    }
    return counts;
  }

  @Test
  void mixesMatchTheirDefinitions() {
    Object[][] cases = {
        {Workload.Name.A, Map.of(Op.GET, 0.5, Op.PUT, 0.5)},
        {Workload.Name.B, Map.of(Op.GET, 0.95, Op.PUT, 0.05)},
        {Workload.Name.C, Map.of(Op.GET, 1.0)},
        {Workload.Name.D, Map.of(Op.GET, 0.95, Op.INSERT, 0.05)},
        {Workload.Name.F, Map.of(Op.GET, 0.5, Op.RMW, 0.5)},
    };
    for (Object[] c : cases) {
      Workload workload = Workload.of((Workload.Name) c[0], null, null);
      @SuppressWarnings("unchecked")
      Map<Op, Double> expected = (Map<Op, Double>) c[1];
      Map<Op, Double> measured = measure(workload, 1);
      for (Op op : Op.values()) {
        double want = expected.getOrDefault(op, 0.0);
        assertEquals(want, workload.share(op), 1e-12, c[0] + " " + op);
        assertEquals(want, measured.getOrDefault(op, 0.0), 0.005, c[0] + " " + op);
      }
    }
    Workload custom = Workload.of(Workload.Name.CUSTOM, "get=90, put=8,remove=2", null);
    Map<Op, Double> measured = measure(custom, 2);
    assertEquals(0.90, measured.get(Op.GET), 0.005);
    assertEquals(0.08, measured.get(Op.PUT), 0.005);
    assertEquals(0.02, measured.get(Op.REMOVE), 0.003);
    assertEquals(measure(custom, 3), measure(custom, 3), "the same seed, the same sequence");
    assertEquals(Distribution.LATEST, Workload.of(Workload.Name.D, null, null).distribution());
    assertEquals(Distribution.UNIFORM, Workload.of(Workload.Name.A, null,
        Distribution.UNIFORM).distribution());
    assertThrows(IllegalArgumentException.class, () -> Workload.of(Workload.Name.CUSTOM,
        "get=90,frob=10", null));
    assertThrows(IllegalArgumentException.class, () -> Workload.of(Workload.Name.CUSTOM, null,
        null));
    assertThrows(IllegalArgumentException.class, () -> Workload.of(Workload.Name.CUSTOM,
        "get=0", null));
  }

  private static long[] histogram(Distribution distribution, long keys, long seed) {
    UniformRandomProvider rng = RandomSource.SPLIT_MIX_64.create(seed);
    KeyChooser chooser = KeyChooser.of(distribution, keys, rng);
    long[] counts = new long[(int) keys];
    for (int i = 0; i < DRAWS; i++) {
      long k = chooser.next(keys);
      assertTrue(k >= 0 && k < keys, "key in range: " + k);
      counts[(int) k]++;
    }
    return counts;
  }

  @Test
  void keyDistributionsMatchTheirDefinitions() {
    int keys = 1_000;
    long[] uniform = histogram(Distribution.UNIFORM, keys, 5);
    double mean = (double) DRAWS / keys;
    for (long c : uniform) {
      assertEquals(mean, c, mean * 0.35, "uniform: every key near the mean");
    }

    // Zipf(0.99) over 1,000 ranks: the hottest rank has probability 1 / H(1000, 0.99).
    double harmonic = 0;
    for (int r = 1; r <= keys; r++) {
      harmonic += 1 / Math.pow(r, KeyChooser.ZIPF_EXPONENT);
    }
    long[] zipf = histogram(Distribution.ZIPFIAN, keys, 5);
    long hottest = java.util.Arrays.stream(zipf).max().orElseThrow();
    assertEquals(DRAWS / harmonic, hottest, DRAWS / harmonic * 0.05, "the hottest key's share");
    long[] sorted = zipf.clone();
    java.util.Arrays.sort(sorted);
    long top10 = 0;
    for (int i = 0; i < 10; i++) {
      top10 += sorted[keys - 1 - i];
    }
    double expectedTop10 = 0;
    for (int r = 1; r <= 10; r++) {
      expectedTop10 += DRAWS / harmonic / Math.pow(r, KeyChooser.ZIPF_EXPONENT);
    }
    assertEquals(expectedTop10, top10, expectedTop10 * 0.05, "the 10 hottest keys' share");

    long[] latest = histogram(Distribution.LATEST, keys, 5);
    assertEquals(hottest, latest[keys - 1], hottest * 0.05, "latest: the newest key is hottest");
    assertTrue(latest[keys - 1] > latest[keys - 2] && latest[keys - 2] > latest[keys - 10],
        "latest: hotter the newer");
    assertEquals(histogram(Distribution.ZIPFIAN, keys, 9)[3],
        histogram(Distribution.ZIPFIAN, keys, 9)[3], "the same seed, the same keys");
  }
}
