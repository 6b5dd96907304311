package io.kvd.sim;

import com.google.protobuf.ByteString;
import io.kvd.check.Operation;
import io.kvd.core.Addresses;
import io.kvd.core.Command;
import io.kvd.core.ErrorCode;
import io.kvd.core.codec.ClientCodec;
import io.kvd.proto.ClientProtocol.KVRequest;
import io.kvd.proto.ClientProtocol.KVResponse;
import io.kvd.proto.ClientProtocol.Msg;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Closed-loop clients inside a {@link Simulation}, as the course harness runs them: each sends one
 * PUT, GET or REMOVE at a time to a random live node, retries with the same messageID (100 ms
 * doubling, 3 retries, each retry to a random node) and records the operation for the
 * {@link io.kvd.check.Checker}. Values are 8-byte identities, unique per PUT, so a GET names the
 * PUT it read.
 */
public final class SimClients {
  private static final long TIMEOUT_MS_INITIAL = 100;
  private static final int RETRIES_MAX = 3;

  private final Simulation sim;
  private final SplittableRandom random;
  private final int keys;
  private final List<Operation> history = new ArrayList<>();
  private final Map<Long, Client> byAddress = new HashMap<>();
  private long untilMs;
  private final java.util.ArrayDeque<String> readBackKeys = new java.util.ArrayDeque<>();
  private boolean readBack;
  private long nextValue = 1;
  private long nextOperation = 1;

  private final class Client {
    final int index;
    final long address;
    Operation.Type type;
    String key;
    long value;
    long invokeMs;
    byte[] datagram;
    int attempt;
    long operation; // the operation in flight, 0 when none

    Client(int index) {
      this.index = index;
      this.address = Addresses.of(0xC0A8_0000 | index, 40_000);
    }
  }

  public SimClients(Simulation sim, int clients, int keys, long seed) {
    this(sim, clients, keys, seed, 1);
  }

  private SimClients(Simulation sim, int clients, int keys, long seed, int firstIndex) {
    this.sim = sim;
    this.random = new SplittableRandom(seed);
    this.keys = keys;
    for (int c = 0; c < clients; c++) {
      Client client = new Client(firstIndex + c);
      byAddress.put(client.address, client);
    }
    sim.setClientReplies(this::onReply);
  }

  /**
   * Clients (numbered from {@code firstIndex}, so that their histories can be merged with another
   * set's) that GET each of {@code keys} keys once, after the workload, to find lost writes.
   * They take over the simulation's client replies from any earlier set.
   */
  public static SimClients readBack(Simulation sim, int clients, int keys, long seed,
      int firstIndex) {
    SimClients readers = new SimClients(sim, clients, keys, seed, firstIndex);
    readers.readBack = true;
    for (int k = 0; k < keys; k++) {
      readers.readBackKeys.add("key-" + k);
    }
    return readers;
  }

  /** Starts every client now; they stop issuing new operations at {@code untilMs}. */
  public void start(long untilMs) {
    this.untilMs = untilMs;
    for (Client c : byAddress.values()) {
      sim.at(sim.nowMs() + random.nextLong(50), () -> next(c));
    }
  }

  /** The recorded operations (operations still in flight are recorded as UNKNOWN). */
  public List<Operation> history() {
    List<Operation> all = new ArrayList<>(history);
    for (Client c : byAddress.values()) {
      if (c.operation != 0) {
        all.add(record(c, Operation.Outcome.UNKNOWN, Operation.ABSENT, false));
      }
    }
    return all;
  }

