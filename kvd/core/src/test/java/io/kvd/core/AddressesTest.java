package io.kvd.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Proves that packing an IPv4 endpoint into a long is lossless and collision-free: address and
 * port come back unchanged for the extreme values (high bit set, port 0 and 65,535), distinct
 * endpoints pack to distinct longs, and ports outside 0..65,535 are refused. How: the extremes by
 * hand, then a seeded sweep (replayable with -Dkvd.seed=N).
 */
class AddressesTest {
  @Test
  void extremesRoundTrip() {
    long a = Addresses.of(new byte[] {(byte) 255, (byte) 255, (byte) 255, (byte) 255}, 65_535);
    assertEquals(0xFFFF_FFFF, Addresses.ipv4(a));
    assertEquals(65_535, Addresses.port(a));
    assertEquals("255.255.255.255:65535", Addresses.toString(a));
    long b = Addresses.of(new byte[] {127, 0, 0, 1}, 0);
    assertEquals("127.0.0.1:0", Addresses.toString(b));
    assertArrayEquals(new byte[] {127, 0, 0, 1}, Addresses.ipv4Bytes(b));
    assertEquals(Addresses.of(0x7F00_0001, 43_100),
        Addresses.of(new byte[] {127, 0, 0, 1}, 43_100));
    // A high-bit address must not spill into the port, nor a port into the address.
    assertNotEquals(Addresses.of(0x8000_0000, 1), Addresses.of(0, 1));
    assertNotEquals(Addresses.of(1, 0), Addresses.of(0, 1));
  }

  @Test
  void refusesPortsOutOfRangeAndAddressesOfOtherLengths() {
    assertThrows(IllegalStateException.class, () -> Addresses.of(0, 65_536));
    assertThrows(IllegalStateException.class, () -> Addresses.of(0, -1));
    assertThrows(IllegalStateException.class, () -> Addresses.of(new byte[16], 1));
  }

  @Test
  void randomEndpointsRoundTrip() {
    long seed = TestSeeds.seed("AddressesTest.randomEndpointsRoundTrip");
    SplittableRandom random = new SplittableRandom(seed);
    for (int i = 0; i < 10_000; i++) {
      byte[] ip = new byte[4];
      random.nextBytes(ip);
      int port = random.nextInt(65_536);
      long address = Addresses.of(ip, port);
      String context = TestSeeds.describe(seed) + ", i=" + i;
      assertArrayEquals(ip, Addresses.ipv4Bytes(address), context);
      assertEquals(port, Addresses.port(address), context);
      assertEquals(address, Addresses.of(Addresses.ipv4(address), Addresses.port(address)),
          context);
      assertEquals((ip[0] & 0xFF) + "." + (ip[1] & 0xFF) + "." + (ip[2] & 0xFF) + "."
          + (ip[3] & 0xFF) + ":" + port, Addresses.toString(address), context);
    }
  }
}
