package io.kvd.client;

/** No valid reply arrived after every attempt the retry policy allows. */
public final class KvTimeoutException extends KvException {
  private static final long serialVersionUID = 1L;
  private final int attempts;

  public KvTimeoutException(String message, int attempts) {
    super(message);
    this.attempts = attempts;
  }

  /** How many times the request was sent. */
  public int attempts() {
    return attempts;
  }
}
