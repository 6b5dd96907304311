package io.kvd.client;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import io.kvd.core.Command;
import io.kvd.core.ErrorCode;
import io.kvd.core.NodeConfig;
import io.kvd.core.auth.ClusterKey;
import io.kvd.core.auth.PeerAuth;
import io.kvd.core.codec.ClientCodec;
import io.kvd.core.codec.ClientCodec.DecodeException;
import io.kvd.proto.ClientProtocol.KVRequest;
import io.kvd.proto.ClientProtocol.KVResponse;
import io.kvd.proto.PeerProtocol.AdminReply;
import io.kvd.proto.PeerProtocol.AdminRequest;
import io.kvd.proto.PeerProtocol.PeerMsg;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.DatagramPacket;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetSocketAddress;
import java.security.SecureRandom;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The asynchronous client of the kvd protocol: one UDP socket, many requests in flight, replies
 * matched by messageID. Each request is retried with the same messageID on timeout, as the
 * {@link RetryPolicy} says, and an OVERLOAD answer is honoured by waiting overloadWaitTime.
 * Replies with a wrong checksum or an unknown ID are ignored (and counted).
 *
 * <p>With a {@link ClusterKey}, admin requests are stamped (wall-clock time and a fresh random
 * nonce, on every attempt, since a node accepts each nonce once) and tagged, and admin replies
 * without a valid tag are ignored; an admin request that gets no valid reply from a node that
 * does answer client requests fails with {@link KvAuthException}. Key requests never need a key.
 *
 * <p>Threading: one Netty event loop thread owns the socket and the table of requests in flight;
 * callers on any thread hand requests over with {@code execute}. Futures complete on that thread,
 * so callbacks attached to them must not block; join them from your own thread instead.
 */
public final class KvClient implements AutoCloseable {
  /** Default bound on requests in flight; beyond it a request fails at once. */
  public static final int INFLIGHT_MAX_DEFAULT = 16_384;
  private static final int SOCKET_BUFFER_LENGTH = 4 << 20;

  private final EventLoopGroup group;
  private final Channel channel;
  private final EventLoop loop;
  private final RetryPolicy policy;
  private final int inflightMax;
  private final AtomicInteger inflight = new AtomicInteger();
  private final ClientStats stats = new ClientStats();
  // Owned by the event loop thread.
  private final Map<IdKey, Pending> pending = new HashMap<>();
  private final SplittableRandom random = new SplittableRandom(new SecureRandom().nextLong());
  /** Signs admin requests and checks admin replies; null: none (a node without a key). */
  private final ClusterKey clusterKey;
  /** Admin nonces (event loop only). */
  private final SecureRandom nonces = new SecureRandom();
  private boolean flushScheduled;
  private final Runnable flushTask = this::flushWritten;

  private KvClient(RetryPolicy policy, int inflightMax, ClusterKey clusterKey) {
    this.policy = policy;
    this.inflightMax = inflightMax;
    this.clusterKey = clusterKey;
    this.group = Transports.newGroup(1, Transports.daemonThreads("kvclient-io"));
    Bootstrap bootstrap = new Bootstrap()
        .group(group)
        .channel(Transports.datagramChannel())
        .option(ChannelOption.SO_RCVBUF, SOCKET_BUFFER_LENGTH)
        .option(ChannelOption.SO_SNDBUF, SOCKET_BUFFER_LENGTH)
        .option(ChannelOption.RECVBUF_ALLOCATOR,
            Transports.datagramReceiveAllocator())
        .handler(new ReplyHandler());
    try {
      this.channel = bootstrap.bind(new InetSocketAddress(0)).sync().channel();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      group.shutdownGracefully(0, 0, TimeUnit.MILLISECONDS);
      throw new KvException("interrupted while opening the client socket", e);
    }
    this.loop = channel.eventLoop();
  }

  /** A client with the default retry policy and in-flight bound. */
  public static KvClient open() {
    return new KvClient(RetryPolicy.DEFAULT, INFLIGHT_MAX_DEFAULT, null);
  }

  public static KvClient open(RetryPolicy policy, int inflightMax) {
    return open(policy, inflightMax, null);
  }

  /** A client whose admin requests are signed with {@code clusterKey} (null: none). */
  public static KvClient open(RetryPolicy policy, int inflightMax, ClusterKey clusterKey) {
    if (inflightMax < 1) {
      throw new IllegalArgumentException("inflightMax must be >= 1");
    }
    return new KvClient(policy, inflightMax, clusterKey);
  }

