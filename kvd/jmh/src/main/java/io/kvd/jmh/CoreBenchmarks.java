package io.kvd.jmh;

import com.google.protobuf.ByteString;
import io.kvd.core.Addresses;
import io.kvd.core.Command;
import io.kvd.core.Node;
import io.kvd.core.NodeConfig;
import io.kvd.core.Outbox;
import io.kvd.core.cluster.Ring;
import io.kvd.core.codec.ClientCodec;
import io.kvd.core.store.Store;
import io.kvd.proto.ClientProtocol.KVRequest;
import io.kvd.proto.ClientProtocol.KVResponse;
import io.kvd.proto.ClientProtocol.Msg;
import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * The node's hot paths, each per operation: the codec (encode a GET, decode it, encode a reply
 * with a value), the store (get and put of 10,000 keys), the ring (a key's token and owner among
 * 20 members of 1,024 virtual nodes), and a whole GET through a node alone (decode, look up,
 * encode the reply; the outbox only consumes it). Values of 100 and 10,000 bytes.
 *
 * <pre>java -jar kvd/jmh/target/kvd-jmh.jar -f 1 -wi 3 -i 5</pre>
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgs = {"-Xmx1g", "-XX:+UseG1GC"})
public class CoreBenchmarks {
  private static final int KEYS = 10_000;

  /** Keys, a value and a cursor over the keys. */
  @State(Scope.Thread)
  public static class Data {
    @Param({"100", "10000"})
    int valueLength;

    byte[][] keys;
    byte[] value;
    ByteString id;
    int next;

    @Setup(Level.Trial)
    public void setUp() {
      SplittableRandom random = new SplittableRandom(431);
      keys = new byte[KEYS][];
      for (int i = 0; i < KEYS; i++) {
        keys[i] = ("k" + i).getBytes(StandardCharsets.US_ASCII);
      }
      value = new byte[valueLength];
      random.nextBytes(value);
      byte[] idBytes = new byte[16];
      random.nextBytes(idBytes);
      id = ByteString.copyFrom(idBytes);
    }

    byte[] nextKey() {
      next = next + 1 == KEYS ? 0 : next + 1;
      return keys[next];
    }
  }

  /** Datagrams and a reply, encoded once. */
  @State(Scope.Thread)
  public static class Codec {
    byte[] getDatagram;
    KVResponse reply;

    @Setup(Level.Trial)
    public void setUp(Data data) {
      getDatagram = ClientCodec.encodeRequest(data.id, KVRequest.newBuilder()
          .setCommand(Command.GET).setKey(ByteString.copyFrom(data.keys[7])).build());
      reply = KVResponse.newBuilder().setErrCode(0).setValue(ByteString.copyFrom(data.value))
          .setVersion(1).build();
    }
  }

  /** A store holding every key. */
  @State(Scope.Thread)
  public static class Stored {
    Store store;

    @Setup(Level.Trial)
    public void setUp(Data data) {
      store = new Store(5);
      for (int i = 0; i < KEYS; i++) {
        store.put(data.keys[i], data.value, 0, data.value.length, 1, i + 1L);
      }
    }
  }

  /** A ring of 20 members with kvd's virtual nodes, all live. */
  @State(Scope.Benchmark)
  public static class Ringed {
    Ring ring;
    boolean[] live;

    @Setup(Level.Trial)
    public void setUp() {
      long[] members = new long[20];
      for (int i = 0; i < members.length; i++) {
        members[i] = Addresses.of(0x7F00_0001, 43_100 + i);
      }
      ring = new Ring(members, Ring.VIRTUAL_NODES_DEFAULT);
      live = new boolean[members.length];
      java.util.Arrays.fill(live, true);
    }
  }

  /** A node alone holding every key, and an outbox that only consumes. */
  @State(Scope.Thread)
  public static class Alone {
    Node node;
    Outbox outbox;

    @Setup(Level.Trial)
    public void setUp(Data data, Blackhole sink) {
      outbox = new Outbox() {
        @Override
        public void send(long address, byte[] datagram) {
          sink.consume(datagram);
        }

        @Override
        public void shutdown() {
        }
      };
      node = new Node(NodeConfig.defaults(1, 256L << 20, 9));
      for (int i = 0; i < KEYS; i++) {
        byte[] put = ClientCodec.encodeRequest(ByteString.copyFromUtf8("put" + i),
            KVRequest.newBuilder().setCommand(Command.PUT)
                .setKey(ByteString.copyFrom(data.keys[i]))
                .setValue(ByteString.copyFrom(data.value)).build());
        node.onDatagram(Addresses.of(0x7F00_0001, 50_000), put, put.length, 1_000, outbox);
      }
    }
  }

  @Benchmark
  public byte[] codecEncodeGet(Data data) {
    return ClientCodec.encodeRequest(data.id, KVRequest.newBuilder().setCommand(Command.GET)
        .setKey(ByteString.copyFrom(data.nextKey())).build());
  }

  @Benchmark
  public KVRequest codecDecodeGet(Codec codec) throws Exception {
    Msg msg = ClientCodec.decodeMsg(codec.getDatagram, codec.getDatagram.length,
        NodeConfig.DATAGRAM_LENGTH_MAX, NodeConfig.MESSAGE_ID_LENGTH_MAX);
    return ClientCodec.decodeRequest(msg);
  }

  @Benchmark
  public byte[] codecEncodeReplyWithValue(Data data, Codec codec) {
    return ClientCodec.encodeReply(data.id, codec.reply);
  }

  @Benchmark
  public byte[] storeGet(Data data, Stored stored) {
    return stored.store.get(data.nextKey());
  }

  @Benchmark
  public void storePut(Data data, Stored stored) {
    byte[] key = data.nextKey();
    stored.store.put(key, data.value, 0, data.value.length, 2, data.next + 2L);
  }

  @Benchmark
  public int ringOwner(Data data, Ringed ringed) {
    byte[] key = data.nextKey();
    return ringed.ring.owner(Ring.keyToken(key, 0, key.length), ringed.live);
  }

  /** A whole GET through a node alone: what one request costs the node's thread. */
  @Benchmark
  public void nodeGet(Data data, Codec codec, Alone alone) {
    alone.node.onDatagram(Addresses.of(0x7F00_0001, 50_001), codec.getDatagram,
        codec.getDatagram.length, 2_000, alone.outbox);
  }
}
