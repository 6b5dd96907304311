package io.kvd.client;

import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.FixedRecvByteBufAllocator;
import io.netty.channel.RecvByteBufAllocator;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.ChannelOption;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.epoll.EpollDatagramChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.util.concurrent.FastThreadLocalThread;
import java.util.concurrent.ThreadFactory;

/**
 * Picks Netty's native epoll transport where it is available (Linux with the native library) and
 * NIO otherwise, for both the node and the client library.
 */
public final class Transports {
  private Transports() {}

  /** True when native epoll is used; "KVD_TRANSPORT=nio" in the environment forces NIO. */
  public static boolean epoll() {
    return !"nio".equalsIgnoreCase(System.getenv("KVD_TRANSPORT")) && Epoll.isAvailable();
  }

  public static String name() {
    return epoll() ? "epoll" : "nio";
  }

  /** An event loop group of {@code threads} threads named by {@code threadFactory}. */
  public static EventLoopGroup newGroup(int threads, ThreadFactory threadFactory) {
    IoHandlerFactory factory = epoll() ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
    return new MultiThreadIoEventLoopGroup(threads, threadFactory, factory);
  }

  public static Class<? extends DatagramChannel> datagramChannel() {
    return epoll() ? EpollDatagramChannel.class : NioDatagramChannel.class;
  }

  /** Bytes of each datagram read buffer: UDP over IPv4 carries at most 65,507 bytes. */
  public static final int RECEIVE_BUFFER_LENGTH = 65_536;
  /**
   * Datagrams read per wake-up of the event loop before it turns to other work. Default 64:
   * enough to drain a burst in one turn, small enough that timers and writes are not starved.
   */
  public static final int DATAGRAMS_PER_READ_MAX = 64;

  /**
   * The read-buffer policy for datagram channels. Netty's default stops reading after any read
   * that does not fill its buffer, which for datagrams means after every one, so each datagram
   * costs a wake-up; here the loop reads until the socket is empty or the bound is reached.
   */
  public static RecvByteBufAllocator datagramReceiveAllocator() {
    FixedRecvByteBufAllocator allocator = new FixedRecvByteBufAllocator(RECEIVE_BUFFER_LENGTH)
        .respectMaybeMoreData(false);
    allocator.maxMessagesPerRead(DATAGRAMS_PER_READ_MAX);
    return allocator;
  }

  /**
   * Bytes of one datagram slot when reads are batched with recvmmsg: the largest UDP payload
   * over IPv4 fits, so batching never truncates a datagram (the protocol must answer even a
   * well-formed 65,000-byte request, with INVALID_VALUE).
   */
  public static final int BATCHED_DATAGRAM_LENGTH_MAX = RECEIVE_BUFFER_LENGTH;
  /**
   * Datagrams one recvmmsg call reads at most: the read buffer holds this many slots, 2 MiB of
   * pooled direct memory per channel. Netty's recvmmsg makes one getsockopt call beside each
   * recvmmsg call, so with 64 requests in flight 8 slots cost up to 16 system calls per 64
   * datagrams and 32 slots 4. Measured with 64 clients, 100-byte values, 90% GET: from 8 slots
   * to 32 kvd's CPU per operation fell by 8% (4.42 to 4.06 us), kvbench's by 3 to 12% (within
   * this machine's noise); 16 slots were between; 64 slots were 25% worse than 32 (a 4 MiB
   * buffer is a whole chunk of Netty's pool, and Netty prepares every slot before each call
   * however few datagrams wait).
   */
  public static final int BATCHED_DATAGRAMS_PER_CALL = 32;

  /**
   * With epoll, makes the channel read up to {@link #BATCHED_DATAGRAMS_PER_CALL} datagrams per
   * system call (recvmmsg) into slots of {@link #BATCHED_DATAGRAM_LENGTH_MAX} bytes; with NIO,
   * leaves it alone.
   */
  public static void batchDatagramReads(Bootstrap bootstrap) {
    // Netty 4.2's default (adaptive) allocator pools buffers only up to a size class far below
    // this read buffer, so every read allocated and zeroed fresh direct memory: 12% of kvd's CPU
    // under load (async-profiler). The pooled allocator keeps the read buffer, and the direct
    // copies of outgoing datagrams, in its arenas.
    bootstrap.option(ChannelOption.ALLOCATOR, PooledByteBufAllocator.DEFAULT);
    if (epoll()) {
      FixedRecvByteBufAllocator allocator = new FixedRecvByteBufAllocator(
          BATCHED_DATAGRAM_LENGTH_MAX * BATCHED_DATAGRAMS_PER_CALL).respectMaybeMoreData(false);
      allocator.maxMessagesPerRead(DATAGRAMS_PER_READ_MAX);
      bootstrap.option(ChannelOption.RECVBUF_ALLOCATOR, allocator)
          .option(EpollChannelOption.MAX_DATAGRAM_PAYLOAD_SIZE, BATCHED_DATAGRAM_LENGTH_MAX);
    }
  }

  /** A thread factory of daemon threads called {@code name}. */
  public static ThreadFactory daemonThreads(String name) {
    return threads(name, true);
  }

  /**
   * A thread factory of event-loop threads called {@code name}. They are Netty's
   * FastThreadLocalThreads: Netty 4.2 gives only those a per-thread buffer cache and object
   * recycling, so on a plain Thread every outgoing datagram's buffer, its wrapper objects and
   * the outbound queue's entries were new objects (about 270 bytes of garbage per reply).
   */
  public static ThreadFactory threads(String name, boolean daemon) {
    return runnable -> {
      Thread thread = new FastThreadLocalThread(runnable, name);
      thread.setDaemon(daemon);
      return thread;
    };
  }
}
