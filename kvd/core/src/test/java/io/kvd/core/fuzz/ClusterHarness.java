package io.kvd.core.fuzz;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.UnsafeByteOperations;
import io.kvd.core.Addresses;
import io.kvd.core.Command;
import io.kvd.core.ErrorCode;
import io.kvd.core.Node;
import io.kvd.core.NodeConfig;
import io.kvd.core.Outbox;
import io.kvd.core.ReplyCache;
import io.kvd.core.cluster.ClusterConfig;
import io.kvd.core.cluster.MembershipConfig;
import io.kvd.core.codec.ClientCodec;
import io.kvd.core.codec.ClientCodec.DecodeException;
import io.kvd.core.replication.ReplicationConfig;
import io.kvd.core.store.Store;
import io.kvd.proto.ClientProtocol.KVRequest;
import io.kvd.proto.ClientProtocol.KVResponse;
import io.kvd.proto.ClientProtocol.Msg;
import io.kvd.proto.PeerProtocol.AdminReply;
import io.kvd.proto.PeerProtocol.AdminRequest;
import io.kvd.proto.PeerProtocol.Gossip;
import io.kvd.proto.PeerProtocol.LinkFaults;
import io.kvd.proto.PeerProtocol.PeerMsg;
import io.kvd.proto.PeerProtocol.Replica;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A cluster of one to three {@link Node}s on one deterministic clock, driven step by step by a
 * {@link FuzzedDataProvider}, checking every datagram the nodes send and their state after every
 * step. Datagrams between members wait in a network queue until a step delivers, drops, replays
 * or mutates them; replies to clients and kvctl are checked and kept aside.
 *
 * <p>How the input is consumed (what {@link SeedCorpus} writes): first the cluster's size, then
 * up to {@link #STEPS_MAX} steps, each an int in 0..STEPS-1 and the step's own choices, in the
 * order the step methods below take them. Choices among things whose number depends on the run
 * (queued datagrams, sent datagrams, recent messageIDs) are {@link #pick}: an int in 0..65535
 * modulo the number.
 */
final class ClusterHarness {
  static final int CLIENT_REQUEST = 0;
  static final int RAW_DATAGRAM = 1;
  static final int ENVELOPE = 2;
  static final int DELIVER = 3;
  static final int REPLAY = 4;
  static final int MUTATE = 5;
  static final int DROP = 6;
  static final int TICK = 7;
  static final int RUN = 8;
  static final int STALL = 9;
  static final int ADMIN = 10;
  static final int RESTART = 11;
  static final int STEPS = 12;

  /** Envelope kinds ({@link #envelope}). */
  static final int PLAIN = 0;
  static final int GOSSIP = 1;
  static final int REPLICA = 2;
  static final int ADMIN_KIND = 3;
  static final int FORWARD = 4;

  /** Mutations of a sent datagram ({@link #mutate}). */
  static final int FLIP_BITS = 0;
  static final int TRUNCATE = 1;
  static final int PAYLOAD_BYTES = 2;
  static final int PAYLOAD_FIELDS = 3;
  static final int HEADER = 4;
  static final int SENDER = 5;
  static final int MUTATIONS = 6;

  static final int SIZE_MAX = 3;
  static final int STEPS_MAX = 64;
  static final int RUN_ROUNDS_MAX = 30;
  static final int PENDING_MAX = 64;
  static final int HISTORY_MAX = 32;
  static final int RECENT_IDS_MAX = 8;
  static final int OPS_MAX = 16;
  static final long TICK_MS = 10;
  static final long START_MS = 10_000;
  static final int MAX = NodeConfig.DATAGRAM_LENGTH_MAX;
  static final int ID_MAX = NodeConfig.MESSAGE_ID_LENGTH_MAX;

  static final long[] MEMBERS = {Addresses.of(0x7F00_0001, 43_100),
      Addresses.of(0x7F00_0001, 43_101), Addresses.of(0x7F00_0001, 43_102)};
  static final long[] CLIENTS = {Addresses.of(0x0A00_0001, 50_000),
      Addresses.of(0x0A00_0001, 50_001), Addresses.of(0x0A00_0002, 50_000)};
  static final long KVCTL = Addresses.of(0x7F00_0001, 50_100);
  /** Who a fuzzed datagram may come from: the clients, kvctl, then every member. */
  static final long[] SENDERS = {CLIENTS[0], CLIENTS[1], CLIENTS[2], KVCTL, MEMBERS[0],
      MEMBERS[1], MEMBERS[2]};
  static final byte[][] KEYS = {bytes("k0"), bytes("k1"), bytes("k2"), bytes("k3")};
  /** Client commands a request may carry; -1: any int the input gives. */
  static final int[] COMMANDS = {Command.PUT, Command.PUT, Command.GET, Command.GET,
      Command.REMOVE, Command.WIPEOUT, Command.IS_ALIVE, Command.GET_PID,
      Command.GET_MEMBERSHIP_COUNT, Command.SHUTDOWN, 0, 9, -1};
  /** A little more than two largest values: OUT_OF_SPACE comes soon. */
  static final long STORE_LENGTH_MAX = new Store(0).length() + 24 * 1024;
  /** 33 entries: OVERLOAD comes soon too. */
  static final long REPLY_CACHE_LENGTH_MAX = 2 * ReplyCache.LENGTH_MIN;
  static final long REPLY_RETENTION_MS = 2_000;
  private static final byte[] FILL = new byte[NodeConfig.VALUE_LENGTH_MAX + 8];
  static final boolean TRACE = Boolean.getBoolean("kvd.fuzz.trace");

  static {
    for (int i = 0; i < FILL.length; i++) {
      FILL[i] = (byte) (i * 31 + 7);
    }
  }

  /** Admin replies sent over all runs, printed by NodeFuzzTest at the end. */
  static long adminReplies;

  /** A datagram from {@code from} to {@code to}. */
  private record Packet(long from, long to, byte[] datagram) {
    @Override
    public String toString() {
      return datagram.length + " bytes from " + Addresses.toString(from) + " to "
          + Addresses.toString(to);
    }
  }

  private final FuzzedDataProvider data;
  private final int size;
  private final Node[] nodes;
  private final NodeOutbox[] outboxes;
  private final long[] delivered;
  private final long[] incarnations;
  private final List<Packet> pending = new ArrayList<>();
  private final List<Packet> history = new ArrayList<>();
  private final List<ByteString> recentIds = new ArrayList<>();
  /** Replies to clients since the last client request, when a node is alone. */
  private final List<Packet> clientReplies = new ArrayList<>();
  private long nowMs = START_MS;
  private long nextId = 1;
  private int step;

  ClusterHarness(FuzzedDataProvider data) {
    this.data = data;
    this.size = data.consumeInt(1, SIZE_MAX);
    this.nodes = new Node[size];
    this.outboxes = new NodeOutbox[size];
    this.delivered = new long[size];
    this.incarnations = new long[size];
    for (int i = 0; i < size; i++) {
      incarnations[i] = 1;
      outboxes[i] = new NodeOutbox(i);
      nodes[i] = newNode(i);
    }
    trace("cluster of %d", size);
    tickAll();
  }

  private Node newNode(int i) {
    long[] members = Arrays.copyOf(MEMBERS, size);
    ClusterConfig cluster = new ClusterConfig(members, members[i], 4, MembershipConfig.DEFAULT,
        incarnations[i], 17 + i).withReplication(ReplicationConfig.DEFAULT.withOpsMax(OPS_MAX));
    NodeConfig config = new NodeConfig(1_000 + i, REPLY_RETENTION_MS, REPLY_CACHE_LENGTH_MAX,
        STORE_LENGTH_MAX, 0x5EED + i, NodeConfig.OVERLOAD_WAIT_TIME_MS_MIN_DEFAULT);
    return new Node(config, cluster);
  }

  /** Runs the steps the input describes, then checks every node's STATUS. */
  void run() {
    while (step < STEPS_MAX && data.remainingBytes() > 0) {
      step++;
      switch (data.consumeInt(0, STEPS - 1)) {
        case CLIENT_REQUEST:
          clientRequest();
          break;
        case RAW_DATAGRAM:
          rawDatagram();
          break;
        case ENVELOPE:
          envelope();
          break;
        case DELIVER:
          deliverPending();
          break;
        case REPLAY:
          replay();
          break;
        case MUTATE:
          mutate();
          break;
        case DROP:
          if (!pending.isEmpty()) {
            Packet dropped = pending.remove(pick(pending.size()));
            trace("drop %s", dropped);
          }
          break;
        case TICK:
          nowMs += data.consumeInt(0, 100);
          tickAll();
          break;
        case RUN:
          runNetwork(data.consumeInt(1, RUN_ROUNDS_MAX));
          break;
        case STALL:
          stall();
          break;
        case ADMIN:
          admin();
          break;
        default:
          restart(pickNode());
          break;
      }
      for (int i = 0; i < size; i++) {
        checkNode(i);
      }
    }
    for (int i = 0; i < size; i++) {
      checkStatus(i);
    }
  }

  // --- Steps ----------------------------------------------------------------------------------

  private void clientRequest() {
    int node = pickNode();
    long client = CLIENTS[data.consumeInt(0, CLIENTS.length - 1)];
    int command = COMMANDS[data.consumeInt(0, COMMANDS.length - 1)];
    if (command < 0) {
      command = data.consumeInt();
    }
    KVRequest.Builder request = KVRequest.newBuilder().setCommand(command);
    int keyMode = data.consumeInt(0, 3);
    if (keyMode == 1 || keyMode == 2) {
      request.setKey(ByteString.copyFrom(KEYS[data.consumeInt(0, KEYS.length - 1)]));
    } else if (keyMode == 3) {
      request.setKey(ByteString.copyFrom(data.consumeBytes(data.consumeInt(0, 40))));
    }
    int valueMode = data.consumeInt(0, 3);
    if (valueMode == 1) {
      request.setValue(ByteString.copyFrom(data.consumeBytes(data.consumeInt(0, 64))));
    } else if (valueMode == 2) {
      request.setValue(UnsafeByteOperations.unsafeWrap(FILL, 0,
          data.consumeInt(0, NodeConfig.VALUE_LENGTH_MAX + 8)));
    } else if (valueMode == 3) {
      request.setValue(ByteString.EMPTY);
    }
    if (data.consumeBoolean()) {
      request.setVersion(data.consumeInt());
    }
    ByteString id = messageId();
    KVRequest built = request.build();
    byte[] datagram = ClientCodec.encodeRequest(id, built);
    if (TRACE) {
      trace("client %s -> node %d: %s %s", Addresses.toString(client), node,
          Command.name(command), shortText(built));
    }
    clientReplies.clear();
    deliver(node, client, datagram);
    if (size == 1 && id.size() <= ID_MAX) {
      // A node alone answers every well-formed request at once, under its messageID.
      int answers = 0;
      for (Packet reply : clientReplies) {
        if (reply.to() == client) {
          answers++;
          ByteString replyId = parseMsg(reply.datagram()).getMessageID();
          require(replyId.equals(id), "node 0 answered %s under another messageID",
              Command.name(command));
        }
      }
      require(answers == 1, "node 0 alone answered a well-formed %s %d times, not once",
          Command.name(command), answers);
    }
  }

  private void rawDatagram() {
    int node = pickNode();
    long from = pickSender();
    byte[] datagram = data.consumeBytes(data.consumeInt(0, 512));
    trace("raw %d bytes from %s -> node %d", datagram.length, Addresses.toString(from), node);
    deliver(node, from, datagram);
  }

  /** A fuzzer-made payload in a correctly checksummed envelope of a chosen kind. */
  private void envelope() {
    int node = pickNode();
    long from = pickSender();
    int kind = data.consumeInt(0, 4);
    ByteString payload = ByteString.copyFrom(data.consumeBytes(data.consumeInt(0, 512)));
    ByteString id = messageId();
    PeerMsg.Builder msg = PeerMsg.newBuilder().setMessageID(id).setPayload(payload)
        .setCheckSum(ClientCodec.checksum(id, payload));
    switch (kind) {
      case GOSSIP:
        msg.setGossip(true);
        break;
      case REPLICA:
        msg.setReplica(true);
        break;
      case ADMIN_KIND:
        msg.setAdmin(true);
        break;
      case FORWARD:
        msg.setClientAddress(CLIENTS[data.consumeInt(0, CLIENTS.length - 1)])
            .setHops(data.consumeInt(0, 3));
        break;
      default:
        break;
    }
    trace("envelope kind %d, %d-byte payload from %s -> node %d", kind, payload.size(),
        Addresses.toString(from), node);
    deliver(node, from, msg.build().toByteArray());
  }

  private void deliverPending() {
    if (!pending.isEmpty()) {
      deliverPacket(pending.remove(pick(pending.size())));
    }
  }

  /** A datagram a node sent earlier, again: to its destination or to a chosen node. */
  private void replay() {
    if (history.isEmpty()) {
      return;
    }
    Packet packet = history.get(pick(history.size()));
    int node = data.consumeBoolean() ? memberIndex(packet.to()) : pickNode();
    if (node >= 0) {
      trace("replay %s to node %d", packet, node);
      deliver(node, packet.from(), packet.datagram());
    }
  }

  /** A mutated copy of a datagram a node sent earlier, to its destination or a chosen node. */
  private void mutate() {
    if (history.isEmpty()) {
      return;
    }
    Packet packet = history.get(pick(history.size()));
    int node = data.consumeBoolean() ? memberIndex(packet.to()) : pickNode();
    long from = packet.from();
    byte[] datagram = packet.datagram();
    int kind = data.consumeInt(0, MUTATIONS - 1);
    switch (kind) {
      case FLIP_BITS: {
        datagram = datagram.clone();
        int flips = data.consumeInt(1, 4);
        for (int i = 0; i < flips; i++) {
          int bit = pick(datagram.length * 8);
          datagram[bit >> 3] ^= (byte) (1 << (bit & 7));
        }
        break;
      }
      case TRUNCATE:
        datagram = Arrays.copyOf(datagram, pick(datagram.length + 1));
        break;
      case PAYLOAD_BYTES: {
        PeerMsg msg = parsePeerMsg(datagram);
        byte[] payload = msg.getPayload().toByteArray();
        int changes = data.consumeInt(1, 3);
        for (int i = 0; i < changes && payload.length > 0; i++) {
          payload[pick(payload.length)] = (byte) data.consumeInt(0, 255);
        }
        datagram = reseal(msg.toBuilder().setPayload(ByteString.copyFrom(payload)));
        break;
      }
      case PAYLOAD_FIELDS: {
        PeerMsg msg = parsePeerMsg(datagram);
        byte[] payload = ProtoFields.mutate(msg.getPayload().toByteArray(), data);
        if (payload == null) {
          return;
        }
        datagram = reseal(msg.toBuilder().setPayload(ByteString.copyFrom(payload)));
        break;
      }
      case HEADER: {
        PeerMsg.Builder msg = parsePeerMsg(datagram).toBuilder();
        switch (data.consumeInt(0, 5)) {
          case 0:
            msg.setGossip(!msg.getGossip());
            break;
          case 1:
            msg.setReplica(!msg.getReplica());
            break;
          case 2:
            msg.setAdmin(!msg.getAdmin());
            break;
          case 3:
            msg.setClientAddress(pickSender());
            break;
          case 4:
            msg.setHops(data.consumeInt(0, 4));
            break;
          default:
            msg.setMessageID(ByteString.copyFrom(data.consumeBytes(data.consumeInt(0, 17))));
            break;
        }
        datagram = reseal(msg);
        break;
      }
      default:
        from = pickSender();
        break;
    }
    if (node >= 0) {
      trace("mutation %d of %s -> node %d from %s", kind, packet, node,
          Addresses.toString(from));
      deliver(node, from, datagram);
    }
  }

  /** Rounds of: deliver everything queued, in order; advance 10 ms; tick every node. */
  private void runNetwork(int rounds) {
    trace("run %d rounds", rounds);
    for (int r = 0; r < rounds; r++) {
      List<Packet> batch = new ArrayList<>(pending);
      pending.clear();
      for (Packet packet : batch) {
        deliverPacket(packet);
      }
      nowMs += TICK_MS;
      tickAll();
    }
  }

  /** Time jumps with no tick meanwhile (a paused process); then every node or one ticks. */
  private void stall() {
    nowMs += data.consumeInt(0, 6_000);
    if (data.consumeBoolean()) {
      trace("stall, then every node ticks at %d", nowMs);
      tickAll();
    } else {
      int node = pickNode();
      trace("stall, then node %d ticks at %d", node, nowMs);
      tick(node);
    }
  }

  private void admin() {
    int node = pickNode();
    long from = data.consumeBoolean() ? KVCTL : pickSender();
    AdminRequest.Builder request = AdminRequest.newBuilder()
        .setKind(AdminRequest.Kind.forNumber(data.consumeInt(0, 4)));
    if (data.consumeBoolean()) {
      request.setFaults(LinkFaults.newBuilder()
          .setLossPct(data.consumeInt(-5, 105))
          .setDuplicatePct(data.consumeInt(-5, 105))
          .setReorderPct(data.consumeInt(-5, 105))
          .setDelayMs(data.consumeLong(0, 20_000))
          .setJitterMs(data.consumeLong(0, 20_000)));
    }
    int peers = data.consumeInt(0, 3);
    for (int i = 0; i < peers; i++) {
      request.addPeers(SENDERS[data.consumeInt(0, SENDERS.length - 1)]);
    }
    if (data.consumeBoolean()) {
      request.setExpiryMs(data.consumeBoolean() ? data.consumeLong(0, 10_000) : data.consumeLong());
    }
    ByteString id = messageId();
    ByteString payload = request.build().toByteString();
    if (TRACE) {
      trace("admin from %s -> node %d: %s", Addresses.toString(from), node,
          shortText(request.build()));
    }
    deliver(node, from, PeerMsg.newBuilder().setMessageID(id).setPayload(payload)
        .setCheckSum(ClientCodec.checksum(id, payload)).setAdmin(true).build().toByteArray());
  }

  /** The node crashes and restarts empty, with a higher incarnation. */
  private void restart(int i) {
    trace("restart node %d", i);
    checkNode(i);
    incarnations[i] += 1_000_000;
    nodes[i] = newNode(i);
    outboxes[i].shutdown = false;
    delivered[i] = 0;
    tick(i);
  }

  // --- Choices --------------------------------------------------------------------------------

  private int pickNode() {
    return data.consumeInt(0, size - 1);
  }

  private long pickSender() {
    return SENDERS[data.consumeInt(0, SENDERS.length - 1)];
  }

  /** One of {@code n} things whose number depends on the run: 0..65535 modulo n. */
  private int pick(int n) {
    return data.consumeInt(0, 0xFFFF) % n;
  }

  /** A recent messageID (a retry), a fresh 16-byte one, or any 0 to 17 bytes. */
  private ByteString messageId() {
    int mode = data.consumeInt(0, 3);
    if (mode == 0 && !recentIds.isEmpty()) {
      return recentIds.get(pick(recentIds.size()));
    }
    ByteString id;
    if (mode == 3) {
      id = ByteString.copyFrom(data.consumeBytes(data.consumeInt(0, 17)));
    } else {
      id = ByteString.copyFrom(ByteBuffer.allocate(16).putLong(0x6B76_642D_6675_7A7AL)
          .putLong(nextId++).array());
    }
    if (recentIds.size() == RECENT_IDS_MAX) {
      recentIds.remove(0);
    }
    recentIds.add(id);
    return id;
  }

  // --- The network ----------------------------------------------------------------------------

  private void deliverPacket(Packet packet) {
    int node = memberIndex(packet.to());
    if (node >= 0) {
      deliver(node, packet.from(), packet.datagram());
    }
  }

  private void deliver(int node, long from, byte[] datagram) {
    delivered[node]++;
    nodes[node].onDatagram(from, datagram, datagram.length, nowMs, outboxes[node]);
    afterCall(node);
  }

  private void tickAll() {
    for (int i = 0; i < size; i++) {
      tick(i);
    }
  }

  private void tick(int i) {
    nodes[i].onTick(nowMs, outboxes[i]);
    afterCall(i);
  }

  /** A node that asked its host to exit (SHUTDOWN) is restarted, as systemd would. */
  private void afterCall(int i) {
    if (outboxes[i].shutdown) {
      restart(i);
    }
  }

  /** The index of the member at {@code address} in this cluster, or -1. */
  private int memberIndex(long address) {
    for (int i = 0; i < size; i++) {
      if (MEMBERS[i] == address) {
        return i;
      }
    }
    return -1;
  }

  private final class NodeOutbox implements Outbox {
    final int self;
    boolean shutdown;

    NodeOutbox(int self) {
      this.self = self;
    }

    @Override
    public void send(long address, byte[] datagram) {
      boolean adminReply = checkSent(self, address, datagram);
      Packet packet = new Packet(MEMBERS[self], address, datagram);
      if (history.size() == HISTORY_MAX) {
        history.remove(0);
      }
      history.add(packet);
      if (adminReply) {
        // An admin reply goes to the requester, never a member (checkSent).
        adminReplies++;
      } else if (memberIndex(address) >= 0) {
        if (pending.size() == PENDING_MAX) {
          pending.remove(0);
        }
        pending.add(packet);
      } else if (size == 1) {
        clientReplies.add(packet);
      }
    }

    @Override
    public void shutdown() {
      shutdown = true;
    }
  }

  // --- Checks ---------------------------------------------------------------------------------

  /**
   * Every datagram a node sends is a Msg with a valid checksum and, by its kind, a well-formed
   * reply, forward, gossip, replica or admin message, sent where such a message may go. True for
   * an admin reply.
   */
  private boolean checkSent(int node, long to, byte[] datagram) {
    require(datagram.length <= MAX, "node %d sent a %d-byte datagram", node, datagram.length);
    PeerMsg msg;
    try {
      ClientCodec.decodeMsg(datagram, datagram.length, MAX, ID_MAX);
      msg = ClientCodec.decodePeerMsg(datagram, datagram.length, MAX, ID_MAX);
    } catch (DecodeException e) {
      throw new AssertionError(String.format("node %d sent %s a datagram that does not decode: "
          + "%s: %s", node, Addresses.toString(to), e.reason(), e.getMessage()), e);
    }
    int kinds = (msg.getGossip() ? 1 : 0) + (msg.getReplica() ? 1 : 0) + (msg.getAdmin() ? 1 : 0)
        + (msg.hasClientAddress() ? 1 : 0);
    require(kinds <= 1, "node %d sent a datagram of %d kinds at once", node, kinds);
    boolean toMember = memberIndex(to) >= 0;
    boolean toSelf = to == MEMBERS[node];
    try {
      if (msg.getGossip()) {
        Gossip.parseFrom(msg.getPayload());
        // Gossip from strangers or claiming this node's address is dropped, and a PING_REQ
        // naming this node is not relayed: gossip goes to other members only.
        require(toMember && !toSelf, "node %d sent gossip to %s", node, Addresses.toString(to));
      } else if (msg.getReplica()) {
        Replica.parseFrom(msg.getPayload());
        // Replication answers the member a message came from; one claiming this node's own
        // address is dropped.
        require(toMember && !toSelf, "node %d sent a replica message to %s", node,
            Addresses.toString(to));
      } else if (msg.getAdmin()) {
        AdminReply reply = AdminReply.parseFrom(msg.getPayload());
        // A member would take an admin reply for a STATUS request (without a key) and answer in
        // kind: admin requests from members' addresses are dropped, so no reply goes to one.
        require(!toMember, "node %d sent an admin reply to member %s", node,
            Addresses.toString(to));
        require(reply.getErrCode() == 0 || reply.getErrCode() == 1,
            "node %d sent an admin reply with errCode %d", node, reply.getErrCode());
      } else if (msg.hasClientAddress()) {
        require(toMember && !toSelf, "node %d forwarded a request to %s", node,
            Addresses.toString(to));
        require(msg.getHops() >= 1 && msg.getHops() <= Node.HOPS_MAX,
            "node %d forwarded a request with hops %d", node, msg.getHops());
        ClientCodec.decodeRequest(msg.getPayload());
      } else {
        KVResponse reply = KVResponse.parseFrom(msg.getPayload());
        require(reply.getErrCode() >= 0 && reply.getErrCode() < ErrorCode.COUNT,
            "node %d replied errCode %d", node, reply.getErrCode());
        require(reply.getErrCode() != ErrorCode.OVERLOAD || reply.getOverloadWaitTime() > 0,
            "node %d answered OVERLOAD with overloadWaitTime %d", node,
            reply.getOverloadWaitTime());
      }
    } catch (InvalidProtocolBufferException | DecodeException e) {
      throw new AssertionError(String.format("node %d sent %s a PeerMsg%s whose payload does not "
          + "parse: %s", node, Addresses.toString(to), flags(msg), e.getMessage()), e);
    }
    return msg.getAdmin();
  }

  /** What can be checked of a node from outside, after every step. */
  private void checkNode(int i) {
    Node node = nodes[i];
    require(node.store().length() <= node.config().storeLengthMax(),
        "node %d: store holds %d of %d bytes", i, node.store().length(),
        node.config().storeLengthMax());
    ReplyCache replies = node.replyCache();
    require(replies.size() >= 0 && replies.size() <= replies.capacity(),
        "node %d: reply cache holds %d of %d", i, replies.size(), replies.capacity());
    int operations = node.replication().operations();
    require(operations >= 0 && operations <= OPS_MAX, "node %d: %d operations", i, operations);
    require(node.stats().datagramsReceived() == delivered[i],
        "node %d: counted %d datagrams, was given %d", i, node.stats().datagramsReceived(),
        delivered[i]);
    int live = node.membership().liveCount();
    require(live >= 1 && live <= size, "node %d: %d live members of %d", i, live, size);
  }

  /** The node's STATUS agrees with what it is. */
  private void checkStatus(int i) {
    Node node = nodes[i];
    AdminReply status = node.status(nowMs);
    require(status.getErrCode() == 0, "node %d: STATUS errCode %d", i, status.getErrCode());
    require(status.getMembersCount() == size, "node %d: STATUS lists %d members", i,
        status.getMembersCount());
    require(status.getStoreBytes() <= status.getStoreBytesMax(),
        "node %d: STATUS store %d of %d bytes", i, status.getStoreBytes(),
        status.getStoreBytesMax());
    require(status.getStoreKeys() == node.store().size(), "node %d: STATUS keys", i);
    require(status.getReplyCacheEntries() <= status.getReplyCacheCapacity(),
        "node %d: STATUS reply cache %d of %d", i, status.getReplyCacheEntries(),
        status.getReplyCacheCapacity());
  }

  private static void require(boolean condition, String format, Object... args) {
    if (!condition) {
      throw new AssertionError(String.format(format, args));
    }
  }

  // --- Helpers --------------------------------------------------------------------------------

  private static Msg parseMsg(byte[] datagram) {
    try {
      return Msg.parseFrom(datagram);
    } catch (InvalidProtocolBufferException e) {
      throw new AssertionError("a checked datagram does not parse", e);
    }
  }

  /** A datagram a node sent: it was checked, so it parses. */
  private static PeerMsg parsePeerMsg(byte[] datagram) {
    try {
      return PeerMsg.parseFrom(datagram);
    } catch (InvalidProtocolBufferException e) {
      throw new AssertionError("a checked datagram does not parse", e);
    }
  }

  /** The datagram of {@code msg} with its checksum set right. */
  private static byte[] reseal(PeerMsg.Builder msg) {
    return msg.setCheckSum(ClientCodec.checksum(msg.getMessageID(), msg.getPayload())).build()
        .toByteArray();
  }

  private static String flags(PeerMsg msg) {
    return (msg.getGossip() ? " (gossip)" : "") + (msg.getReplica() ? " (replica)" : "")
        + (msg.getAdmin() ? " (admin)" : "") + (msg.hasClientAddress() ? " (forward)" : "");
  }

  private static String shortText(com.google.protobuf.MessageOrBuilder message) {
    String text = com.google.protobuf.TextFormat.printer().emittingSingleLine(true)
        .printToString(message);
    return text.length() > 200 ? text.substring(0, 200) + "..." : text;
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private void trace(String format, Object... args) {
    if (TRACE) {
      System.out.println("step " + step + " at " + nowMs + " ms: " + String.format(format, args));
    }
  }

  @Override
  public String toString() {
    return "cluster of " + size + " at step " + step;
  }
}
