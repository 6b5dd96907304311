package io.kvd.bench;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import io.kvd.bench.Workload.Op;
import io.kvd.check.Operation;
import io.kvd.client.Affinity;
import io.kvd.client.Transports;
import io.kvd.core.Command;
import io.kvd.core.ErrorCode;
import io.kvd.core.NodeConfig;
import io.kvd.core.codec.ClientCodec;
import io.kvd.core.codec.ClientCodec.DecodeException;
import io.kvd.proto.ClientProtocol.KVRequest;
import io.kvd.proto.ClientProtocol.KVResponse;
import io.kvd.proto.ClientProtocol.Msg;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.DatagramPacket;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.SingleWriterRecorder;
import org.apache.commons.rng.UniformRandomProvider;
import org.apache.commons.rng.simple.RandomSource;

/**
 * Drives the load: {@code clients} logical clients multiplexed over {@code sockets} UDP sockets,
 * each socket owned by one event-loop thread with its share of the clients, so that nothing is
 * shared between threads but counters. A logical client has at most one request in flight.
 *
 * <ul>
 *   <li>Closed loop: every client sends its next request when the previous one completes; latency
 *       is from the first send to the reply.
 *   <li>Open loop ({@code rateOpsPerSec > 0}): requests are due at fixed intended times (rate
 *       split evenly over the sockets); a due request takes a free client, and latency is
 *       measured from its intended time, so a stalled server's backlog shows in the percentiles
 *       (the coordinated-omission correction of wrk2 and HdrHistogram). At most {@code clients}
 *       requests are in flight.
 * </ul>
 *
 * Each request has a messageID of the run's 8-byte nonce, the client's index and its sequence
 * number; a retry (after a timeout, doubling each time, or after OVERLOAD's wait) resends the
 * same datagram, so the server's reply cache keeps it at most once. Against an echo server the
 * reply is matched by messageID alone.
 */
public final class LoadEngine implements AutoCloseable {
  /** How often each socket's thread looks for requests past their deadline. */
  static final long SWEEP_INTERVAL_MS = 5;
  /** How often an open-loop socket starts the requests that have come due. */
  static final long PACE_INTERVAL_US = 500;
  private static final int SOCKET_BUFFER_LENGTH = 8 << 20;
  /** Logical clients at most: each costs a few hundred bytes and a slot in a sweep. */
  public static final int CLIENTS_MAX = 100_000;
  /** Operations recorded for --check at most (about 100 bytes each); later ones are not. */
  public static final int CHECKED_OPS_MAX = 2_000_000;

  /** What a run is told. */
  public record Settings(List<InetSocketAddress> nodes, Targeting targeting, boolean echo,
      int clients, int sockets, double rateOpsPerSec, long timeoutMs, int retriesMax,
      int overloadRetriesMax, Workload workload, long keys, int valueLengthMin,
      int valueLengthMax, long seed, boolean check, String keyPrefix) {
    public Settings {
      if (keyPrefix.length() > Keys.PREFIX_LENGTH_MAX || !keyPrefix.chars().allMatch(
          c -> c > ' ' && c < 127)) {
        throw new IllegalArgumentException("--key-prefix: up to " + Keys.PREFIX_LENGTH_MAX
            + " printable ASCII characters");
      }
      if (clients < 1 || clients > CLIENTS_MAX) {
        throw new IllegalArgumentException("--clients must be 1 to " + CLIENTS_MAX);
      }
      if (sockets < 1 || sockets > 64) {
        throw new IllegalArgumentException("--sockets must be 1 to 64");
      }
      if (keys < 1) {
        throw new IllegalArgumentException("--keys must be >= 1");
      }
      if (valueLengthMin < 0 || valueLengthMax < valueLengthMin
          || valueLengthMax > NodeConfig.VALUE_LENGTH_MAX) {
        throw new IllegalArgumentException("--value-size must be within 0.."
            + NodeConfig.VALUE_LENGTH_MAX);
      }
      if (check && valueLengthMin < Long.BYTES) {
        throw new IllegalArgumentException("--check needs values of at least 8 bytes (each PUT"
            + " writes its identity)");
      }
      if (timeoutMs < 1 || retriesMax < 0 || overloadRetriesMax < 0 || rateOpsPerSec < 0) {
        throw new IllegalArgumentException("bad timeout, retries or rate");
      }
    }
  }

  /** Where requests go. */
  public interface Targeting {
    /** The node for this request of client {@code client} on key {@code key}. */
    InetSocketAddress node(byte[] key, SplittableRandom random);

