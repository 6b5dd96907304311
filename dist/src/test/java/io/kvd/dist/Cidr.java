package io.kvd.dist;

/** IPv4 CIDR arithmetic as terraform's cidrhost() does it. */
final class Cidr {
  private Cidr() {}

  /**
   * cidrhost(prefix, hostnum): the address hostnum steps from the network's base address (the
   * prefix with its host bits cleared); a negative hostnum counts back from the end (-1 is the
   * last address). Fails like terraform when the prefix is not an IPv4 CIDR block or the number
   * does not fit in it.
   */
  static String host(String prefix, long hostnum) {
    String[] parts = prefix.split("/", -1);
    if (parts.length != 2 || !parts[1].matches("[0-9]{1,2}")) {
      throw new HclExpression.EvalException("invalid CIDR address: " + prefix);
    }
    int length = Integer.parseInt(parts[1]);
    if (length > 32) {
      throw new HclExpression.EvalException("invalid CIDR prefix length: " + prefix);
    }
    long base = parse(parts[0], prefix) & mask(length);
    long size = 1L << (32 - length);
    long offset = hostnum < 0 ? size + hostnum : hostnum;
    if (offset < 0 || offset >= size) {
      throw new HclExpression.EvalException(
          "prefix of " + length + " bits cannot accommodate host number " + hostnum);
    }
    return format(base + offset);
  }

  private static long mask(int length) {
    return length == 0 ? 0 : (0xFFFFFFFFL << (32 - length)) & 0xFFFFFFFFL;
  }

  private static long parse(String address, String prefix) {
    String[] octets = address.split("\\.", -1);
    if (octets.length != 4) {
      throw new HclExpression.EvalException("invalid CIDR address: " + prefix);
    }
    long value = 0;
    for (String octet : octets) {
      if (!octet.matches("0|[1-9][0-9]{0,2}") || Integer.parseInt(octet) > 255) {
        throw new HclExpression.EvalException("invalid CIDR address: " + prefix);
      }
      value = (value << 8) | Integer.parseInt(octet);
    }
    return value;
  }

  private static String format(long address) {
    return ((address >> 24) & 255) + "." + ((address >> 16) & 255) + "." + ((address >> 8) & 255)
        + "." + (address & 255);
  }
}
