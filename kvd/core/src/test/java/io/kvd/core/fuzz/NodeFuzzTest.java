package io.kvd.core.fuzz;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import org.junit.jupiter.api.AfterAll;

/**
 * Fuzzes the node core with message sequences that the fuzzer chooses step by step: a cluster of
 * one to three {@link io.kvd.core.Node}s on a deterministic clock, fed well-formed client and
 * admin requests with fuzzed keys, values, versions and messageIDs, raw fuzzer-made datagrams,
 * fuzzer-made payloads in correctly checksummed internal envelopes, and delivered, dropped,
 * replayed and mutated copies of the datagrams the nodes sent one another (so that gossip,
 * forwarding, replication and repair run), between ticks, stalls and restarts. Proves that no
 * exception escapes a node (its {@link io.kvd.core.Invariants} checks are always on), that every
 * datagram a node sends decodes as a Msg with a valid checksum and, by its kind, as a reply, a
 * forward, a gossip, replica or admin message sent where such a message may go, that a node alone
 * answers every well-formed request at once under its messageID, and that the store stays within
 * its budget, the reply cache within its capacity and the operations within their limit. How: see
 * {@link ClusterHarness}. A crashing input is written to target/fuzz/NodeFuzzTest/crash-*; copied
 * into the inputs directory below, it replays with
 * {@code mvn -B -pl kvd/core test -Dtest=NodeFuzzTest -Dkvd.fuzz.trace=true}, which prints its
 * steps.
 *
 * <p>Found so far. A crash: a replica READ for a key the node does not hold, with a stamp of 2^63
 * or more, throws NullPointerException out of Node.onDatagram (Replication.onRead compares the
 * unsigned stamp signed), which halts a kvd process; one datagram from a member's address does
 * it. Until it is fixed the harness does not deliver such datagrams (counted; see
 * {@code ClusterHarness.knownCrash}; {@code -Dkvd.fuzz.knownCrashes=true} delivers them). By
 * design or not yet fixed, so counted rather than failed (the counts are printed at the end of
 * each run): an admin reply that reaches a member is taken for an admin
 * STATUS request (AdminReply's errCode 0 reads as AdminRequest's kind STATUS, its self as a peer)
 * and answered with another to the sender, so one admin request that claims a member's address
 * as its source sets two members exchanging STATUS replies of about 1.7 KB for as long as none
 * is lost (without a cluster key); the harness therefore keeps admin replies out of the network
 * queue. Membership answers a PING from any address and a PING_REQ naming the node itself, so a
 * node may send gossip to itself and to non-members; a replica message claiming the node's own
 * address as its source is answered to itself.
 *
 * <p>Default run: 10 s of fuzzing in its own JVM (kvd.fuzz.seconds, see kvd/core/pom.xml);
 * seeds (written by {@link SeedCorpus}) in
 * src/test/resources/io/kvd/core/fuzz/NodeFuzzTestInputs/messageSequences/.
 */
class NodeFuzzTest {
  private static final FuzzStats STATS = new FuzzStats("NodeFuzzTest.messageSequences");

  @FuzzTest(maxDuration = "10s")
  void messageSequences(FuzzedDataProvider data) {
    STATS.onExecution();
    new ClusterHarness(data).run();
  }

  @AfterAll
  static void printRate() {
    STATS.print();
    System.out.println("kvd-fuzz NodeFuzzTest.messageSequences: gossip sent to the node itself "
        + ClusterHarness.gossipToSelf + " times, to non-members " + ClusterHarness.gossipToOthers
        + " times; replica messages to itself " + ClusterHarness.replicaToSelf + " times; admin "
        + "replies " + ClusterHarness.adminReplies + ", to members "
        + ClusterHarness.adminRepliesToMembers + "; known crashes not delivered "
        + ClusterHarness.knownCrashesSkipped);
  }
}
