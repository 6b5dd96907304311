package io.kvd.ctl;

/** A failure that ends a command with an exit code from {@link Exit} and a message on stderr. */
public final class KvctlException extends RuntimeException {
  private static final long serialVersionUID = 1L;
  private final int exitCode;

  public KvctlException(int exitCode, String message) {
    super(message, null, false, false);
    this.exitCode = exitCode;
  }

  public int exitCode() {
    return exitCode;
  }
}
