package io.kvd.core;

/**
 * Where the core writes its effects. The Netty shell turns them into datagrams and process exit;
 * the simulator and unit tests record them.
 */
public interface Outbox {
  /** Sends one datagram to {@code address} (see {@link Addresses}). The core never reuses it. */
  void send(long address, byte[] datagram);

  /** Asks the host to end the node at once, as a crash would, after sending what is queued. */
  void shutdown();
}
