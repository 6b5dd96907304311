package io.kvd.core.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvd.core.Addresses;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Proves the ring's balance and movement: with 20 members and the default virtual nodes, no member
 * owns more than 1.15 times the mean share (over many address layouts); when a member leaves or
 * returns, only the keys it owned change owner; every node computes the same ring whatever the
 * order of its member list; replicas are distinct live members, the owner first.
 */
class RingTest {
  private static long[] members(int count, int basePort, int ip) {
    long[] members = new long[count];
    for (int i = 0; i < count; i++) {
      members[i] = Addresses.of(ip, basePort + i);
    }
    return members;
  }

  private static boolean[] allLive(int n) {
    boolean[] live = new boolean[n];
    Arrays.fill(live, true);
    return live;
  }

  @Test
  void replicasWithFewerLiveMembersThanWantedFindThemAll() {
    long[] members = new long[20];
    for (int m = 0; m < members.length; m++) {
      members[m] = Addresses.of(0x7F00_0001, 43_100 + m);
    }
    Ring ring = new Ring(members, 64);
    for (int liveCount = 0; liveCount <= 5; liveCount++) {
      boolean[] live = new boolean[members.length];
      for (int m = 0; m < liveCount; m++) {
        live[3 * m + 1] = true;
      }
      for (long token = -5; token < 5; token++) {
        int[] bounded = new int[4];
        int[] counted = new int[4];
        int n = ring.replicas(token * 0x1234_5678_9ABCL, live, liveCount, bounded);
        assertEquals(Math.min(4, liveCount), n, liveCount + " live");
        assertEquals(n, ring.replicas(token * 0x1234_5678_9ABCL, live, counted));
        assertTrue(Arrays.equals(bounded, counted), "the same members, in the same order");
        for (int i = 0; i < n; i++) {
          assertTrue(live[bounded[i]], "only live members");
        }
      }
    }
  }

  @Test
  void twentyMembersOwnAtMost115TimesTheMeanShare() {
    double worst = 0;
    for (int layout = 0; layout < 30; layout++) {
      long[] members = layout % 2 == 0
          ? members(20, 20_000 + layout * 997, 0x7F00_0001)
          : members(20, 43_100, 0x0A00_0000 + layout * 256);
      Ring ring = new Ring(members, Ring.VIRTUAL_NODES_DEFAULT);
      double[] shares = ring.shares(allLive(20));
      double sum = 0;
      double max = 0;
      for (double s : shares) {
        sum += s;
        max = Math.max(max, s);
      }
      assertEquals(1.0, sum, 1e-9);
      worst = Math.max(worst, max * 20);
    }
    System.out.printf("ring: largest share of 20 members over 30 layouts = %.3f x mean%n", worst);
    assertTrue(worst <= 1.15, "largest share " + worst + " x mean");
  }

  @Test
  void onlyTheKeysOfALeavingOrReturningMemberMove() {
    long[] members = members(20, 43_100, 0x7F00_0001);
    Ring ring = new Ring(members, Ring.VIRTUAL_NODES_DEFAULT);
    boolean[] live = allLive(20);
    SplittableRandom random = new SplittableRandom(42);
    int keys = 20_000;
    long[] tokens = new long[keys];
    int[] before = new int[keys];
    for (int k = 0; k < keys; k++) {
      byte[] key = ("key" + random.nextLong()).getBytes();
      tokens[k] = Ring.keyToken(key, 0, key.length);
      before[k] = ring.owner(tokens[k], live);
    }
    int leaving = 7;
    live[leaving] = false;
    int moved = 0;
    for (int k = 0; k < keys; k++) {
      int after = ring.owner(tokens[k], live);
      if (before[k] == leaving) {
        assertTrue(after != leaving);
        moved++;
      } else {
        assertEquals(before[k], after, "a key of another member moved");
      }
    }
    assertTrue(moved > keys / 40 && moved < keys / 10, moved + " keys moved");
    live[leaving] = true;
    for (int k = 0; k < keys; k++) {
      assertEquals(before[k], ring.owner(tokens[k], live), "the member's keys came back");
    }
  }

  @Test
  void everyNodeComputesTheSameRingWhateverTheListOrder() {
    long[] members = members(10, 43_100, 0x7F00_0001);
    long[] shuffled = members.clone();
    SplittableRandom random = new SplittableRandom(3);
    for (int i = shuffled.length - 1; i > 0; i--) {
      int j = random.nextInt(i + 1);
      long t = shuffled[i];
      shuffled[i] = shuffled[j];
      shuffled[j] = t;
    }
    Ring a = new Ring(members, 64);
    Ring b = new Ring(shuffled, 64);
    boolean[] live = allLive(10);
    for (int k = 0; k < 5_000; k++) {
      long token = random.nextLong();
      assertEquals(a.member(a.owner(token, live)), b.member(b.owner(token, live)));
    }
  }

  @Test
  void replicasAreDistinctLiveMembersOwnerFirst() {
    Ring ring = new Ring(members(6, 43_100, 0x7F00_0001), 16);
    boolean[] live = allLive(6);
    live[2] = false;
    int[] out = new int[4];
    SplittableRandom random = new SplittableRandom(5);
    for (int k = 0; k < 1_000; k++) {
      long token = random.nextLong();
      assertEquals(4, ring.replicas(token, live, out));
      assertEquals(ring.owner(token, live), out[0]);
      assertEquals(4, Arrays.stream(out).distinct().count());
      assertTrue(Arrays.stream(out).noneMatch(m -> m == 2));
    }
    boolean[] none = new boolean[6];
    assertEquals(-1, ring.owner(1, none));
    assertEquals(0, ring.replicas(1, none, out));
  }
}
