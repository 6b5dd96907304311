package io.kvd.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvd.client.Affinity;
import io.kvd.core.Node;
import io.kvd.core.NodeConfig;
import io.kvd.testkit.KvdProcess;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;

/**
 * Proves that --io-cpu pins the node's event-loop thread, which then still serves, and that a CPU
 * the process may not use is refused without harm to the node. How: an in-process node, its
 * event loop asked for its own allowed CPUs.
 */
@EnabledOnOs(OS.LINUX)
class NettyNodePinTest {
  private static String loopCpus(NettyNode server) throws Exception {
    java.util.concurrent.CompletableFuture<String> cpus = new java.util.concurrent.CompletableFuture<>();
    server.execute(() -> cpus.complete(Affinity.allowedCpus()));
    return cpus.get(5, java.util.concurrent.TimeUnit.SECONDS);
  }

  @Test
  void pinsTheEventLoopAndRefusesACpuOutsideTheAllowedSet() throws Exception {
    Node node = new Node(NodeConfig.defaults(1, 8L << 20, 5));
    try (NettyNode server = NettyNode.start(node, "127.0.0.1", KvdProcess.freeUdpPort())) {
      String all = loopCpus(server);
      String[] numbers = all.split("[-,]");
      int last = Integer.parseInt(numbers[numbers.length - 1].trim());
      server.pinEventLoop(last);
      assertEquals(String.valueOf(last), loopCpus(server));
      assertEquals(all, Affinity.allowedCpus(), "the calling thread is left alone");
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> server.pinEventLoop(last + 1));
      assertTrue(e.getMessage().contains("allowed: " + last), e.getMessage());
      assertEquals(String.valueOf(last), loopCpus(server), "unchanged by the refusal");
      assertTrue(server.status(Duration.ofSeconds(5)).isInitialized(), "the loop still runs");
    }
  }
}