  /** The key admin requests are signed with, or null. */
  public ClusterKey clusterKey() {
    return clusterKey;
  }

  public RetryPolicy policy() {
    return policy;
  }

  public ClientStats stats() {
    return stats;
  }

  /** The local port of the client's socket. */
  public int localPort() {
    return ((InetSocketAddress) channel.localAddress()).getPort();
  }

  /** Sends {@code request} under a fresh random messageID with the client's retry policy. */
  public CompletableFuture<KVResponse> request(InetSocketAddress node, KVRequest request) {
    return request(node, null, request, policy);
  }

  /**
   * Sends {@code request} under {@code messageId} (16 random bytes when null) with {@code
   * retryPolicy}. Completes with the node's reply whatever its errCode (an OVERLOAD only once
   * the policy's OVERLOAD retries are spent), or fails with {@link KvTimeoutException}.
   */
  public CompletableFuture<KVResponse> request(InetSocketAddress node, byte[] messageId,
      KVRequest request, RetryPolicy retryPolicy) {
    CompletableFuture<KVResponse> future = new CompletableFuture<>();
    if (reserve(future)) {
      loop.execute(() -> start(node, messageId, request, retryPolicy, future));
    }
    return future;
  }

  /** Takes a slot of inflightMax for a new request; else fails {@code future} and says false. */
  private boolean reserve(CompletableFuture<?> future) {
    if (inflight.incrementAndGet() > inflightMax) {
      inflight.decrementAndGet();
      future.completeExceptionally(new KvException(
          "too many requests in flight (inflightMax " + inflightMax + ")"));
      return false;
    }
    stats.requests.increment();
    return true;
  }

  // Convenience operations: they map error codes to results or KvErrorException.

  public CompletableFuture<Void> put(InetSocketAddress node, byte[] key, byte[] value,
      int version) {
    KVRequest request = KVRequest.newBuilder().setCommand(Command.PUT)
        .setKey(ByteString.copyFrom(key)).setValue(ByteString.copyFrom(value))
        .setVersion(version).build();
    return request(node, request).thenApply(reply -> {
      expect(reply, "PUT", ErrorCode.SUCCESS);
      return null;
    });
  }

  /** The value and version of {@code key}, or empty when the node says it does not exist. */
  public CompletableFuture<Optional<Versioned>> get(InetSocketAddress node, byte[] key) {
    KVRequest request = KVRequest.newBuilder().setCommand(Command.GET)
        .setKey(ByteString.copyFrom(key)).build();
    return request(node, request).thenApply(reply -> {
      if (reply.getErrCode() == ErrorCode.NOT_FOUND) {
        return Optional.empty();
      }
      expect(reply, "GET", ErrorCode.SUCCESS);
      return Optional.of(new Versioned(reply.getValue().toByteArray(), reply.getVersion()));
    });
  }

  /** True when the key was removed, false when the node says it did not exist. */
  public CompletableFuture<Boolean> remove(InetSocketAddress node, byte[] key) {
    KVRequest request = KVRequest.newBuilder().setCommand(Command.REMOVE)
        .setKey(ByteString.copyFrom(key)).build();
    return request(node, request).thenApply(reply -> {
      if (reply.getErrCode() == ErrorCode.NOT_FOUND) {
        return false;
      }
      expect(reply, "REMOVE", ErrorCode.SUCCESS);
      return true;
    });
  }

  public CompletableFuture<Void> wipeout(InetSocketAddress node) {
    return simple(node, Command.WIPEOUT, "WIPEOUT").thenApply(reply -> null);
  }

  public CompletableFuture<Void> isAlive(InetSocketAddress node) {
    return simple(node, Command.IS_ALIVE, "IS_ALIVE").thenApply(reply -> null);
  }

  public CompletableFuture<Integer> pid(InetSocketAddress node) {
    return simple(node, Command.GET_PID, "GET_PID").thenApply(KVResponse::getPid);
  }

  public CompletableFuture<Integer> membershipCount(InetSocketAddress node) {
    return simple(node, Command.GET_MEMBERSHIP_COUNT, "GET_MEMBERSHIP_COUNT")
        .thenApply(KVResponse::getMembershipCount);
  }

  /**
   * Asks the node to exit. Sent once without retries, because a node that executed it cannot
   * answer a retry; completes with true when the node acknowledged before exiting, false when no
   * acknowledgement arrived within the first timeout (it may still have exited).
   */
  public CompletableFuture<Boolean> shutdown(InetSocketAddress node) {
    KVRequest request = KVRequest.newBuilder().setCommand(Command.SHUTDOWN).build();
    return request(node, null, request, policy.withRetriesMax(0))
        .handle((reply, error) -> error == null && reply.getErrCode() == ErrorCode.SUCCESS);
  }

