package io.kvd.core;

import io.kvd.proto.PeerProtocol.LinkFaults;

/**
 * Where the core writes its effects. The Netty shell turns them into datagrams and process exit;
 * the simulator and unit tests record them.
 */
public interface Outbox {
  /** Sends one datagram to {@code address} (see {@link Addresses}). The core never reuses it. */
  void send(long address, byte[] datagram);

  /** Asks the host to end the node at once, as a crash would, after sending what is queued. */
  void shutdown();

  /**
   * Asks the host's transport to apply {@code faults} to every datagram the node sends from now
   * on (null: none), as an operator asked (kvctl fault). Hosts without a fault layer ignore it.
   */
  default void faults(LinkFaults faults) {
  }
}
