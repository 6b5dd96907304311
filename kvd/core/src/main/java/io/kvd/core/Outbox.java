package io.kvd.core;

import io.kvd.proto.PeerProtocol.LinkFaults;
import java.util.Arrays;

/**
 * Where the core writes its effects. The Netty shell turns them into datagrams and process exit;
 * the simulator and unit tests record them.
 */
public interface Outbox {
  /** Sends one datagram to {@code address} (see {@link Addresses}). The core never reuses it. */
  void send(long address, byte[] datagram);

  /**
   * Sends the first {@code length} bytes of {@code datagram}, an array the core reuses at once:
   * a host that keeps the bytes past this call copies them (the default does). The Netty shell
   * copies them straight into the socket's direct memory, so a reply costs no array of its own.
   */
  default void sendCopy(long address, byte[] datagram, int length) {
    send(address, Arrays.copyOf(datagram, length));
  }

  /** Asks the host to end the node at once, as a crash would, after sending what is queued. */
  void shutdown();

  /**
   * Asks the host's transport to apply {@code faults} to every datagram the node sends from now
   * on (null: none), as an operator asked (kvctl fault). Hosts without a fault layer ignore it.
   */
  default void faults(LinkFaults faults) {
  }
}
