package io.kvd.client;

import java.util.concurrent.atomic.LongAdder;

/** Counters of one {@link KvClient}, safe to read from any thread. */
public final class ClientStats {
  final LongAdder requests = new LongAdder();
  final LongAdder sends = new LongAdder();
  final LongAdder retries = new LongAdder();
  final LongAdder timeouts = new LongAdder();
  final LongAdder overloadWaits = new LongAdder();
  final LongAdder badReplies = new LongAdder();
  final LongAdder unmatchedReplies = new LongAdder();

  /** Requests accepted by the client. */
  public long requests() {
    return requests.sum();
  }

  /** Datagrams sent, first attempts and retries together. */
  public long sends() {
    return sends.sum();
  }

  /** Resends after a timeout. */
  public long retries() {
    return retries.sum();
  }

  /** Requests that failed because every attempt timed out. */
  public long timeouts() {
    return timeouts.sum();
  }

  /** OVERLOAD answers honoured by waiting and resending. */
  public long overloadWaits() {
    return overloadWaits.sum();
  }

  /** Replies dropped because they did not parse or their checksum was wrong. */
  public long badReplies() {
    return badReplies.sum();
  }

  /** Valid replies to no request in flight: late duplicates after a retry was answered. */
  public long unmatchedReplies() {
    return unmatchedReplies.sum();
  }
}