  /**
   * An operator's SHUTDOWN, the way the node accepts it: over the authenticated admin path when
   * this client has a cluster key; else over the client protocol, then the admin path if the
   * node refuses SHUTDOWN from clients (kvd --client-admin off answers UNRECOGNIZED_COMMAND).
   * Completes as {@link #shutdown}: true when acknowledged. Admin-path attempts are retried (a
   * node either exits or answers); an admin request the node refuses fails the future.
   */
  public CompletableFuture<Boolean> operatorShutdown(InetSocketAddress node) {
    if (clusterKey != null) {
      return adminShutdown(node);
    }
    KVRequest request = KVRequest.newBuilder().setCommand(Command.SHUTDOWN).build();
    return request(node, null, request, policy.withRetriesMax(0)).handle((reply, error) -> {
      if (error == null && reply.getErrCode() == ErrorCode.UNRECOGNIZED_COMMAND) {
        return adminShutdown(node);
      }
      return CompletableFuture.completedFuture(
          error == null && reply.getErrCode() == ErrorCode.SUCCESS);
    }).thenCompose(f -> f);
  }

  private CompletableFuture<Boolean> adminShutdown(InetSocketAddress node) {
    return admin(node, AdminRequest.newBuilder().setKind(AdminRequest.Kind.SHUTDOWN).build())
        .handle((reply, error) -> {
          if (error instanceof java.util.concurrent.CompletionException) {
            error = error.getCause();
          }
          if (error instanceof KvAuthException auth) {
            throw auth;
          }
          if (error == null && reply.getErrCode() != 0) {
            throw new KvException("SHUTDOWN refused by the node: " + reply.getError());
          }
          return error == null;
        });
  }

  /**
   * An operator's WIPEOUT, the way the node accepts it (see {@link #operatorShutdown}). Over the
   * admin path every attempt carries one messageID, so a retried WIPEOUT wipes once.
   */
  public CompletableFuture<Void> operatorWipeout(InetSocketAddress node) {
    if (clusterKey != null) {
      return adminWipeout(node);
    }
    return request(node, KVRequest.newBuilder().setCommand(Command.WIPEOUT).build())
        .thenCompose(reply -> {
          if (reply.getErrCode() == ErrorCode.UNRECOGNIZED_COMMAND) {
            return adminWipeout(node);
          }
          expect(reply, "WIPEOUT", ErrorCode.SUCCESS);
          return CompletableFuture.completedFuture(null);
        });
  }

  private CompletableFuture<Void> adminWipeout(InetSocketAddress node) {
    return admin(node, AdminRequest.newBuilder().setKind(AdminRequest.Kind.WIPEOUT).build())
        .thenApply(reply -> {
          if (reply.getErrCode() != 0) {
            throw new KvException("WIPEOUT refused by the node: " + reply.getError());
          }
          return null;
        });
  }

  private CompletableFuture<KVResponse> simple(InetSocketAddress node, int command, String name) {
    return request(node, KVRequest.newBuilder().setCommand(command).build()).thenApply(reply -> {
      expect(reply, name, ErrorCode.SUCCESS);
      return reply;
    });
  }

  private static void expect(KVResponse reply, String operation, int errCode) {
    if (reply.getErrCode() != errCode) {
      throw new KvErrorException(reply.getErrCode(), operation);
    }
  }

  @Override
  public void close() {
    channel.close().syncUninterruptibly();
    group.shutdownGracefully(0, 100, TimeUnit.MILLISECONDS).syncUninterruptibly();
  }

  // Everything below runs on the event loop thread.

  private void start(InetSocketAddress node, byte[] messageId, KVRequest request,
      RetryPolicy retryPolicy, CompletableFuture<KVResponse> future) {
    ByteString idBytes = ByteString.copyFrom(messageId != null ? messageId : newId());
    IdKey key = IdKey.of(idBytes);
    if (pending.containsKey(key)) {
      finish(null, future, null, new KvException("messageID already in flight"));
      return;
    }
    Pending p = new Pending(key, node, ClientCodec.encodeRequest(idBytes, request), retryPolicy,
        future, null);
    pending.put(key, p);
    transmit(p);
  }

