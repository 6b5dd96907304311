package io.kvd.client;

import io.kvd.core.ErrorCode;

/** The node answered with an error code that the called operation does not expect. */
public final class KvErrorException extends KvException {
  private static final long serialVersionUID = 1L;
  private final int errCode;

  public KvErrorException(int errCode, String operation) {
    super(operation + " failed: " + ErrorCode.name(errCode) + " (errCode " + errCode + ")");
    this.errCode = errCode;
  }

  public int errCode() {
    return errCode;
  }
}
