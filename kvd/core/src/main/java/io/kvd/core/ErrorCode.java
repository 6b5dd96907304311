package io.kvd.core;

/** The error codes of the client protocol (KVResponse.errCode). */
public final class ErrorCode {
  private ErrorCode() {}

  public static final int SUCCESS = 0;
  public static final int NOT_FOUND = 1;
  public static final int OUT_OF_SPACE = 2;
  public static final int OVERLOAD = 3;
  public static final int INTERNAL_FAILURE = 4;
  public static final int UNRECOGNIZED_COMMAND = 5;
  public static final int INVALID_KEY = 6;
  public static final int INVALID_VALUE = 7;

  /** One more than the largest code, for tables indexed by code. */
  public static final int COUNT = 8;

  /** A stable upper-case name for logs, tables and JSON; "CODE_n" for codes we do not know. */
  public static String name(int code) {
    switch (code) {
      case SUCCESS: return "SUCCESS";
      case NOT_FOUND: return "NOT_FOUND";
      case OUT_OF_SPACE: return "OUT_OF_SPACE";
      case OVERLOAD: return "OVERLOAD";
      case INTERNAL_FAILURE: return "INTERNAL_FAILURE";
      case UNRECOGNIZED_COMMAND: return "UNRECOGNIZED_COMMAND";
      case INVALID_KEY: return "INVALID_KEY";
      case INVALID_VALUE: return "INVALID_VALUE";
      default: return "CODE_" + code;
    }
  }
}
