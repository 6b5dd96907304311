package io.kvd.server;

import com.google.protobuf.ByteString;
import com.google.protobuf.MessageLite;
import io.kvd.client.Affinity;
import io.kvd.client.Transports;
import io.kvd.core.Addresses;
import io.kvd.core.Node;
import io.kvd.core.Outbox;
import io.kvd.core.codec.ClientCodec;
import io.kvd.server.fault.FaultConfig;
import io.kvd.server.fault.FaultInjector;
import io.kvd.server.log.LogSetup;
import io.kvd.server.log.LoggingNodeEvents;
import io.kvd.proto.PeerProtocol.AdminReply;
import io.kvd.proto.PeerProtocol.LinkFaults;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.socket.DatagramPacket;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The thin Netty shell around one {@link Node}: it binds the UDP socket, hands each datagram with
 * the current time to the node on the channel's event loop (the one thread that owns the node),
 * turns the node's outbox into datagrams, and drives its timer. Nothing here decides anything.
 *
 * <p>With a {@link FaultConfig} that is active, every datagram the node sends (replies, forwards
 * and gossip) goes through a {@link FaultInjector} first; delayed copies wait on the event loop's
 * scheduler, bounded by the injector.
 */
public final class NettyNode implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(LogSetup.NODE);
  /** Kernel socket buffers asked for (the kernel may cap them at net.core.rmem_max). */
  private static final int SOCKET_BUFFER_LENGTH = 4 << 20;
  /**
   * Bytes of replies queued in Netty above which the channel reports unwritable and new replies
   * are dropped, so a send backlog can never fill memory; the client retries.
   */
  private static final int SEND_BACKLOG_LENGTH_MAX = 8 << 20;
  private static final long TICK_INTERVAL_MS = 10;
  /**
   * After SHUTDOWN the node halts once its replies are written, or after this long at most: 100
   * ms, long enough for the reply (also one delayed by fault injection) and short enough that
   * SHUTDOWN still looks like a crash.
   */
  private static final long SHUTDOWN_FLUSH_MS_MAX = 100;

  private final Node node;
  private final EventLoopGroup group;
  private final Channel channel;
  private final long startNanos = System.nanoTime();
  private final byte[] scratch = new byte[Transports.RECEIVE_BUFFER_LENGTH];
  private final ChannelOutbox outbox = new ChannelOutbox();
  private final FaultInjector faults;
  private final FaultInjector.Link faultLink = new DelayingLink();
  private long repliesDroppedBacklog;

  private NettyNode(Node node, EventLoopGroup group, Channel channel, FaultInjector faults) {
    this.node = node;
    this.group = group;
    this.channel = channel;
    this.faults = faults;
    this.outbox.faultsActive = faults.config().active();
    syncWallClock(nowMs());
  }

  /**
   * Gives the node its wall clock as data (it reads no clock): the offset from its own ms to
   * wall-clock ms since the epoch, which admin stamps are checked against. Renewed on every tick,
   * so that a step of the system clock (NTP) reaches the node within 10 ms.
   */
  private void syncWallClock(long nowMs) {
    node.setWallClockOffsetMs(System.currentTimeMillis() - nowMs);
  }

  /** Binds {@code host:port} and starts serving, without faults. */
  public static NettyNode start(Node node, String host, int port) throws Exception {
    return start(node, host, port, FaultConfig.NONE);
  }

  /**
   * Binds {@code host:port} and starts serving, sending through {@code faultConfig}'s faults when
   * it is active. Throws {@link java.net.BindException} (possibly wrapped by Netty as its cause)
   * when the port is taken.
   */
  public static NettyNode start(Node node, String host, int port, FaultConfig faultConfig)
      throws Exception {
    // The injector always exists, so that an operator can turn faults on at run time (kvctl
    // fault); it is bypassed while no fault is active.
    FaultInjector faults = FaultInjector.of(faultConfig);
    EventLoopGroup group = Transports.newGroup(1, Transports.threads("kvd-node", false));
    NettyNode[] self = new NettyNode[1];
    Bootstrap bootstrap = new Bootstrap()
        .group(group)
        .channel(Transports.datagramChannel())
        .option(ChannelOption.SO_RCVBUF, SOCKET_BUFFER_LENGTH)
        .option(ChannelOption.SO_SNDBUF, SOCKET_BUFFER_LENGTH)
        .option(ChannelOption.RECVBUF_ALLOCATOR,
            Transports.datagramReceiveAllocator())
        .option(ChannelOption.WRITE_BUFFER_WATER_MARK,
            new WriteBufferWaterMark(SEND_BACKLOG_LENGTH_MAX / 2, SEND_BACKLOG_LENGTH_MAX))
        .handler(new ChannelInboundHandlerAdapter() {
          @Override
          public void channelRead(ChannelHandlerContext ctx, Object message) {
            self[0].onPacket((DatagramPacket) message);
          }

          @Override
          public void channelReadComplete(ChannelHandlerContext ctx) {
            ctx.flush();
          }

          @Override
          public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            // A UDP socket reports ICMP errors (for example port unreachable after a client
            // went away) here; they concern one peer, never the node.
          }
        });
    Transports.batchDatagramReads(bootstrap);
    try {
      InetAddress address = InetAddress.getByName(host);
      if (!(address instanceof Inet4Address)) {
        throw new IllegalArgumentException("kvd speaks IPv4 only; " + host + " is " + address);
      }
      Channel channel = bootstrap.bind(new InetSocketAddress(address, port)).sync().channel();
      self[0] = new NettyNode(node, group, channel, faults);
      Runtime runtime = Runtime.getRuntime();
      node.setHeapGauges(() -> runtime.totalMemory() - runtime.freeMemory(), runtime::maxMemory);
      NettyNode shell = self[0];
      node.setHostCounters(counter -> {
        counter.accept("dropped.send_backlog", shell.repliesDroppedBacklog);
        counter.accept("faults.injected.lost", faults.lost());
        counter.accept("faults.injected.duplicated", faults.duplicated());
        counter.accept("faults.injected.reordered", faults.reordered());
        counter.accept("faults.injected.delayed", faults.delayedTotal());
        counter.accept("faults.injected.overflowed", faults.overflowed());
      });
      channel.eventLoop().scheduleAtFixedRate(self[0]::onTick, TICK_INTERVAL_MS,
          TICK_INTERVAL_MS, TimeUnit.MILLISECONDS);
      return self[0];
    } catch (Exception e) {
      group.shutdownGracefully(0, 0, TimeUnit.MILLISECONDS);
      throw e;
    }
  }

  /**
   * The node's STATUS snapshot (what kvctl stats shows), taken on the node's event loop, for
   * threads other than the node's: they must never read the node's state themselves. Throws
   * TimeoutException when the event loop does not get to it within {@code timeout}.
   */
  public AdminReply status(Duration timeout) throws TimeoutException, InterruptedException {
    io.netty.util.concurrent.Future<AdminReply> snapshot =
        channel.eventLoop().submit(() -> node.status(nowMs()));
    try {
      return snapshot.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      snapshot.cancel(false);
      throw e;
    } catch (ExecutionException e) {
      throw new IllegalStateException("STATUS snapshot failed", e.getCause());
    }
  }

  /**
   * Pins the event-loop thread to {@code cpu} (see {@link Affinity}); throws
   * IllegalArgumentException when the CPU cannot be used.
   */
  public void pinEventLoop(int cpu) {
    Affinity.pinThreadOf(channel.eventLoop(), cpu);
  }

  /** Runs {@code task} on the node's event loop (for tests: to keep the loop busy). */
  void execute(Runnable task) {
    channel.eventLoop().execute(task);
  }

  public InetSocketAddress localAddress() {
    return (InetSocketAddress) channel.localAddress();
  }

  /** Waits until the channel closes. */
  public void awaitClose() throws InterruptedException {
    channel.closeFuture().sync();
  }

  @Override
  public void close() {
    channel.close().syncUninterruptibly();
    group.shutdownGracefully(0, 100, TimeUnit.MILLISECONDS).syncUninterruptibly();
  }

  private long nowMs() {
    return (System.nanoTime() - startNanos) / 1_000_000;
  }

  private void onTick() {
    try {
      long nowMs = nowMs();
      syncWallClock(nowMs);
      node.onTick(nowMs, outbox);
    } catch (RuntimeException e) {
      failStop(e);
    }
    channel.flush();
  }

  /**
   * A bug or a broken invariant in the core: stop at once, as a crash would, rather than go on
   * with a node whose state is wrong or whose timer has died (a periodic task that throws is
   * never run again). The others treat it as crashed; replication covers that. The node's events
   * have logged an error of the core already; one of this shell is logged here.
   */
  private void failStop(RuntimeException e) {
    if (!(node.events() instanceof LoggingNodeEvents logged) || logged.lastError() != e) {
      LOG.error("kvd: internal error, stopping: {}", e.toString(), e);
    }
    System.out.flush();
    Runtime.getRuntime().halt(KvdMain.EXIT_INTERNAL);
  }

  private void onPacket(DatagramPacket packet) {
    try {
      ByteBuf content = packet.content();
      int length = content.readableBytes();
      InetSocketAddress sender = packet.sender();
      InetAddress senderAddress = sender.getAddress();
      if (length > scratch.length || !(senderAddress instanceof Inet4Address)) {
        return;
      }
      content.getBytes(content.readerIndex(), scratch, 0, length);
      long from = Addresses.of(senderAddress.getAddress(), sender.getPort());
      outbox.current(from, sender);
      node.onDatagram(from, scratch, length, nowMs(), outbox);
      if (outbox.shutdownRequested) {
        haltAfterFlush();
      }
    } catch (RuntimeException e) {
      failStop(e);
    } finally {
      packet.release();
    }
  }

  private void haltAfterFlush() {
    channel.flush();
    // Should a write never complete, or delayed copies wait long, exit anyway: SHUTDOWN means
    // now.
    channel.eventLoop().schedule(() -> Runtime.getRuntime().halt(0), SHUTDOWN_FLUSH_MS_MAX,
        TimeUnit.MILLISECONDS);
    if (faults.delayedWaiting() > 0) {
      return; // The last delayed copy to leave halts the node (DelayingLink).
    }
    haltAfterLastWrite();
  }

  /** Halts once every queued datagram is written, looking again each millisecond. */
  private void haltAfterLastWrite() {
    channel.flush();
    ChannelOutboundBuffer pending = channel.unsafe().outboundBuffer();
    if (pending == null || pending.isEmpty()) {
      Runtime.getRuntime().halt(0);
      return;
    }
    channel.eventLoop().schedule(this::haltAfterLastWrite, 1, TimeUnit.MILLISECONDS);
  }

  /** The node's outbox on this channel; used on the event loop thread only. */
  private final class ChannelOutbox implements Outbox {
    private long currentFrom;
    private InetSocketAddress currentSender;
    boolean shutdownRequested;
    boolean faultsActive;

    void current(long from, InetSocketAddress sender) {
      currentFrom = from;
      currentSender = sender;
    }

    @Override
    public void send(long address, byte[] datagram) {
      if (!faultsActive) {
        write(resolve(address), datagram);
      } else {
        faults.send(address, datagram, faultLink);
      }
    }

    @Override
    public void sendCopy(long address, byte[] datagram, int length) {
      if (!faultsActive) {
        write(resolve(address), datagram, length);
      } else {
        faults.send(address, Arrays.copyOf(datagram, length), faultLink); // may be delayed
      }
    }

    @Override
    public int sendMsg(long address, ByteString messageId, MessageLite payload, byte[] scratch) {
      if (faultsActive) {
        return Outbox.super.sendMsg(address, messageId, payload, scratch); // via the fault layer
      }
      int length = ClientCodec.encodedLength(messageId, payload.getSerializedSize());
      if (!channel.isWritable()) {
        repliesDroppedBacklog++;
        return length;
      }
      // Encoded straight into pooled direct memory, where the socket writes from: a GET reply's
      // value is copied once, from the store's record (the CRC is taken there too).
      ByteBuf buffer = channel.alloc().directBuffer(length, length);
      ClientCodec.encode(messageId, payload, buffer.internalNioBuffer(0, length));
      buffer.writerIndex(length);
      channel.write(new DatagramPacket(buffer, resolve(address)), channel.voidPromise());
      return length;
    }

    @Override
    public void faults(LinkFaults value) {
      FaultConfig config = FaultConfig.of(value, faults.config().seed());
      faults.setConfig(config);
      faultsActive = config.active();
      // The node's events log the change (who set the faults, or that they expired).
    }

    InetSocketAddress resolve(long address) {
      return address == currentFrom ? currentSender : toSocketAddress(address);
    }

    void write(InetSocketAddress to, byte[] datagram) {
      write(to, datagram, datagram.length);
    }

    void write(InetSocketAddress to, byte[] datagram, int length) {
      if (!channel.isWritable()) {
        repliesDroppedBacklog++;
        return;
      }
      // Straight into pooled direct memory (the socket writes from there), with no promise: one
      // copy and three objects fewer per reply than a wrapped array, which Netty copies again.
      ByteBuf buffer = channel.alloc().directBuffer(length, length)
          .writeBytes(datagram, 0, length);
      channel.write(new DatagramPacket(buffer, to), channel.voidPromise());
    }

    @Override
    public void shutdown() {
      shutdownRequested = true;
    }
  }

  /** The fault layer's link: now means with this read batch, later means on the scheduler. */
  private final class DelayingLink implements FaultInjector.Link {
    @Override
    public void sendNow(long to, byte[] datagram) {
      outbox.write(outbox.resolve(to), datagram);
    }

    @Override
    public void sendLater(long to, byte[] datagram, long delayMs) {
      // Resolve now: the outbox's current sender changes with the next datagram.
      InetSocketAddress target = outbox.resolve(to);
      channel.eventLoop().schedule(() -> {
        faults.onDelayedSent(datagram.length);
        outbox.write(target, datagram);
        channel.flush();
        if (outbox.shutdownRequested && faults.delayedWaiting() == 0) {
          haltAfterLastWrite(); // The SHUTDOWN reply was among the delayed copies.
        }
      }, delayMs, TimeUnit.MILLISECONDS);
    }
  }

  /** The fault layer and its counters. */
  public FaultInjector faults() {
    return faults;
  }

  /** Replies dropped because the send backlog was full. */
  public long repliesDroppedBacklog() {
    return repliesDroppedBacklog;
  }

  private static InetSocketAddress toSocketAddress(long address) {
    try {
      return new InetSocketAddress(InetAddress.getByAddress(Addresses.ipv4Bytes(address)),
          Addresses.port(address));
    } catch (UnknownHostException e) {
      throw new IllegalStateException("four bytes are always an IPv4 address", e);
    }
  }
}
