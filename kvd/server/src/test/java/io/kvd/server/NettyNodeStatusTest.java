package io.kvd.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvd.core.Node;
import io.kvd.core.NodeConfig;
import io.kvd.testkit.KvdProcess;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;

/**
 * Proves that other threads (the metrics endpoint's) get the node's STATUS snapshot from the
 * node's own event loop: while the loop is busy the snapshot waits and, past its timeout, fails
 * rather than read the node from the asking thread; once the loop is free it is answered.
 */
class NettyNodeStatusTest {
  @Test
  void aSnapshotWaitsForTheEventLoopAndTimesOutWhenItIsBusy() throws Exception {
    Node node = new Node(NodeConfig.defaults(1, 8L << 20, 5));
    try (NettyNode server = NettyNode.start(node, "127.0.0.1", KvdProcess.freeUdpPort())) {
      CountDownLatch release = new CountDownLatch(1);
      CountDownLatch blocked = new CountDownLatch(1);
      // Occupy the node's event loop: the snapshot task must queue behind this one.
      server.execute(() -> {
        blocked.countDown();
        try {
          release.await(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      });
      assertTrue(blocked.await(5, TimeUnit.SECONDS));
      assertThrows(TimeoutException.class, () -> server.status(Duration.ofMillis(200)));
      release.countDown();
      assertEquals(0, server.status(Duration.ofSeconds(5)).getErrCode());
    }
  }

}
