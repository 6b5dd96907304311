package io.kvd.check;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Checks a recorded history key by key (a register per key is P-compositional: the history is
 * linearizable if and only if each key's is, Horn and Kroening), in two modes:
 *
 * <ul>
 *   <li><b>Linearizability</b>: a total order of the operations that respects real time (an
 *       operation that completed before another was invoked comes first) and the register's
 *       semantics. Search as Wing and Gong, with Lowe's memoisation of (linearized set, register
 *       value) pairs already explored.
 *   <li><b>Sequential consistency</b>: the same, respecting only each client's own order.
 * </ul>
 *
 * <p>FAILED operations did not take effect and are left out; UNKNOWN reads tell nothing and are
 * left out; an UNKNOWN write may take effect at any point after its invocation (in either mode it
 * does not hold back the client's later operations) or never. Each key gets a time budget; a key
 * whose search exceeds it counts as unknown rather than stalling the check.
 */
public final class Checker {
  /** The default time budget per key and mode. */
  public static final long BUDGET_NS_PER_KEY_DEFAULT = 2_000_000_000L;
  private static final int STEPS_PER_CLOCK_READ = 4_096;

  private final long budgetNsPerKey;

  public Checker() {
    this(BUDGET_NS_PER_KEY_DEFAULT);
  }

  public Checker(long budgetNsPerKey) {
    this.budgetNsPerKey = budgetNsPerKey;
  }

  /** A key's verdict in one mode. */
  public enum Verdict { OK, VIOLATION, UNKNOWN }

  /**
   * Counts per mode, and the shortest history of a key that failed (linearizability first, then
   * sequential consistency), or null when none failed.
   */
  public record Report(int keys, int linearizableOk, int linearizableViolations,
      int linearizableUnknown, int sequentialOk, int sequentialViolations, int sequentialUnknown,
      String smallestViolation) {

    public boolean clean() {
      return linearizableViolations == 0 && sequentialViolations == 0;
    }

    /** One line of JSON, fields named as the report's. */
    public String toJson() {
      return String.format("{\"keys\":%d,\"linearizableOk\":%d,\"linearizableViolations\":%d,"
              + "\"linearizableUnknown\":%d,\"sequentialOk\":%d,\"sequentialViolations\":%d,"
              + "\"sequentialUnknown\":%d}", keys, linearizableOk, linearizableViolations,
          linearizableUnknown, sequentialOk, sequentialViolations, sequentialUnknown);
    }
  }

  /** Checks every key of {@code history}. */
  public Report check(List<Operation> history) {
    Map<String, List<Operation>> byKey = new TreeMap<>();
    for (Operation op : history) {
      if (op.outcome() == Operation.Outcome.FAILED
          || (op.outcome() == Operation.Outcome.UNKNOWN && !op.mutates())) {
        continue;
      }
      byKey.computeIfAbsent(op.key(), k -> new ArrayList<>()).add(op);
    }
    int[] lin = new int[3];
    int[] seq = new int[3];
    List<Operation> smallestLin = null;
    List<Operation> smallestSeq = null;
    for (List<Operation> ops : byKey.values()) {
      ops.sort(Comparator.comparingLong(Operation::invokeNs).thenComparingLong(Operation::id));
      Verdict l = check(ops, true);
      // A linearizable history is sequentially consistent: search only when it is not.
      Verdict s = l == Verdict.OK ? Verdict.OK : check(ops, false);
      lin[l.ordinal()]++;
      seq[s.ordinal()]++;
      if (l == Verdict.VIOLATION && (smallestLin == null || ops.size() < smallestLin.size())) {
        smallestLin = ops;
      }
      if (s == Verdict.VIOLATION && (smallestSeq == null || ops.size() < smallestSeq.size())) {
        smallestSeq = ops;
      }
    }
    String smallest = null;
    if (smallestLin != null || smallestSeq != null) {
      List<Operation> ops = smallestLin != null ? smallestLin : smallestSeq;
      StringBuilder b = new StringBuilder(smallestLin != null ? "not linearizable" :
          "not sequentially consistent").append(", key ").append(ops.get(0).key())
          .append(", ").append(ops.size()).append(" operations:\n");
      for (Operation op : ops) {
        b.append("  ").append(op).append('\n');
      }
      smallest = b.toString();
    }
    return new Report(byKey.size(), lin[0], lin[1], lin[2], seq[0], seq[1], seq[2], smallest);
  }

  /** The verdict for one key's operations, sorted by invocation. */
  public Verdict check(List<Operation> ops, boolean linearizable) {
    return new Search(ops, linearizable, System.nanoTime() + budgetNsPerKey).run();
  }

  /** Depth-first search for a legal order, with memoisation of explored states. */
  private static final class Search {
    private final Operation[] ops;
    private final boolean realTime;
    private final long deadlineNs;
    private final boolean[] required;
    private final long[] completeNs; // Long.MAX_VALUE for unknown writes
    private final int[][] clientOps; // per client, its operations' indices in order
    private final int requiredCount;
    private final Set<State> explored = new HashSet<>();
    private long steps;

    private record State(BitSet done, long register) {}

    Search(List<Operation> list, boolean realTime, long deadlineNs) {
      this.ops = list.toArray(new Operation[0]);
      this.realTime = realTime;
      this.deadlineNs = deadlineNs;
      this.required = new boolean[ops.length];
      this.completeNs = new long[ops.length];
      int count = 0;
      Map<Integer, List<Integer>> byClient = new TreeMap<>();
      for (int i = 0; i < ops.length; i++) {
        required[i] = ops[i].outcome() == Operation.Outcome.OK;
        completeNs[i] = required[i] ? ops[i].completeNs() : Long.MAX_VALUE;
        count += required[i] ? 1 : 0;
        byClient.computeIfAbsent(ops[i].client(), c -> new ArrayList<>()).add(i);
      }
      this.requiredCount = count;
      this.clientOps = new int[byClient.size()][];
      int c = 0;
      for (List<Integer> indices : byClient.values()) {
        clientOps[c++] = indices.stream().mapToInt(Integer::intValue).toArray();
      }
    }

    Verdict run() {
      // Explicit stack: histories of thousands of operations would overflow the call stack.
      List<Frame> stack = new ArrayList<>();
      stack.add(new Frame(new BitSet(ops.length), Operation.ABSENT, 0,
          candidates(new BitSet(), Operation.ABSENT)));
      while (!stack.isEmpty()) {
        if (++steps % STEPS_PER_CLOCK_READ == 0 && System.nanoTime() > deadlineNs) {
          return Verdict.UNKNOWN;
        }
        Frame top = stack.get(stack.size() - 1);
        if (top.doneRequired == requiredCount) {
          return Verdict.OK;
        }
        if (top.next >= top.candidates.length) {
          stack.remove(stack.size() - 1);
          continue;
        }
        int i = top.candidates[top.next++];
        long after = apply(ops[i], top.register);
        if (after == ILLEGAL) {
          continue;
        }
        BitSet done = (BitSet) top.done.clone();
        done.set(i);
        if (!explored.add(new State(done, after))) {
          continue;
        }
        stack.add(new Frame(done, after, top.doneRequired + (required[i] ? 1 : 0),
            candidates(done, after)));
      }
      return Verdict.VIOLATION;
    }

    private static final long ILLEGAL = Long.MIN_VALUE + 1;

    /** The register after {@code op}, or ILLEGAL when {@code op} cannot happen now. */
    private static long apply(Operation op, long register) {
      switch (op.type()) {
        case PUT:
          return op.value();
        case GET:
          return op.value() == register ? register : ILLEGAL;
        default:
          if (op.outcome() != Operation.Outcome.OK) {
            return Operation.ABSENT; // An unknown remove empties the key if it happens at all.
          }
          return op.found() == (register != Operation.ABSENT) ? Operation.ABSENT : ILLEGAL;
      }
    }

    /**
     * Operations that may come next, given those already ordered and the register's value. When
     * one of them is legal and leaves the register as it is (a read of the current value, a
     * remove that finds nothing on an empty key), it is the only candidate: taking it now cannot
     * make any order impossible, because it changes no state and only lifts constraints, and
     * this prunes most of the search.
     */
    private int[] candidates(BitSet done, long register) {
      List<Integer> result = new ArrayList<>();
      if (realTime) {
        long minComplete = Long.MAX_VALUE;
        for (int i = done.nextClearBit(0); i < ops.length; i = done.nextClearBit(i + 1)) {
          minComplete = Math.min(minComplete, completeNs[i]);
        }
        for (int i = done.nextClearBit(0); i < ops.length; i = done.nextClearBit(i + 1)) {
          if (ops[i].invokeNs() > minComplete) {
            break; // Sorted by invocation: the rest began after something that must precede.
          }
          result.add(i);
        }
      } else {
        for (int[] own : clientOps) {
          for (int i : own) {
            if (done.get(i)) {
              continue;
            }
            result.add(i);
            if (required[i]) {
              break; // Later operations of this client wait for this one.
            }
          }
        }
      }
      for (int i : result) {
        if (required[i] && preserves(ops[i], register)) {
          return new int[] {i};
        }
      }
      // Try first what completed first: a legal order usually follows the answers' order, so
      // the search meets it early instead of exploring dead ends.
      result.sort((a, b) -> {
        int c = Long.compare(completeNs[a], completeNs[b]);
        return c != 0 ? c : Long.compare(ops[a].invokeNs(), ops[b].invokeNs());
      });
      return result.stream().mapToInt(Integer::intValue).toArray();
    }

    private static boolean preserves(Operation op, long register) {
      return switch (op.type()) {
        case GET -> op.value() == register;
        case REMOVE -> !op.found() && register == Operation.ABSENT;
        default -> false;
      };
    }

    private static final class Frame {
      final BitSet done;
      final long register;
      final int doneRequired;
      final int[] candidates;
      int next;

      Frame(BitSet done, long register, int doneRequired, int[] candidates) {
        this.done = done;
        this.register = register;
        this.doneRequired = doneRequired;
        this.candidates = candidates;
      }
    }
  }
}
