package io.kvd.bench;

import io.kvd.bench.KeyChooser.Distribution;
import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;

/**
 * What the clients do: the mix of operations and how keys are chosen. The YCSB core workloads
 * (A 50/50 read/update, B 95/5, C read only, D read latest with 5% inserts, F 50% read and 50%
 * read-modify-write), the course's put-get-remove loop, or a custom mix.
 */
public final class Workload {
  /** Operation kinds; each is recorded separately. */
  public enum Op {
    GET, PUT, REMOVE,
    /** A PUT of a new key (workload D), which becomes the latest. */
    INSERT,
    /** A GET then a PUT of the same key, timed together (workload F). */
    RMW
  }

  /** The named workloads. */
  public enum Name { A, B, C, D, F, COURSE, CUSTOM }

  private final Name name;
  private final double[] cumulative = new double[Op.values().length];
  private final Map<Op, Double> shares;
  private final Distribution distribution;

  private Workload(Name name, Map<Op, Double> shares, Distribution distribution) {
    this.name = name;
    this.shares = shares;
    this.distribution = distribution;
    double total = 0;
    for (double share : shares.values()) {
      total += share;
    }
    if (name != Name.COURSE && !(total > 0)) {
      throw new IllegalArgumentException("the mix has no operations");
    }
    double sum = 0;
    for (Op op : Op.values()) {
      sum += shares.getOrDefault(op, 0.0) / Math.max(total, 1e-300);
      cumulative[op.ordinal()] = sum;
    }
  }

  /**
   * The workload {@code name}; {@code mix} ("get=90,put=10") for CUSTOM; {@code distribution}
   * overrides the workload's own when not null.
   */
  public static Workload of(Name name, String mix, Distribution distribution) {
    Map<Op, Double> shares = new EnumMap<>(Op.class);
    Distribution own = Distribution.ZIPFIAN;
    switch (name) {
      case A:
        shares.put(Op.GET, 50.0);
        shares.put(Op.PUT, 50.0);
        break;
      case B:
        shares.put(Op.GET, 95.0);
        shares.put(Op.PUT, 5.0);
        break;
      case C:
        shares.put(Op.GET, 100.0);
        break;
      case D:
        shares.put(Op.GET, 95.0);
        shares.put(Op.INSERT, 5.0);
        own = Distribution.LATEST;
        break;
      case F:
        shares.put(Op.GET, 50.0);
        shares.put(Op.RMW, 50.0);
        break;
      case COURSE:
        own = Distribution.UNIFORM;
        break;
      default:
        if (mix == null || mix.isBlank()) {
          throw new IllegalArgumentException("the custom workload needs --mix, e.g."
              + " get=90,put=10");
        }
        for (String part : mix.split(",")) {
          String[] kv = part.trim().split("=");
          if (kv.length != 2) {
            throw new IllegalArgumentException("--mix: expected op=share, got '" + part + "'");
          }
          Op op;
          try {
            op = Op.valueOf(kv[0].trim().toUpperCase(Locale.ROOT));
          } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--mix: unknown operation '" + kv[0]
                + "' (get, put, remove, insert, rmw)");
          }
          double share = Double.parseDouble(kv[1].trim());
          if (!(share >= 0)) {
            throw new IllegalArgumentException("--mix: share of " + op + " must be >= 0");
          }
          shares.put(op, share);
        }
        own = Distribution.UNIFORM;
        break;
    }
    return new Workload(name, shares, distribution != null ? distribution : own);
  }

  public Name name() {
    return name;
  }

  public Distribution distribution() {
    return distribution;
  }

  /** The share of {@code op} in the mix, 0 to 1 (the course loop: a third each). */
  public double share(Op op) {
    if (name == Name.COURSE) {
      return op == Op.PUT || op == Op.GET || op == Op.REMOVE ? 1.0 / 3 : 0;
    }
    double previous = op.ordinal() == 0 ? 0 : cumulative[op.ordinal() - 1];
    return cumulative[op.ordinal()] - previous;
  }

  /** The operation for a uniform draw {@code u} in [0, 1). */
  public Op op(double u) {
    for (Op op : Op.values()) {
      if (u < cumulative[op.ordinal()]) {
        return op;
      }
    }
    for (int i = Op.values().length - 1; i >= 0; i--) {
      if (share(Op.values()[i]) > 0) {
        return Op.values()[i]; // u rounded up to 1
      }
    }
    return Op.GET;
  }

  /** The course loop: every client repeats PUT, GET, REMOVE of its own key. */
  public boolean courseLoop() {
    return name == Name.COURSE;
  }
}
