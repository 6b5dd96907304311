package io.kvd.core.cluster;

import io.kvd.core.Invariants;

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
 */
public record ClusterConfig(long[] members, long self, int virtualNodesPerMember,
    MembershipConfig membership, long incarnationInitial, long seed) {

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
