package io.kvd.bench;

import com.google.protobuf.ByteString;
import io.kvd.core.ErrorCode;
import io.kvd.core.NodeConfig;
import io.kvd.core.codec.ClientCodec;
import io.kvd.proto.ClientProtocol.KVResponse;
import io.kvd.proto.ClientProtocol.Msg;
import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.net.SocketException;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A stand-in for kvd in load-model tests: answers every request SUCCESS at once, except while
 * held (it then keeps reading but answers nothing until released, replying to what it held) or
 * while stalled (it stops reading, as a paused process would). Records the distinct messageIDs.
 */
final class FakeServer implements AutoCloseable {
  private final DatagramSocket socket;
  private final Thread thread;
  final Set<ByteString> ids = ConcurrentHashMap.newKeySet();
  final AtomicLong received = new AtomicLong();
  private volatile boolean holding;
  private volatile long stallUntilNanos;
  private final java.util.List<DatagramPacket> held = new java.util.ArrayList<>();

  FakeServer() throws SocketException {
    socket = new DatagramSocket(new InetSocketAddress("127.0.0.1", 0));
    socket.setReceiveBufferSize(8 << 20);
    thread = new Thread(this::serve, "fake-server");
    thread.setDaemon(true);
    thread.start();
  }

  InetSocketAddress address() {
    return new InetSocketAddress("127.0.0.1", socket.getLocalPort());
  }

  void hold() {
    holding = true;
  }

  /** Stops reading for {@code ms}, starting now. */
  void stall(long ms) {
    stallUntilNanos = System.nanoTime() + ms * 1_000_000;
  }

  synchronized void release() throws IOException {
    holding = false;
    for (DatagramPacket packet : held) {
      answer(packet);
    }
    held.clear();
  }

  private void serve() {
    byte[] buffer = new byte[65_536];
    while (!socket.isClosed()) {
      try {
        long stall = stallUntilNanos - System.nanoTime();
        if (stall > 0) {
          Thread.sleep(stall / 1_000_000, (int) (stall % 1_000_000));
        }
        DatagramPacket packet = new DatagramPacket(buffer, buffer.length);
        socket.receive(packet);
        received.incrementAndGet();
        DatagramPacket copy = new DatagramPacket(java.util.Arrays.copyOf(packet.getData(),
            packet.getLength()), packet.getLength(), packet.getSocketAddress());
        synchronized (this) {
          if (holding) {
            held.add(copy);
            recordId(copy);
            continue;
          }
        }
        recordId(copy);
        answer(copy);
      } catch (IOException | InterruptedException e) {
        return;
      }
    }
  }

  private void recordId(DatagramPacket packet) {
    try {
      Msg msg = ClientCodec.decodeMsg(packet.getData(), packet.getLength(),
          NodeConfig.DATAGRAM_LENGTH_MAX, NodeConfig.MESSAGE_ID_LENGTH_MAX);
      ids.add(msg.getMessageID());
    } catch (ClientCodec.DecodeException e) {
      throw new AssertionError("kvbench sent a malformed datagram", e);
    }
  }

  private void answer(DatagramPacket request) throws IOException {
    Msg msg;
    try {
      msg = ClientCodec.decodeMsg(request.getData(), request.getLength(),
          NodeConfig.DATAGRAM_LENGTH_MAX, NodeConfig.MESSAGE_ID_LENGTH_MAX);
    } catch (ClientCodec.DecodeException e) {
      return;
    }
    byte[] reply = ClientCodec.encodeReply(msg.getMessageID(),
        KVResponse.newBuilder().setErrCode(ErrorCode.SUCCESS).build());
    socket.send(new DatagramPacket(reply, reply.length, request.getSocketAddress()));
  }

  @Override
  public void close() {
    socket.close();
  }
}
