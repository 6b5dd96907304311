package io.kvd.testkit;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** A plain UDP socket for sending hand-made datagrams and collecting whatever comes back. */
public final class RawUdp implements AutoCloseable {
  private final DatagramSocket socket;
  private final InetSocketAddress target;

  public RawUdp(InetSocketAddress target) throws IOException {
    this.socket = new DatagramSocket(new InetSocketAddress("127.0.0.1", 0));
    this.socket.setReceiveBufferSize(4 << 20);
    this.target = target;
  }

  public void send(byte[] datagram) throws IOException {
    socket.send(new DatagramPacket(datagram, datagram.length, target));
  }

  /** One datagram, or null when none arrives within {@code timeoutMs}. */
  public byte[] receive(int timeoutMs) throws IOException {
    Received received = receiveFrom(timeoutMs);
    return received == null ? null : received.datagram();
  }

  /** A datagram and the address it came from. */
  public record Received(byte[] datagram, InetSocketAddress sender) {}

  /** One datagram with its sender, or null when none arrives within {@code timeoutMs}. */
  public Received receiveFrom(int timeoutMs) throws IOException {
    byte[] buffer = new byte[65_536];
    DatagramPacket packet = new DatagramPacket(buffer, buffer.length);
    socket.setSoTimeout(timeoutMs);
    try {
      socket.receive(packet);
    } catch (SocketTimeoutException e) {
      return null;
    }
    return new Received(Arrays.copyOf(buffer, packet.getLength()),
        (InetSocketAddress) packet.getSocketAddress());
  }

  /** Sends {@code datagram} to {@code to} rather than to this socket's target. */
  public void sendTo(InetSocketAddress to, byte[] datagram) throws IOException {
    socket.send(new DatagramPacket(datagram, datagram.length, to));
  }

  /** Every datagram that arrives until none has for {@code quietMs}. */
  public List<byte[]> drain(int quietMs) throws IOException {
    List<byte[]> received = new ArrayList<>();
    for (byte[] d = receive(quietMs); d != null; d = receive(quietMs)) {
      received.add(d);
    }
    return received;
  }

  @Override
  public void close() {
    socket.close();
  }
}
