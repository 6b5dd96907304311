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
 * <p>Found and fixed. A crash: a replica READ for a key the node does not hold, with a stamp of
 * 2^63 or more, threw NullPointerException out of Node.onDatagram (Replication.onRead compared
 * the stamp signed and copied the absent record), which halts a kvd process; one datagram from
 * a member's address did it (seed fixed-crash-read-stamp-2pow63; ReplicaStampTest). Loops: an
 * admin reply that reached a member was taken for an admin STATUS request (AdminReply's errCode
 * 0 reads as AdminRequest's kind STATUS) and answered in kind, so one admin request claiming a
 * member's address set two members trading 1.7 KB replies for as long as none was lost; gossip
 * was answered to any address, PING_REQ naming the node itself was relayed to itself, and a
 * replica message claiming the node's own address was answered to itself. Now the node drops
 * admin requests from members, and gossip and replica messages from anything but another
 * member; the checks in {@link ClusterHarness} fail on any of these sends.
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
    System.out.println("kvd-fuzz NodeFuzzTest.messageSequences: admin replies "
        + ClusterHarness.adminReplies);
  }
}
