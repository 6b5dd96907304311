package io.kvd.check;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * Finds acknowledged writes that final reads prove lost: a read (taken after the workload, when
 * the cluster has healed) that returns a value, or absence, which an acknowledged write had
 * definitely replaced before the read began. "Definitely": the replacing write was invoked after
 * the read value's write completed, and completed before the read was invoked; writes whose
 * outcome is unknown may take effect at any later time, so they never count as replaced.
 *
 * <p>The checker finds these too (as violations); this count names them for reports.
 */
public final class LostWrites {
  private LostWrites() {}

  /** One final read that returned something older than an acknowledged write. */
  public record Lost(Operation read, Operation newerWrite) {}

  /** The final reads (selected by {@code isFinalRead} among OK GETs) that show a lost write. */
  public static List<Lost> find(List<Operation> history, Predicate<Operation> isFinalRead) {
    Map<String, List<Operation>> byKey = new HashMap<>();
    Map<Long, Operation> putByValue = new HashMap<>();
    for (Operation o : history) {
      byKey.computeIfAbsent(o.key(), k -> new ArrayList<>()).add(o);
      if (o.type() == Operation.Type.PUT) {
        putByValue.put(o.value(), o);
      }
    }
    List<Lost> lost = new ArrayList<>();
    for (Operation read : history) {
      if (read.type() != Operation.Type.GET || read.outcome() != Operation.Outcome.OK
          || !isFinalRead.test(read)) {
        continue;
      }
      List<Operation> ops = byKey.get(read.key());
      Operation newer = read.value() == Operation.ABSENT
          ? newerThanAbsence(ops, read)
          : newerThanValue(ops, read, putByValue.get(read.value()));
      if (newer != null) {
        lost.add(new Lost(read, newer));
      }
    }
    return lost;
  }

  private static long end(Operation o) {
    return o.outcome() == Operation.Outcome.OK ? o.completeNs() : Long.MAX_VALUE;
  }

  private static boolean acknowledgedWrite(Operation o) {
    return o.outcome() == Operation.Outcome.OK
        && (o.type() == Operation.Type.PUT || (o.type() == Operation.Type.REMOVE && o.found()));
  }

  private static Operation newerThanValue(List<Operation> ops, Operation read, Operation put) {
    if (put == null) {
      return null; // a value nobody wrote: the checker reports it
    }
    for (Operation w : ops) {
      if (acknowledgedWrite(w) && w != put && w.invokeNs() > end(put)
          && w.completeNs() < read.invokeNs()) {
        return w;
      }
    }
    return null;
  }

  private static Operation newerThanAbsence(List<Operation> ops, Operation read) {
    for (Operation w : ops) {
      if (w.type() != Operation.Type.PUT || w.outcome() != Operation.Outcome.OK
          || w.completeNs() >= read.invokeNs()) {
        continue;
      }
      boolean explained = false;
      for (Operation r : ops) {
        boolean mayHaveRemoved = r.type() == Operation.Type.REMOVE
            && (r.outcome() == Operation.Outcome.UNKNOWN
                || (r.outcome() == Operation.Outcome.OK && r.found()));
        if (mayHaveRemoved && end(r) > w.invokeNs() && r.invokeNs() < read.completeNs()) {
          explained = true;
          break;
        }
      }
      if (!explained) {
        return w;
      }
    }
    return null;
  }
}
