package io.kvd.server;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kvd.client.KvClient;
import io.kvd.core.AdminReplies;
import io.kvd.core.Command;
import io.kvd.core.ErrorCode;
import io.kvd.proto.ClientProtocol.KVRequest;
import io.kvd.proto.ClientProtocol.KVResponse;
import io.kvd.proto.PeerProtocol.AdminReply;
import io.kvd.proto.PeerProtocol.AdminRequest;
import io.kvd.testkit.KvdProcess;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Proves {@code --client-admin off} on a real bin/kvd process: SHUTDOWN and WIPEOUT over the
 * client protocol are answered UNRECOGNIZED_COMMAND and counted, the process stays up and keeps
 * its data, and every other course command (PUT, GET, REMOVE, IS_ALIVE, GET_PID,
 * GET_MEMBERSHIP_COUNT) works; the start-up log says so. With the default (open), SHUTDOWN still
 * ends the process with status 0.
 */
@Timeout(60)
class ClientAdminIT {
  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static long counter(AdminReply status, String name) {
    return AdminReplies.counter(status, name).orElseThrow(() -> new AssertionError("no counter " + name));
  }

  @Test
  void offRefusesShutdownAndWipeoutAndKeepsEverythingElse() throws Exception {
    try (KvdProcess kvd = KvdProcess.start("--client-admin", "off");
        KvClient client = KvClient.open()) {
      InetSocketAddress node = kvd.address();
      assertTrue(kvd.logText().contains("client admin off"), kvd.logText());
      client.put(node, bytes("kept"), bytes("value"), 7).join();

      KVResponse shutdown = client.request(node,
          KVRequest.newBuilder().setCommand(Command.SHUTDOWN).build()).join();
      assertEquals(ErrorCode.UNRECOGNIZED_COMMAND, shutdown.getErrCode());
      assertFalse(client.shutdown(node).join(), "KvClient.shutdown sees no acknowledgement");
      KVResponse wipeout = client.request(node,
          KVRequest.newBuilder().setCommand(Command.WIPEOUT).build()).join();
      assertEquals(ErrorCode.UNRECOGNIZED_COMMAND, wipeout.getErrCode());

      assertEquals(-1, kvd.awaitExit(Duration.ofMillis(500)), "the node is still running");
      client.isAlive(node).join();
      var kept = client.get(node, bytes("kept")).join();
      assertTrue(kept.isPresent(), "the data survived WIPEOUT");
      assertArrayEquals(bytes("value"), kept.get().value());
      assertEquals(7, kept.get().version());
      assertEquals(kvd.pid(), (long) client.pid(node).join());
      assertEquals(1, (int) client.membershipCount(node).join());
      client.put(node, bytes("other"), bytes("x"), 0).join();
      assertTrue(client.remove(node, bytes("other")).join());
      assertTrue(client.get(node, bytes("other")).join().isEmpty());

      AdminReply status = client.admin(node,
          AdminRequest.newBuilder().setKind(AdminRequest.Kind.STATUS).build()).join();
      assertEquals(3, counter(status, "clientAdmin.refused"));
      assertEquals(1, status.getStoreKeys());
      assertTrue(kvd.process().isAlive());
    }
  }

  @Test
  void openByDefaultSoShutdownStillEndsTheProcess() throws Exception {
    try (KvdProcess kvd = KvdProcess.start(); KvClient client = KvClient.open()) {
      assertTrue(kvd.logText().contains("client admin open"), kvd.logText());
      client.shutdown(kvd.address()).join();
      assertEquals(0, kvd.awaitExit(Duration.ofSeconds(10)));
    }
  }
}
