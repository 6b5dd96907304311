package io.kvd.core;

import io.kvd.proto.PeerProtocol.AdminReply;
import io.kvd.proto.PeerProtocol.Counter;
import java.util.OptionalLong;

/** Reading a STATUS {@link AdminReply}, as kvctl, the metrics exporter and tests do. */
public final class AdminReplies {
  private AdminReplies() {
  }

  /** The value of the named counter (such as {@code dropped.bad_tag}), or empty. */
  public static OptionalLong counter(AdminReply reply, String name) {
    for (Counter c : reply.getCountersList()) {
      if (c.getName().equals(name)) {
        return OptionalLong.of(c.getValue());
      }
    }
    return OptionalLong.empty();
  }
}
