package io.kvd.server;

import io.kvd.client.ServersFile;
import io.kvd.client.KvClient;
import io.kvd.client.RetryPolicy;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * An AppCDS archive of kvd's classes, shared by the members of a local cluster so that each JVM
 * maps the classes instead of loading and verifying them: about a quarter less start-up CPU per
 * member (measured: 20 members on 2 cores in 23 s instead of 30 s). A training run builds it once
 * per jar: one member started with {@code -XX:ArchiveClassesAtExit}, sent a few requests and
 * stopped with SIGTERM, which dumps the classes it loaded. The archive's name carries the jar's
 * size and modification time, so a rebuilt jar gets a new archive; a JVM that cannot use an
 * archive runs without it ({@code -Xshare:auto}, the default).
 */
final class ClassDataSharing {
  /** How long the training run may take, start-up and dump included. */
  private static final long TRAINING_TIMEOUT_S = 60;

  private ClassDataSharing() {}

  /**
   * The archive for the running jar in {@code dir}, built by a training run through {@code
   * launcher} when missing; null (after a warning on {@code err}) when it cannot be had. The
   * training process is handed to {@code started}, so that a stop can end it.
   */
  static Path archive(Path launcher, Path dir, String heap, PrintWriter err,
      Consumer<Process> started) {
    try {
      Path jar = Paths.get(ClassDataSharing.class.getProtectionDomain().getCodeSource()
          .getLocation().toURI());
      if (!Files.isRegularFile(jar)) {
        return null; // Running from classes (an IDE), not the jar: nothing to archive.
      }
      Path archive = dir.resolve(String.format("kvd-%d-%d.jsa", Files.size(jar),
          Files.getLastModifiedTime(jar).toMillis()));
      if (Files.isRegularFile(archive)) {
        return archive;
      }
      deleteOldArchives(dir);
      long startNanos = System.nanoTime();
      if (!train(launcher, dir, heap, archive, started)) {
        err.printf("kvd cluster: could not build a class-data archive (see %s); members start"
            + " without it%n", dir.resolve("cds-training.log"));
        err.flush();
        return null;
      }
      err.printf("kvd cluster: built class-data archive %s in %.1f s%n", archive.getFileName(),
          (System.nanoTime() - startNanos) / 1e9);
      err.flush();
      return archive;
    } catch (IOException | URISyntaxException | RuntimeException e) {
      err.println("kvd cluster: no class-data archive: " + e);
      err.flush();
      return null;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return null;
    }
  }

  private static boolean train(Path launcher, Path dir, String heap, Path archive,
      Consumer<Process> started) throws IOException, InterruptedException {
    int[] ports = freePorts();
    Path servers = dir.resolve("cds-training-servers.txt");
    // Two members, so that the training run loads the membership protocol's classes too.
    Files.writeString(servers, ServersFile.format("kvd cluster: class-data training run",
        ClusterCommand.HOST, List.of(ports[0], ports[1])), StandardCharsets.UTF_8);
    Path partial = dir.resolve(archive.getFileName() + ".partial");
    Files.deleteIfExists(partial);
    ProcessBuilder builder = new ProcessBuilder(launcher.toString(), "--servers-file",
        servers.toString(), "--host", ClusterCommand.HOST, "--port", Integer.toString(ports[0]))
        .redirectErrorStream(true)
        .redirectOutput(dir.resolve("cds-training.log").toFile());
    builder.environment().put("KVD_HEAP", heap);
    builder.environment().put("KVD_JAVA_OPTS", "-XX:ArchiveClassesAtExit=" + partial + " "
        + builder.environment().getOrDefault("KVD_JAVA_OPTS", ""));
    Process process = builder.start();
    started.accept(process);
    try {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(TRAINING_TIMEOUT_S);
      InetSocketAddress node = new InetSocketAddress(ClusterCommand.HOST, ports[0]);
      boolean served = false;
      try (KvClient client = KvClient.open(RetryPolicy.DEFAULT.withRetriesMax(0), 16)) {
        while (!served && process.isAlive() && System.nanoTime() < deadline) {
          served = client.isAlive(node).handle((ok, e) -> e == null).join();
          Thread.sleep(served ? 0 : 50);
        }
        if (served) {
          // The request path's classes: a PUT and a GET of a key either member may own.
          client.put(node, new byte[] {1}, new byte[] {2}, 0).handle((ok, e) -> null).join();
          client.get(node, new byte[] {1}).handle((ok, e) -> null).join();
        }
      }
      process.destroy(); // SIGTERM: the JVM exits normally and dumps the archive.
      long leftNanos = Math.max(0, deadline - System.nanoTime());
      if (!served || !process.waitFor(leftNanos, TimeUnit.NANOSECONDS)
          || !Files.isRegularFile(partial)) {
        return false;
      }
      Files.move(partial, archive, StandardCopyOption.ATOMIC_MOVE);
      return true;
    } finally {
      process.destroyForcibly();
      Files.deleteIfExists(servers);
      Files.deleteIfExists(partial);
    }
  }

  private static void deleteOldArchives(Path dir) throws IOException {
    try (DirectoryStream<Path> old = Files.newDirectoryStream(dir, "kvd-*.jsa")) {
      for (Path path : old) {
        Files.deleteIfExists(path);
      }
    }
  }

  /** Two distinct UDP ports that were free a moment ago on the cluster's host. */
  private static int[] freePorts() throws IOException {
    try (DatagramSocket a = new DatagramSocket(new InetSocketAddress(ClusterCommand.HOST, 0));
        DatagramSocket b = new DatagramSocket(new InetSocketAddress(ClusterCommand.HOST, 0))) {
      return new int[] {a.getLocalPort(), b.getLocalPort()};
    }
  }
}
