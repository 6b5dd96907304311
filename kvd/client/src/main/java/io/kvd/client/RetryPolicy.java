package io.kvd.client;

/**
 * How the client retries one request. Every retry resends the same messageID, so the node's reply
 * cache turns a retry of an executed request into the cached answer rather than a second execution.
 *
 * @param timeoutMsInitial the first attempt's timeout, in ms. Default 100.
 * @param timeoutMultiplier each retry's timeout is the previous one times this. Default 2.
 * @param retriesMax resends after the first attempt before giving up. Default 3, so the default
 *     policy waits 100 + 200 + 400 + 800 = 1,500 ms in all.
 * @param overloadRetriesMax OVERLOAD answers honoured (by waiting overloadWaitTime and resending)
 *     before the request fails with OVERLOAD. Default 20. They do not use up {@code retriesMax}.
 * @param overloadWaitMsMax the longest wait honoured for one OVERLOAD answer, in ms. Default 5,000.
 */
public record RetryPolicy(long timeoutMsInitial, int timeoutMultiplier, int retriesMax,
    int overloadRetriesMax, long overloadWaitMsMax) {

  public static final RetryPolicy DEFAULT = new RetryPolicy(100, 2, 3, 20, 5_000);

  public RetryPolicy {
    if (timeoutMsInitial < 1 || timeoutMultiplier < 1 || retriesMax < 0 || overloadRetriesMax < 0
        || overloadWaitMsMax < 0) {
      throw new IllegalArgumentException("invalid retry policy " + timeoutMsInitial + "/"
          + timeoutMultiplier + "/" + retriesMax + "/" + overloadRetriesMax + "/"
          + overloadWaitMsMax);
    }
  }

  /** The timeout of attempt {@code attempt} (0 is the first send), capped at one minute. */
  public long timeoutMs(int attempt) {
    long timeout = timeoutMsInitial;
    for (int i = 0; i < attempt && timeout < 60_000; i++) {
      timeout *= timeoutMultiplier;
    }
    return Math.min(timeout, 60_000);
  }

  public RetryPolicy withTimeoutMsInitial(long value) {
    return new RetryPolicy(value, timeoutMultiplier, retriesMax, overloadRetriesMax,
        overloadWaitMsMax);
  }

  public RetryPolicy withRetriesMax(int value) {
    return new RetryPolicy(timeoutMsInitial, timeoutMultiplier, value, overloadRetriesMax,
        overloadWaitMsMax);
  }

  public RetryPolicy withOverloadRetriesMax(int value) {
    return new RetryPolicy(timeoutMsInitial, timeoutMultiplier, retriesMax, value,
        overloadWaitMsMax);
  }
}