    /**
     * Whether a resend after a timeout goes to a newly chosen node (random targeting: a node
     * that is down does not take its clients' requests with it). The resend keeps its
     * messageID, so the cluster still executes it at most once.
     */
    default boolean retryElsewhere() {
      return false;
    }
  }

  private final Settings settings;
  private final EventLoopGroup group;
  private final List<Lane> lanes = new ArrayList<>();
  private final long nonce;
  private final AtomicLong inserted;
  private volatile boolean stopping;
  /**
   * Where completions are counted: a throw-away Results during the warm-up, the caller's from
   * {@link #startRecording()} on. The warm-up runs the very code that measures (only the
   * receiver changes), so the JIT has compiled it by then: with a flag that skipped recording
   * until the end of the warm-up, the first measured second ran newly deoptimised code and its
   * p99 was 3 to 15 times the rest's.
   */
  private volatile Results results = new Results();
  private final Results measured;
  private final AtomicLong checkedOps = new AtomicLong();

  public LoadEngine(Settings settings, Results results) throws InterruptedException {
    this.settings = settings;
    this.measured = results;
    this.nonce = new SplittableRandom(settings.seed() ^ System.nanoTime()).nextLong();
    this.inserted = new AtomicLong(settings.keys());
    this.group = Transports.newGroup(settings.sockets(), Transports.daemonThreads("kvbench-io"));
    for (int s = 0; s < settings.sockets(); s++) {
      lanes.add(new Lane(s));
    }
    for (int c = 0; c < settings.clients(); c++) {
      Lane lane = lanes.get(c % lanes.size());
      lane.clients.add(new Client(c, lane));
    }
  }

  /**
   * Pins the i-th socket's thread to {@code cpus[i % size]} (see {@link Affinity}); nothing when
   * the list is empty. Throws IllegalArgumentException when a CPU cannot be used.
   */
  public void pinThreads(List<Integer> cpus) {
    for (int i = 0; i < lanes.size() && !cpus.isEmpty(); i++) {
      Affinity.pinThreadOf(lanes.get(i).loop, cpus.get(i % cpus.size()));
    }
  }

  /** Starts the clients; warm-up counts until {@link #startRecording()}. */
  public void start() {
    long startNanos = System.nanoTime();
    for (Lane lane : lanes) {
      lane.loop.execute(() -> lane.start(startNanos));
    }
  }

  /** From now on, completions are recorded. */
  public void startRecording() {
    results = measured;
  }

  /** No new requests; those in flight finish or time out. */
  public void stop() {
    stopping = true;
  }

  /** Requests in flight now (read from another thread: approximate). */
  public int inFlight() {
    int n = 0;
    for (Lane lane : lanes) {
      n += lane.busy;
    }
    return n;
  }

  /** The interval histograms of all sockets since the previous call (for the timeline). */
  public Histogram intervalHistogram() {
    Histogram merged = Results.newHistogram();
    for (Lane lane : lanes) {
      merged.add(lane.interval.getIntervalHistogram());
    }
    return merged;
  }

  /** The recorded history (--check), once the run has stopped; call after {@link #close()}. */
  public List<Operation> history() {
    List<Operation> all = new ArrayList<>();
    for (Lane lane : lanes) {
      all.addAll(lane.history);
    }
    return all;
  }

  /** True when the history reached {@link #CHECKED_OPS_MAX} and later operations are missing. */
  public boolean historyTruncated() {
    return checkedOps.get() > CHECKED_OPS_MAX;
  }

  @Override
  public void close() {
    for (Lane lane : lanes) {
      lane.channel.close().syncUninterruptibly();
    }
    group.shutdownGracefully(0, 100, TimeUnit.MILLISECONDS).syncUninterruptibly();
  }

  /** One socket, its thread and its clients. */
  private final class Lane extends ChannelInboundHandlerAdapter {
    final int index;
    final Channel channel;
    final EventLoop loop;
    final List<Client> clients = new ArrayList<>();
    final SingleWriterRecorder interval = Results.newRecorder();
    /** The datagram being decoded (see decode), on the lane's event loop only. */
    final byte[] scratch = new byte[NodeConfig.DATAGRAM_LENGTH_MAX];
    /** Free clients (open loop). */
    final ArrayList<Client> idle = new ArrayList<>();
    /** The operations recorded for --check, by this lane's thread. */
    final ArrayList<Operation> history = new ArrayList<>();
    volatile int busy;
    long dueIndex;
    long startNanos;
    double periodNanos;
    boolean flushScheduled;

