package io.kvd.client;

/** A request that did not get the answer the caller needed. */
public class KvException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public KvException(String message) {
    super(message);
  }

  public KvException(String message, Throwable cause) {
    super(message, cause);
  }
}