  private byte[] newId() {
    byte[] id = new byte[NodeConfig.MESSAGE_ID_LENGTH_MAX];
    random.nextBytes(id);
    return id;
  }

  /**
   * Sends an operator's admin request (kvctl: status, faults, blocked links) to {@code node}
   * with the client's retry policy; completes with the node's AdminReply, or fails with {@link
   * KvTimeoutException}, or with {@link KvAuthException} when the node answers client requests
   * (asked once the admin request's attempts are spent) but not this admin request, or only with
   * replies whose tag is not valid under the client's key. Admin requests are idempotent, so
   * retries are safe; with a key each attempt carries a fresh stamp.
   */
  public CompletableFuture<AdminReply> admin(InetSocketAddress node, AdminRequest request) {
    return admin(node, request, policy);
  }

  /** {@link #admin(InetSocketAddress, AdminRequest)} with {@code retryPolicy}. */
  public CompletableFuture<AdminReply> admin(InetSocketAddress node, AdminRequest request,
      RetryPolicy retryPolicy) {
    CompletableFuture<AdminReply> future = new CompletableFuture<>();
    if (!reserve(future)) {
      return future;
    }
    loop.execute(() -> {
      ByteString id = ByteString.copyFrom(newId());
      Pending p = new Pending(IdKey.of(id), node, null, retryPolicy, null, future);
      p.adminId = id;
      p.adminRequest = request;
      pending.put(p.key, p);
      transmit(p);
    });
    return future;
  }

  /** An attempt's datagram of an admin request: with a key, freshly stamped and tagged. */
  private byte[] adminDatagram(Pending p) {
    byte[] nonce = null;
    if (clusterKey != null) {
      nonce = new byte[PeerAuth.NONCE_LENGTH];
      nonces.nextBytes(nonce);
    }
    return PeerAuth.adminRequest(p.adminId, p.adminRequest, clusterKey,
        System.currentTimeMillis(), nonce);
  }

  private void transmit(Pending p) {
    if (p.adminRequest != null && (p.datagram == null || clusterKey != null)) {
      p.datagram = adminDatagram(p);
    }
    stats.sends.increment();
    channel.write(new DatagramPacket(Unpooled.wrappedBuffer(p.datagram), p.node),
        channel.voidPromise());
    // One flush per turn of the loop sends every datagram written in that turn with one
    // sendmmsg instead of one sendto each.
    if (!flushScheduled) {
      flushScheduled = true;
      loop.execute(flushTask);
    }
    p.timeout = loop.schedule(() -> onTimeout(p), p.policy.timeoutMs(p.attempt),
        TimeUnit.MILLISECONDS);
  }

  private void flushWritten() {
    flushScheduled = false;
    channel.flush();
  }

  private void onTimeout(Pending p) {
    if (pending.get(p.key) != p) {
      return;
    }
    if (p.attempt >= p.policy.retriesMax()) {
      stats.timeouts.increment();
      KvTimeoutException timeout = new KvTimeoutException("no reply from "
          + p.node.getAddress().getHostAddress() + ":" + p.node.getPort() + " after "
          + (p.attempt + 1) + " attempts", p.attempt + 1);
      if (p.adminFuture != null) {
        pending.remove(p.key);
        inflight.decrementAndGet();
        failAdmin(p, timeout);
        return;
      }
      finish(p, p.future, null, timeout);
      return;
    }
    p.attempt++;
    stats.retries.increment();
    transmit(p);
  }

  /**
   * Fails an admin request that got no valid reply: a {@link KvAuthException} when replies came
   * with an invalid tag, or when the node answers an IS_ALIVE now; else {@code timeout}.
   */
  private void failAdmin(Pending p, KvTimeoutException timeout) {
    String node = p.node.getAddress().getHostAddress() + ":" + p.node.getPort();
    if (p.unauthenticatedReplies > 0) {
      p.adminFuture.completeExceptionally(new KvAuthException(node + " answered admin requests"
          + " without a valid tag: it runs without a cluster key or with another one than this"
          + " client's (fingerprint " + clusterKey.fingerprint() + ")"));
      return;
    }
    RetryPolicy probePolicy = p.policy.withRetriesMax(Math.min(1, p.policy.retriesMax()));
    request(p.node, null, KVRequest.newBuilder().setCommand(Command.IS_ALIVE).build(),
        probePolicy).whenComplete((reply, error) -> {
          if (error != null) {
            p.adminFuture.completeExceptionally(timeout);
          } else {
            p.adminFuture.completeExceptionally(new KvAuthException("no answer to admin requests"
                + " from " + node + ", which answers client requests: "
                + (clusterKey == null ? "it needs the cluster key, and none was given"
                : "wrong cluster key (this client's has fingerprint " + clusterKey.fingerprint()
                + "), or wall clocks more than " + PeerAuth.ADMIN_WINDOW_MS / 1000
                + " s apart")));
          }
        });
  }

