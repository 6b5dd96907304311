package io.kvd.ctl;

import io.kvd.core.Addresses;
import io.kvd.core.Node;
import io.kvd.core.NodeConfig;
import io.kvd.core.auth.ClusterKey;
import io.kvd.core.cluster.ClusterConfig;
import io.kvd.core.cluster.MembershipConfig;
import io.kvd.server.NettyNode;
import io.kvd.testkit.KvdCluster;
import java.util.ArrayList;
import java.util.List;

/**
 * The members of one cluster in this JVM, for kvctl's tests: the real core behind the real Netty
 * shell on loopback, 64 virtual nodes each, member i with pid {@code pidBase + i}.
 */
final class InProcessCluster implements AutoCloseable {
  final long[] addresses;
  /** Each member as kvctl names it, HOST:PORT, in ring order of the servers list. */
  final List<String> names = new ArrayList<>();
  private final List<NettyNode> servers = new ArrayList<>();

  private InProcessCluster(int size) {
    addresses = new long[size];
  }

  /**
   * Starts {@code size} members with node seeds {@code nodeSeedBase + i} and membership seeds
   * {@code clusterSeedBase + i}, each with {@code key} (null: none).
   */
  static InProcessCluster start(int size, int pidBase, long nodeSeedBase, long clusterSeedBase,
      ClusterKey key) throws Exception {
    InProcessCluster cluster = new InProcessCluster(size);
    int[] ports = KvdCluster.freeUdpPorts(size);
    for (int i = 0; i < size; i++) {
      cluster.addresses[i] = Addresses.of(0x7F00_0001, ports[i]);
      cluster.names.add("127.0.0.1:" + ports[i]);
    }
    for (int i = 0; i < size; i++) {
      Node node = new Node(NodeConfig.defaults(pidBase + i, 8L << 20, nodeSeedBase + i),
          new ClusterConfig(cluster.addresses, cluster.addresses[i], 64,
              MembershipConfig.DEFAULT, 1, clusterSeedBase + i));
      node.setClusterKey(key);
      cluster.servers.add(NettyNode.start(node, "127.0.0.1", ports[i]));
    }
    return cluster;
  }

  /** The members separated by commas, as KVCTL_SERVERS takes them. */
  String nodeList() {
    return String.join(",", names);
  }

  @Override
  public void close() {
    for (NettyNode server : servers) {
      server.close();
    }
  }
}
