package io.kvd.core;

/** The command codes of the client protocol (KVRequest.command). Clients use only 1 to 8. */
public final class Command {
  private Command() {}

  public static final int PUT = 1;
  public static final int GET = 2;
  public static final int REMOVE = 3;
  public static final int SHUTDOWN = 4;
  public static final int WIPEOUT = 5;
  public static final int IS_ALIVE = 6;
  public static final int GET_PID = 7;
  public static final int GET_MEMBERSHIP_COUNT = 8;

  /** One more than the largest client command, for tables indexed by command. */
  public static final int COUNT = 9;

  /** True for the commands that change state, whose replies the reply cache must keep. */
  public static boolean isMutating(int command) {
    return command == PUT || command == REMOVE || command == WIPEOUT;
  }

  /** A stable upper-case name for logs and tables; "COMMAND_n" for codes we do not know. */
  public static String name(int command) {
    switch (command) {
      case PUT: return "PUT";
      case GET: return "GET";
      case REMOVE: return "REMOVE";
      case SHUTDOWN: return "SHUTDOWN";
      case WIPEOUT: return "WIPEOUT";
      case IS_ALIVE: return "IS_ALIVE";
      case GET_PID: return "GET_PID";
      case GET_MEMBERSHIP_COUNT: return "GET_MEMBERSHIP_COUNT";
      default: return "COMMAND_" + command;
    }
  }
}
