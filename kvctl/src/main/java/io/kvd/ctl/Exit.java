package io.kvd.ctl;

/**
 * kvctl's exit codes, the same in every mode (one-shot, script, shell). A script run exits with
 * the code of the first line that failed.
 */
public final class Exit {
  /** Done. */
  public static final int OK = 0;
  /** The key does not exist (get, remove). */
  public static final int NOT_FOUND = 1;
  /** The command line is wrong: unknown command or option, bad value, no nodes given. */
  public static final int USAGE = 2;
  /** A node did not answer in time (after the retries), or none was reachable. */
  public static final int UNREACHABLE = 3;
  /** A node answered with an error (OUT_OF_SPACE, OVERLOAD, a refused admin request...). */
  public static final int SERVER_ERROR = 4;
  /** kvctl itself failed: a file it could not read, a process it could not signal. */
  public static final int LOCAL_ERROR = 5;
  /**
   * Nodes that answer client requests did not answer admin requests: kvctl and the cluster do
   * not share a cluster key (kvctl has none, or another), or their clocks are more than 30 s
   * apart.
   */
  public static final int AUTH = 6;

  private Exit() {}
}
