package io.kvd.testkit;

import io.kvd.core.Addresses;
import java.io.IOException;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A local cluster for system tests: N real kvd processes ({@link KvdProcess}, each through
 * {@code bin/kvd} at the launcher's -Xmx64m) on free loopback ports, sharing a servers file that
 * is written before any of them starts. The servers file and every member's log live in one
 * directory under {@code target/kvd-logs}. Members start {@link #START_PARALLELISM} at a time
 * (each JVM's start-up is CPU-bound, and this machine has few cores). {@link #close()} kills
 * every member, suspended or not.
 */
public final class KvdCluster implements AutoCloseable {
  /** Members starting at once: a member counts as starting until it answers IS_ALIVE. */
  public static final int START_PARALLELISM = 8;
  private static final Duration MEMBER_START_TIMEOUT = Duration.ofSeconds(60);

  private final List<KvdProcess> members;
  private final Path serversFile;

  private KvdCluster(List<KvdProcess> members, Path serversFile) {
    this.members = members;
    this.serversFile = serversFile;
  }

  /**
   * Starts {@code size} members with {@code environment} (NAME=VALUE) added and {@code
   * memberArgs} given to each, and waits until every one answers IS_ALIVE.
   */
  public static KvdCluster start(int size, List<String> environment, String... memberArgs)
      throws IOException, InterruptedException {
    int[] ports = freeUdpPorts(size);
    Path dir = Paths.get("target", "kvd-logs", "cluster-" + System.nanoTime()).toAbsolutePath();
    Files.createDirectories(dir);
    Path serversFile = dir.resolve("servers.txt");
    StringBuilder text = new StringBuilder("# KvdCluster of " + size + " members\n");
    for (int port : ports) {
      text.append("127.0.0.1:").append(port).append('\n');
    }
    Files.writeString(serversFile, text.toString(), StandardCharsets.UTF_8);
    List<KvdProcess> members = new ArrayList<>();
    KvdCluster cluster = new KvdCluster(members, serversFile);
    try {
      int ready = 0;
      for (int i = 0; i < size; i++) {
        if (i - ready >= START_PARALLELISM) {
          members.get(ready++).awaitAlive(MEMBER_START_TIMEOUT);
        }
        List<String> args = new ArrayList<>(List.of("--servers-file", serversFile.toString(),
            "--host", "127.0.0.1"));
        args.addAll(List.of(memberArgs));
        members.add(KvdProcess.launch(ports[i], dir.resolve("node-" + ports[i] + ".log"),
            environment, args.toArray(new String[0])));
      }
      while (ready < size) {
        members.get(ready++).awaitAlive(MEMBER_START_TIMEOUT);
      }
    } catch (IOException | InterruptedException | RuntimeException e) {
      cluster.close();
      throw e;
    }
    return cluster;
  }

  /** {@code count} distinct UDP ports that were free a moment ago on 127.0.0.1. */
  public static int[] freeUdpPorts(int count) throws IOException {
    List<DatagramSocket> held = new ArrayList<>();
    try {
      int[] ports = new int[count];
      for (int i = 0; i < count; i++) {
        DatagramSocket socket = new DatagramSocket(new InetSocketAddress("127.0.0.1", 0));
        held.add(socket);
        ports[i] = socket.getLocalPort();
      }
      return ports;
    } finally {
      for (DatagramSocket socket : held) {
        socket.close();
      }
    }
  }

  public int size() {
    return members.size();
  }

  public KvdProcess member(int index) {
    return members.get(index);
  }

  public List<KvdProcess> members() {
    return List.copyOf(members);
  }

  public InetSocketAddress address(int index) {
    return members.get(index).address();
  }

  /** Member {@code index}'s address packed as the core packs it (see {@link Addresses}). */
  public long packedAddress(int index) {
    return Addresses.of(new byte[] {127, 0, 0, 1}, members.get(index).address().getPort());
  }

  /** Every member's packed address, in member order. */
  public long[] packedAddresses() {
    long[] addresses = new long[members.size()];
    for (int i = 0; i < addresses.length; i++) {
      addresses[i] = packedAddress(i);
    }
    return addresses;
  }

  public Path serversFile() {
    return serversFile;
  }

  @Override
  public void close() {
    for (KvdProcess member : members) {
      member.close();
    }
  }
}