  private void next(Client c) {
    if (sim.nowMs() >= untilMs || (readBack && readBackKeys.isEmpty())) {
      return;
    }
    int dice = readBack ? 5 : random.nextInt(10);
    c.type = dice < 4 ? Operation.Type.PUT : dice < 9 ? Operation.Type.GET
        : Operation.Type.REMOVE;
    c.key = readBack ? readBackKeys.poll() : "key-" + random.nextInt(keys);
    c.value = c.type == Operation.Type.PUT ? nextValue++ : Operation.ABSENT;
    c.invokeMs = sim.nowMs();
    c.attempt = 0;
    c.operation = nextOperation++;
    KVRequest.Builder request = KVRequest.newBuilder()
        .setCommand(c.type == Operation.Type.PUT ? Command.PUT
            : c.type == Operation.Type.GET ? Command.GET : Command.REMOVE)
        .setKey(ByteString.copyFromUtf8(c.key));
    if (c.type == Operation.Type.PUT) {
      request.setValue(ByteString.copyFrom(ByteBuffer.allocate(8).putLong(c.value).array()))
          .setVersion((int) c.value);
    }
    byte[] id = ByteBuffer.allocate(16).putLong(c.address).putLong(c.operation).array();
    c.datagram = ClientCodec.encodeRequest(ByteString.copyFrom(id), request.build());
    send(c);
  }

  private void send(Client c) {
    int node;
    int tries = 0;
    do {
      node = random.nextInt(sim.size());
    } while (sim.state(node) == Simulation.State.CRASHED && ++tries < 100);
    sim.clientSend(c.address, node, c.datagram);
    long operation = c.operation;
    int attempt = c.attempt;
    sim.at(sim.nowMs() + (TIMEOUT_MS_INITIAL << attempt), () -> onTimeout(c, operation, attempt));
  }

  private void onTimeout(Client c, long operation, int attempt) {
    if (c.operation != operation || c.attempt != attempt) {
      return;
    }
    if (c.attempt >= RETRIES_MAX) {
      history.add(record(c, Operation.Outcome.UNKNOWN, Operation.ABSENT, false));
      retryReadBack(c);
      c.operation = 0;
      next(c);
      return;
    }
    c.attempt++;
    send(c);
  }

  private void onReply(long clientAddress, long fromNode, byte[] datagram) {
    Client c = byAddress.get(clientAddress);
    if (c == null || c.operation == 0) {
      return;
    }
    Msg msg;
    KVResponse reply;
    try {
      msg = ClientCodec.decodeMsg(datagram, datagram.length, 65_507, 16);
      reply = ClientCodec.decodeReply(msg);
    } catch (ClientCodec.DecodeException e) {
      throw new IllegalStateException("a node sent a client garbage", e);
    }
    if (ByteBuffer.wrap(msg.getMessageID().toByteArray()).getLong(8) != c.operation) {
      return; // A late reply to an earlier operation.
    }
    int code = reply.getErrCode();
    if (code == ErrorCode.SUCCESS || code == ErrorCode.NOT_FOUND) {
      long read = Operation.ABSENT;
      if (c.type == Operation.Type.GET && code == ErrorCode.SUCCESS) {
        read = ByteBuffer.wrap(reply.getValue().toByteArray()).getLong();
      }
      history.add(record(c, Operation.Outcome.OK, read, code == ErrorCode.SUCCESS));
    } else {
      // OVERLOAD, OUT_OF_SPACE and the rest: the node did not execute this attempt. An earlier
      // attempt of a write (same messageID, maybe through another node) may have reached some
      // replicas, so after a retry the write's outcome is unknown.
      Operation.Outcome outcome = c.attempt > 0 && c.type != Operation.Type.GET
          ? Operation.Outcome.UNKNOWN : Operation.Outcome.FAILED;
      history.add(record(c, outcome, Operation.ABSENT, false));
      retryReadBack(c);
    }
    c.operation = 0;
    next(c);
  }

  /** A reader tries a key again, as a new operation, until it reads it. */
  private void retryReadBack(Client c) {
    if (readBack) {
      readBackKeys.addFirst(c.key);
    }
  }

  private Operation record(Client c, Operation.Outcome outcome, long read, boolean found) {
    long value = c.type == Operation.Type.PUT ? c.value : read;
    return new Operation(c.operation, c.index, c.key, c.type, value, found,
        c.invokeMs * 1_000_000, sim.nowMs() * 1_000_000, outcome);
  }
}