    Lane(int index) throws InterruptedException {
      this.index = index;
      Bootstrap bootstrap = new Bootstrap()
          .group(group)
          .channel(Transports.datagramChannel())
          .option(ChannelOption.SO_RCVBUF, SOCKET_BUFFER_LENGTH)
          .option(ChannelOption.SO_SNDBUF, SOCKET_BUFFER_LENGTH)
          .option(ChannelOption.RECVBUF_ALLOCATOR, Transports.datagramReceiveAllocator())
          .handler(this);
      Transports.batchDatagramReads(bootstrap);
      this.channel = bootstrap.bind(new InetSocketAddress(0)).sync().channel();
      this.loop = channel.eventLoop();
    }

    void start(long startNanos) {
      this.startNanos = startNanos;
      loop.scheduleAtFixedRate(this::sweep, SWEEP_INTERVAL_MS, SWEEP_INTERVAL_MS,
          TimeUnit.MILLISECONDS);
      if (settings.rateOpsPerSec() > 0) {
        periodNanos = 1e9 * lanes.size() / settings.rateOpsPerSec();
        idle.addAll(clients);
        loop.scheduleAtFixedRate(this::pace, 0, PACE_INTERVAL_US, TimeUnit.MICROSECONDS);
      } else {
        for (Client client : clients) {
          client.next(System.nanoTime());
        }
        flush();
      }
    }

    /** Open loop: start every request that is due, while clients are free. */
    void pace() {
      long now = System.nanoTime();
      while (!stopping && !idle.isEmpty()) {
        long intended = startNanos + (long) (dueIndex * periodNanos);
        if (intended > now) {
          break;
        }
        dueIndex++;
        Client client = idle.remove(idle.size() - 1);
        client.begin(intended, now);
      }
      flush();
    }

    void sweep() {
      long now = System.nanoTime();
      for (Client client : clients) {
        if (client.inFlight && now - client.deadlineNanos >= 0) {
          client.onTimeout(now);
        }
      }
      flush();
    }

    void send(Client client) {
      channel.write(new DatagramPacket(Unpooled.wrappedBuffer(client.datagram), client.node),
          channel.voidPromise());
      if (!flushScheduled) {
        flushScheduled = true;
        loop.execute(this::flush);
      }
    }

    void flush() {
      flushScheduled = false;
      channel.flush();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object message) {
      DatagramPacket packet = (DatagramPacket) message;
      try {
        onDatagram(packet.content());
      } finally {
        packet.release();
      }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
      flush();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      // ICMP port unreachable and the like: the request times out and is retried.
    }

    private void onDatagram(ByteBuf content) {
      long now = System.nanoTime();
      // The messageID is read in place: every request's Msg starts with field 1 (tag 0x0a),
      // 16 bytes long, and servers (and the echo) send it back first. Only a reply that matches
      // a request in flight is copied and decoded; against an echo server, none is (the echo
      // may pad its reply to a GET reply's size, which is no protobuf).
      int at = content.readerIndex();
      if (content.readableBytes() < 2 + 16 || content.getByte(at) != 0x0a
          || content.getByte(at + 1) != 16) {
        if (settings.echo()) {
          results.strayReplies.increment();
        } else {
          onUnusualDatagram(content);
        }
        return;
      }
      Client client = inFlightClient(content.getLong(at + 2), content.getInt(at + 10),
          content.getInt(at + 14));
      if (client == null) {
        return;
      }
      if (settings.echo()) {
        client.complete(now, ErrorCode.SUCCESS, null);
        return;
      }
      Msg msg = decode(content);
      if (msg != null) {
        onReply(client, msg, now);
      }
    }

    /**
     * The datagram decoded and verified, or null (counted as a bad reply). Copied once into the
     * lane's scratch array, whose views the Msg's fields are: the Msg and anything parsed from it
     * are used only before the next datagram (a 10,000-byte GET reply costs one copy and no
     * allocation of its size).
     */
    private Msg decode(ByteBuf content) {
      int length = Math.min(content.readableBytes(), scratch.length);
      content.getBytes(content.readerIndex(), scratch, 0, length);
      try {
        return ClientCodec.decodeMsgAliased(scratch, content.readableBytes(),
            NodeConfig.DATAGRAM_LENGTH_MAX, NodeConfig.MESSAGE_ID_LENGTH_MAX);
      } catch (DecodeException e) {
        results.badReplies.increment();
        return null;
      }
    }

    /** A datagram whose messageID is not where this engine puts it: decoded to classify it. */
    private void onUnusualDatagram(ByteBuf content) {
      Msg msg = decode(content);
      if (msg == null) {
        return;
      }
      ByteString id = msg.getMessageID();
      if (id.size() != 16) {
        results.strayReplies.increment();
        return;
      }
      ByteBuffer words = id.asReadOnlyByteBuffer();
      Client client = inFlightClient(words.getLong(), words.getInt(), words.getInt());
      if (client != null) {
        onReply(client, msg, System.nanoTime());
      }
    }

