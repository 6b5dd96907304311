package io.kvd.client;

import io.kvd.core.Addresses;
import io.kvd.core.cluster.Ring;
import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The servers file: the static member list that bootstraps a cluster, in the format existing
 * clients read. One {@code host:port} per line; blank lines and everything from {@code #} to the
 * end of a line are ignored; a host is a dotted quad or a name resolved to its first IPv4 address.
 * At most {@link Ring#MEMBERS_MAX} members and {@link #LENGTH_MAX} bytes.
 */
public final class ServersFile {
  /** Bytes of a servers file at most: 1 MiB, room for the member limit with long host names. */
  public static final long LENGTH_MAX = 1L << 20;

  private ServersFile() {}

  /**
   * One member: {@code host} and {@code port} as written on line {@code line}, and the resolved
   * {@code address} (see {@link Addresses}).
   */
  public record Member(String host, int port, long address, int line) {
    /** The resolved address as a socket address. */
    public InetSocketAddress socketAddress() {
      try {
        return new InetSocketAddress(InetAddress.getByAddress(Addresses.ipv4Bytes(address)),
            port);
      } catch (UnknownHostException e) {
        throw new IllegalStateException("four bytes are an IPv4 address", e);
      }
    }

    @Override
    public String toString() {
      return Addresses.toString(address());
    }
  }

  /** Resolves a host name to its IPv4 address; tests replace DNS with a table. */
  public interface Resolver {
    byte[] ipv4(String host) throws UnknownHostException;
  }

  /** Resolution through the system's resolver: the first IPv4 address of the name. */
  public static final Resolver SYSTEM = host -> {
    for (InetAddress address : InetAddress.getAllByName(host)) {
      if (address instanceof Inet4Address) {
        return address.getAddress();
      }
    }
    throw new UnknownHostException(host + " has no IPv4 address (kvd speaks IPv4 only)");
  };

  /** Reads and parses {@code file}; throws IllegalArgumentException with the line at fault. */
  public static List<Member> read(Path file, Resolver resolver) throws IOException {
    long length = Files.size(file);
    if (length > LENGTH_MAX) {
      throw new IllegalArgumentException(file + " has " + length + " bytes; a servers file has at"
          + " most " + LENGTH_MAX);
    }
    return parse(Files.readString(file, StandardCharsets.UTF_8), file.toString(), resolver);
  }

  /** Parses the text of a servers file named {@code source} (for messages). */
  public static List<Member> parse(String text, String source, Resolver resolver) {
    List<Member> members = new ArrayList<>();
    Map<Long, Integer> lineOf = new HashMap<>();
    String[] lines = text.split("\r?\n", -1);
    for (int i = 0; i < lines.length; i++) {
      int lineNumber = i + 1;
      String line = lines[i];
      int hash = line.indexOf('#');
      if (hash >= 0) {
        line = line.substring(0, hash);
      }
      line = line.strip();
      if (line.isEmpty()) {
        continue;
      }
      String where = source + ":" + lineNumber + ": ";
      int colon = line.lastIndexOf(':');
      if (colon <= 0 || colon == line.length() - 1) {
        throw new IllegalArgumentException(where + "expected host:port, got '" + line + "'");
      }
      String host = line.substring(0, colon).strip();
      int port;
      try {
        port = Integer.parseInt(line.substring(colon + 1).strip());
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(where + "port is not a number in '" + line + "'");
      }
      if (port < 1 || port > Addresses.PORT_MAX) {
        throw new IllegalArgumentException(where + "port " + port + " outside 1.."
            + Addresses.PORT_MAX);
      }
      byte[] ipv4;
      try {
        ipv4 = resolver.ipv4(host);
      } catch (UnknownHostException e) {
        throw new IllegalArgumentException(where + "cannot resolve '" + host + "' to IPv4: "
            + e.getMessage());
      }
      if (members.size() == Ring.MEMBERS_MAX) {
        throw new IllegalArgumentException(where + "more than " + Ring.MEMBERS_MAX + " members");
      }
      Member member = new Member(host, port, Addresses.of(ipv4, port), lineNumber);
      Integer previous = lineOf.putIfAbsent(member.address(), lineNumber);
      if (previous != null) {
        throw new IllegalArgumentException(where + member + " is listed twice (also on line "
            + previous + ")");
      }
      members.add(member);
    }
    if (members.isEmpty()) {
      throw new IllegalArgumentException(source + ": no members (one host:port per line)");
    }
    return members;
  }

  /** The packed addresses of {@code members}, in file order. */
  public static long[] addresses(List<Member> members) {
    long[] addresses = new long[members.size()];
    for (int i = 0; i < addresses.length; i++) {
      addresses[i] = members.get(i).address();
    }
    return addresses;
  }

  /** A servers file listing {@code host:port} for each port, after a comment line. */
  public static String format(String comment, String host, List<Integer> ports) {
    StringBuilder text = new StringBuilder();
    text.append("# ").append(comment).append('\n');
    for (int port : ports) {
      text.append(host).append(':').append(port).append('\n');
    }
    return text.toString();
  }
}
