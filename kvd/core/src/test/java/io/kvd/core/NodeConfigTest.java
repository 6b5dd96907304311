package io.kvd.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Proves that validate() accepts the defaults and every limit at its edge, refuses each limit just
 * past its edge, and agrees with the components it configures: any reply-cache size it accepts
 * builds a Node whose cache fits in that size. How: one config per limit, built from the defaults.
 */
class NodeConfigTest {
  private static final NodeConfig DEFAULTS = NodeConfig.defaults(1, 1L << 20, 7);

  @Test
  void defaultsAreValidAndDocumented() {
    assertEquals(DEFAULTS, DEFAULTS.validate());
    assertEquals(10_000, DEFAULTS.replyRetentionMs());
    assertEquals(6L << 20, DEFAULTS.replyCacheLengthMax());
    assertEquals(20, DEFAULTS.overloadWaitTimeMsMin());
  }

  @Test
  void withersChangeOnlyTheirField() {
    NodeConfig c = DEFAULTS.withReplyRetentionMs(5).withReplyCacheLengthMax(9_999)
        .withStoreLengthMax(77);
    assertEquals(new NodeConfig(1, 5, 9_999, 77, 7, 20), c);
  }

  @Test
  void refusesEachLimitJustPastItsEdge() {
    long cacheMax = (long) ReplyCache.ENTRIES_MAX * ReplyCache.ENTRY_LENGTH;
    List<NodeConfig> bad = List.of(
        new NodeConfig(-1, 10_000, 1 << 20, 0, 0, 20),
        new NodeConfig(1, 0, 1 << 20, 0, 0, 1),
        new NodeConfig(1, 3_600_001, 1 << 20, 0, 0, 20),
        new NodeConfig(1, 10_000, ReplyCache.LENGTH_MIN - 1, 0, 0, 20),
        new NodeConfig(1, 10_000, cacheMax + 1, 0, 0, 20),
        new NodeConfig(1, 10_000, 1 << 20, -1, 0, 20),
        new NodeConfig(1, 10_000, 1 << 20, 0, 0, 0),
        new NodeConfig(1, 100, 1 << 20, 0, 0, 101));
    for (NodeConfig config : bad) {
      assertThrows(IllegalArgumentException.class, config::validate, config.toString());
      assertThrows(IllegalArgumentException.class, () -> new Node(config), config.toString());
    }
    List<NodeConfig> edges = List.of(
        new NodeConfig(0, 1, ReplyCache.LENGTH_MIN, 0, 0, 1),
        new NodeConfig(1, 3_600_000, ReplyCache.LENGTH_MIN, 0, 0, 3_600_000),
        new NodeConfig(1, 100, ReplyCache.LENGTH_MIN + 1, 0, 0, 100));
    for (NodeConfig config : edges) {
      assertEquals(config, config.validate());
    }
  }

  @Test
  void everyAcceptedReplyCacheSizeBuildsANodeWithinIt() {
    for (long length = ReplyCache.LENGTH_MIN; length < ReplyCache.LENGTH_MIN + 2_000; length++) {
      NodeConfig config = DEFAULTS.withReplyCacheLengthMax(length).validate();
      Node node = new Node(config);
      assertTrue(node.replyCache().length() <= length,
          "a cache of " + node.replyCache().length() + " bytes for a limit of " + length);
      assertTrue(node.replyCache().capacity() >= 16);
    }
  }
}
