package io.kvd.client;

/**
 * An admin request the node did not answer with a valid tag, while it answers client requests:
 * the node and the client do not share a cluster key (one has none, or another), or their wall
 * clocks are more than 30 s apart (admin requests are stamped with the time).
 */
public final class KvAuthException extends KvException {
  private static final long serialVersionUID = 1L;

  public KvAuthException(String message) {
    super(message);
  }
}