  private void onReply(ByteBuf content) {
    byte[] bytes = new byte[content.readableBytes()];
    content.readBytes(bytes);
    PeerMsg msg;
    try {
      msg = ClientCodec.decodePeerMsg(bytes, bytes.length, NodeConfig.DATAGRAM_LENGTH_MAX,
          NodeConfig.MESSAGE_ID_LENGTH_MAX);
    } catch (DecodeException e) {
      stats.badReplies.increment();
      return;
    }
    Pending p = pending.get(IdKey.of(msg.getMessageID()));
    if (p == null || msg.getAdmin() != (p.adminFuture != null)) {
      stats.unmatchedReplies.increment();
      return;
    }
    if (p.adminFuture != null) {
      if (clusterKey != null && !PeerAuth.authentic(clusterKey, msg, bytes, bytes.length)) {
        p.unauthenticatedReplies++;
        stats.badReplies.increment();
        return;
      }
      AdminReply adminReply;
      try {
        adminReply = AdminReply.parseFrom(msg.getPayload());
      } catch (InvalidProtocolBufferException e) {
        stats.badReplies.increment();
        return;
      }
      p.timeout.cancel(false);
      pending.remove(p.key);
      inflight.decrementAndGet();
      p.adminFuture.complete(adminReply);
      return;
    }
    KVResponse reply;
    try {
      reply = KVResponse.parseFrom(msg.getPayload());
    } catch (InvalidProtocolBufferException e) {
      stats.badReplies.increment();
      return;
    }
    p.timeout.cancel(false);
    if (reply.getErrCode() == ErrorCode.OVERLOAD && p.overloads < p.policy.overloadRetriesMax()) {
      p.overloads++;
      stats.overloadWaits.increment();
      long waitMs = Math.max(1, Math.min(reply.getOverloadWaitTime(),
          p.policy.overloadWaitMsMax()));
      p.timeout = loop.schedule(() -> {
        if (pending.get(p.key) == p) {
          transmit(p);
        }
      }, waitMs, TimeUnit.MILLISECONDS);
      return;
    }
    finish(p, p.future, reply, null);
  }

  private void finish(Pending p, CompletableFuture<KVResponse> future, KVResponse reply,
      Throwable error) {
    if (p != null) {
      pending.remove(p.key);
    }
    inflight.decrementAndGet();
    if (error != null) {
      future.completeExceptionally(error);
    } else {
      future.complete(reply);
    }
  }

  private final class ReplyHandler extends SimpleChannelInboundHandler<DatagramPacket> {
    @Override
    protected void channelRead0(ChannelHandlerContext ctx, DatagramPacket packet) {
      onReply(packet.content());
    }
  }

  /** A messageID of at most 16 bytes as a map key. */
  private record IdKey(long high, long low, int length) {
    static IdKey of(ByteString id) {
      long high = 0;
      long low = 0;
      for (int i = 0; i < 16; i++) {
        long b = i < id.size() ? id.byteAt(i) & 0xFF : 0;
        if (i < 8) {
          high = (high << 8) | b;
        } else {
          low = (low << 8) | b;
        }
      }
      return new IdKey(high, low, id.size());
    }
  }

  /** One request in flight. */
  private static final class Pending {
    final IdKey key;
    final InetSocketAddress node;
    /** Set anew on each attempt of an admin request with a key (a fresh stamp each). */
    byte[] datagram;
    final RetryPolicy policy;
    final CompletableFuture<KVResponse> future;
    /** Set instead of future for an admin request. */
    final CompletableFuture<AdminReply> adminFuture;
    ByteString adminId;
    AdminRequest adminRequest;
    /** Admin replies that came without a valid tag. */
    int unauthenticatedReplies;
    int attempt;
    int overloads;
    ScheduledFuture<?> timeout;

    Pending(IdKey key, InetSocketAddress node, byte[] datagram, RetryPolicy policy,
        CompletableFuture<KVResponse> future, CompletableFuture<AdminReply> adminFuture) {
      this.key = key;
      this.node = node;
      this.datagram = datagram;
      this.policy = policy;
      this.future = future;
      this.adminFuture = adminFuture;
    }
  }
}