    /** The client of this lane waiting for this reply, or null (counted as stray). */
    private Client inFlightClient(long replyNonce, int clientIndex, int sequence) {
      if (replyNonce != nonce || clientIndex < 0 || clientIndex >= settings.clients()
          || clientIndex % lanes.size() != index) {
        results.strayReplies.increment();
        return null;
      }
      Client client = clients.get(clientIndex / lanes.size());
      if (!client.inFlight || client.sequence != sequence) {
        results.strayReplies.increment(); // a late reply to a retried or timed-out request
        return null;
      }
      return client;
    }

    private void onReply(Client client, Msg msg, long now) {
      KVResponse reply;
      try {
        reply = ClientCodec.parseAliased(KVResponse.parser(), msg.getPayload());
      } catch (InvalidProtocolBufferException e) {
        results.badReplies.increment();
        return;
      }
      client.onReply(now, reply);
    }
  }

  /** One logical client: its own random stream (from the seed and its index) and request. */
  private final class Client {
    final int index;
    final Lane lane;
    final SplittableRandom random;
    final UniformRandomProvider rng;
    final KeyChooser keys;
    final byte[] idPrefix = new byte[12];
    int sequence;
    boolean inFlight;
    Op op;
    /** For RMW: the GET is done and the PUT is in flight. */
    boolean rmwWriting;
    /** For the course loop: 0 PUT, 1 GET, 2 REMOVE of key courseKey. */
    int coursePhase;
    long courseKey;
    byte[] key;
    byte[] datagram;
    InetSocketAddress node;
    long intendedNanos;
    long firstSendNanos;
    long deadlineNanos;
    int attempt;
    int overloads;
    /** The kind of the protocol request in flight (a RMW is a GET, then a PUT). */
    Op kind;
    /** The identity written by the PUT in flight (--check). */
    long identity;
    long recordedStartNanos;

    Client(int index, Lane lane) {
      this.index = index;
      this.lane = lane;
      long seed = settings.seed() * 0x9E3779B97F4A7C15L + index;
      this.random = new SplittableRandom(seed);
      this.rng = RandomSource.SPLIT_MIX_64.create(seed);
      this.keys = KeyChooser.of(settings.workload().distribution(),
          Math.max(settings.keys(), 1_000), rng);
      ByteBuffer.wrap(idPrefix).putLong(nonce).putInt(index);
      this.courseKey = index;
    }

    /** Closed loop: the next request, now. */
    void next(long now) {
      if (stopping) {
        return;
      }
      begin(now, now);
    }

    void begin(long intended, long now) {
      intendedNanos = intended;
      rmwWriting = false;
      Workload workload = settings.workload();
      if (workload.courseLoop()) {
        op = coursePhase == 0 ? Op.PUT : coursePhase == 1 ? Op.GET : Op.REMOVE;
        key = Keys.name(settings.keyPrefix(), courseKey);
      } else {
        op = workload.op(random.nextDouble());
        long k = op == Op.INSERT ? inserted.getAndIncrement() : keys.next(keyCount());
        key = Keys.name(settings.keyPrefix(), k);
      }
      issue(op == Op.RMW ? Op.GET : op, now);
    }

    long keyCount() {
      return settings.workload().distribution() == KeyChooser.Distribution.LATEST
          ? inserted.get() : settings.keys();
    }

    /** Sends one protocol request for {@code kind} on {@code key}. */
    void issue(Op kind, long now) {
      this.kind = kind;
      KVRequest.Builder request = KVRequest.newBuilder().setKey(ByteString.copyFrom(key));
      switch (kind) {
        case GET:
          request.setCommand(Command.GET);
          break;
        case REMOVE:
          request.setCommand(Command.REMOVE);
          break;
        default: {
          ByteString value = Values.slice(random, settings.valueLengthMin(),
              settings.valueLengthMax());
          if (settings.check()) {
            identity = ((long) index << 32) | (sequence + 1L);
            value = ByteString.copyFrom(ByteBuffer.allocate(Long.BYTES).putLong(identity)
                .array()).concat(value.substring(Long.BYTES));
          }
          request.setCommand(Command.PUT).setValue(value).setVersion(sequence);
          break;
        }
      }
      sequence++;
      ByteBuffer id = ByteBuffer.allocate(16).put(idPrefix).putInt(sequence);
      datagram = ClientCodec.encodeRequest(ByteString.copyFrom(id.array()), request.build());
      node = settings.targeting().node(key, random);
      attempt = 0;
      overloads = 0;
      if (!inFlight) {
        inFlight = true;
        lane.busy++;
      }
      firstSendNanos = now;
      recordedStartNanos = now;
      transmit(now);
    }

