package io.kvd.check;

/**
 * One recorded operation on one key of a register-like store.
 *
 * @param id a unique number, for messages
 * @param client who issued it; a client issues one operation at a time
 * @param key the key
 * @param type PUT, GET or REMOVE
 * @param value for PUT the value written; for a GET that found something, the value read; else
 *     {@link #ABSENT}. Values are identities chosen by the recorder (for example a counter per
 *     PUT), so a GET's value names the PUT it read.
 * @param found for REMOVE: true when it answered SUCCESS, false when NOT_FOUND
 * @param invokeNs when the client sent it
 * @param completeNs when the answer came; ignored unless {@code outcome} is OK
 * @param outcome OK (answered), FAILED (definitely not applied) or UNKNOWN (timed out: a write
 *     may take effect at any time after invocation, or never)
 */
public record Operation(long id, int client, String key, Type type, long value, boolean found,
    long invokeNs, long completeNs, Outcome outcome) {

  /** The value of a key that holds nothing. */
  public static final long ABSENT = Long.MIN_VALUE;

  public enum Type { PUT, GET, REMOVE }

  public enum Outcome { OK, FAILED, UNKNOWN }

  /** True when this operation may change the register. */
  public boolean mutates() {
    return type != Type.GET;
  }

  @Override
  public String toString() {
    String v = value == ABSENT ? "absent" : Long.toString(value);
    String what = switch (type) {
      case PUT -> "put(" + v + ")";
      case GET -> "get -> " + v;
      case REMOVE -> "remove -> " + (found ? "removed" : "not found");
    };
    String end = outcome == Outcome.OK ? Long.toString(completeNs) : outcome.name();
    return String.format("#%d client %d %s %s [%d, %s]", id, client, key, what, invokeNs, end);
  }
}
