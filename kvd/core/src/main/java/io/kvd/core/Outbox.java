package io.kvd.core;

import com.google.protobuf.ByteString;
import com.google.protobuf.MessageLite;
import io.kvd.core.codec.ClientCodec;
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

  /**
   * Sends the client-protocol datagram Msg({@code messageId}, {@code payload}) and returns its
   * length. By default it is encoded into {@code scratch} (an array the core reuses; a new one
   * when it does not fit) and passed to {@link #sendCopy}; the Netty shell encodes it straight
   * into the socket's direct memory, so a 10,000-byte GET reply is copied once, from the store.
   */
  default int sendMsg(long address, ByteString messageId, MessageLite payload, byte[] scratch) {
    int length = ClientCodec.encode(messageId, payload, scratch);
    if (length >= 0) {
      sendCopy(address, scratch, length);
      return length;
    }
    byte[] datagram = ClientCodec.encode(messageId, payload);
    send(address, datagram);
    return datagram.length;
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
