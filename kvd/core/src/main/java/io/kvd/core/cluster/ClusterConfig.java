package io.kvd.core.cluster;

import io.kvd.core.Invariants;
import io.kvd.core.replication.ReplicationConfig;

/**
 * The cluster a node belongs to.
 *
 * @param members every member's address (the servers file), this node's included
 * @param self this node's address
 * @param virtualNodesPerMember ring tokens per member (see {@link Ring#VIRTUAL_NODES_DEFAULT})
 * @param membership SWIM timings
 * @param incarnationInitial this node's first incarnation; the host derives it from wall-clock
 *     seconds so that a restarted node's incarnation exceeds any it had before
 * @param seed seeds probe order and helper choice
 * @param replication replication factor, timers and repair limits
 */
public record ClusterConfig(long[] members, long self, int virtualNodesPerMember,
    MembershipConfig membership, long incarnationInitial, long seed,
    ReplicationConfig replication) {

  public ClusterConfig(long[] members, long self, int virtualNodesPerMember,
      MembershipConfig membership, long incarnationInitial, long seed) {
    this(members, self, virtualNodesPerMember, membership, incarnationInitial, seed,
        ReplicationConfig.DEFAULT);
  }

  public ClusterConfig withReplication(ReplicationConfig value) {
    return new ClusterConfig(members, self, virtualNodesPerMember, membership,
        incarnationInitial, seed, value);
  }

  /** A cluster of one: the node owns every key and counts one member. */
  public static ClusterConfig alone(long self) {
    return new ClusterConfig(new long[] {self}, self, 1, MembershipConfig.DEFAULT, 0, 0);
  }

  public ClusterConfig {
    members = members.clone();
    boolean found = false;
    for (long m : members) {
      found |= m == self;
    }
    Invariants.check(found, "self %d is not one of the %d members", self, members.length);
  }
}
