package io.kvd.core;

/**
 * A UDP endpoint packed into a {@code long}: the IPv4 address in bits 16..47 and the port in bits
 * 0..15. The core keys its reply cache and (later) its peers by this value, so that the hot path
 * never allocates an address object. kvd speaks IPv4 only, as the course protocol does.
 */
public final class Addresses {
  private Addresses() {}

  public static final int PORT_MAX = 0xFFFF;

  /** Packs an IPv4 address (big-endian int, as in the dotted quad) and a port. */
  public static long of(int ipv4, int port) {
    Invariants.check(port >= 0 && port <= PORT_MAX, "port %d outside 0..%d", port, PORT_MAX);
    return ((ipv4 & 0xFFFF_FFFFL) << 16) | port;
  }

  /** Packs a dotted-quad address such as "127.0.0.1" and a port. */
  public static long of(byte[] ipv4, int port) {
    Invariants.check(ipv4.length == 4, "IPv4 address has %d bytes, expected %d", ipv4.length, 4);
    int ip = ((ipv4[0] & 0xFF) << 24) | ((ipv4[1] & 0xFF) << 16) | ((ipv4[2] & 0xFF) << 8)
        | (ipv4[3] & 0xFF);
    return of(ip, port);
  }

  public static int ipv4(long address) {
    return (int) (address >>> 16);
  }

  public static int port(long address) {
    return (int) (address & PORT_MAX);
  }

  /** The four address bytes, most significant first. */
  public static byte[] ipv4Bytes(long address) {
    int ip = ipv4(address);
    return new byte[] {(byte) (ip >>> 24), (byte) (ip >>> 16), (byte) (ip >>> 8), (byte) ip};
  }

  /** "a.b.c.d:port", for logs. */
  public static String toString(long address) {
    int ip = ipv4(address);
    return ((ip >>> 24) & 0xFF) + "." + ((ip >>> 16) & 0xFF) + "." + ((ip >>> 8) & 0xFF) + "."
        + (ip & 0xFF) + ":" + port(address);
  }
}