    /** --check: one protocol request's outcome; the reply is null on a timeout. */
    void recordChecked(long now, int errCode, KVResponse reply) {
      // From the first request on, warm-up included: a GET may read any earlier PUT, so the
      // history must hold every PUT that reached the store.
      if (!settings.check()) {
        return;
      }
      if (checkedOps.incrementAndGet() > CHECKED_OPS_MAX) {
        return;
      }
      boolean answered = reply != null;
      Operation.Type type = kind == Op.GET ? Operation.Type.GET
          : kind == Op.REMOVE ? Operation.Type.REMOVE : Operation.Type.PUT;
      Operation.Outcome outcome;
      if (answered && (errCode == ErrorCode.SUCCESS || errCode == ErrorCode.NOT_FOUND)) {
        outcome = Operation.Outcome.OK;
      } else if (answered && type == Operation.Type.GET) {
        outcome = Operation.Outcome.FAILED;
      } else {
        // A write answered with an error, or any request that timed out: an earlier attempt
        // may have been applied.
        outcome = Operation.Outcome.UNKNOWN;
      }
      long value = Operation.ABSENT;
      if (type == Operation.Type.PUT) {
        value = identity;
      } else if (type == Operation.Type.GET && answered && errCode == ErrorCode.SUCCESS) {
        ByteString v = reply.getValue();
        value = v.size() >= Long.BYTES ? v.substring(0, Long.BYTES).asReadOnlyByteBuffer()
            .getLong() : -1;
      }
      lane.history.add(new Operation(lane.history.size() * 64L + lane.index, index,
          new String(key, StandardCharsets.US_ASCII), type, value,
          type == Operation.Type.REMOVE && errCode == ErrorCode.SUCCESS, recordedStartNanos,
          now, outcome));
    }

    void transmit(long now) {
      deadlineNanos = now + TimeUnit.MILLISECONDS.toNanos(
          Math.min(60_000, settings.timeoutMs() << Math.min(attempt, 16)));
      lane.send(this);
    }

    void onTimeout(long now) {
      if (attempt < settings.retriesMax()) {
        attempt++;
        results.retries.increment();
        if (settings.targeting().retryElsewhere()) {
          node = settings.targeting().node(key, random);
        }
        transmit(now);
        return;
      }
      Results counts = results;
      counts.timeouts.increment();
      counts.timedOut(op);
      recordChecked(now, -1, null);
      finish(now);
    }

    void onReply(long now, KVResponse reply) {
      int errCode = reply.getErrCode();
      if (errCode == ErrorCode.OVERLOAD && overloads < settings.overloadRetriesMax()) {
        overloads++;
        results.overloadWaits.increment();
        // Resend the same request after the wait the node asked for (at least 1 ms).
        deadlineNanos = Long.MAX_VALUE;
        long waitMs = Math.max(1, Math.min(reply.getOverloadWaitTime(), 5_000));
        lane.loop.schedule(() -> {
          if (inFlight) {
            transmit(System.nanoTime());
          }
        }, waitMs, TimeUnit.MILLISECONDS);
        return;
      }
      recordChecked(now, errCode, reply);
      if (op == Op.RMW && !rmwWriting
          && (errCode == ErrorCode.SUCCESS || errCode == ErrorCode.NOT_FOUND)) {
        rmwWriting = true;
        long started = firstSendNanos;
        issue(Op.PUT, now);
        firstSendNanos = started;
        return;
      }
      complete(now, errCode, reply);
    }

    void complete(long now, int errCode, KVResponse reply) {
      long from = settings.rateOpsPerSec() > 0 ? intendedNanos : firstSendNanos;
      long latencyUs = Math.max(0, (now - from) / 1_000);
      results.completed(op, errCode, latencyUs);
      lane.interval.recordValue(Math.min(latencyUs, Results.LATENCY_US_MAX));
      if (settings.workload().courseLoop()) {
        coursePhase = (coursePhase + 1) % 3;
        if (coursePhase == 0) {
          courseKey += settings.clients();
        }
      }
      finish(now);
    }

    void finish(long now) {
      inFlight = false;
      lane.busy--;
      if (settings.rateOpsPerSec() > 0) {
        lane.idle.add(this);
      } else {
        next(now);
      }
    }
  }
}
