package io.kvd.ctl;

import java.util.List;

/**
 * The running session for picocli's completion candidates, which picocli instantiates itself and
 * so cannot be handed the session. Empty outside a session (as when completion scripts are
 * generated, which must not depend on one).
 */
public final class Sessions {
  private Sessions() {}

  public static List<String> nodesSeen() {
    Session session = Session.current();
    return session == null ? List.of() : session.nodesSeen();
  }

  public static List<String> keysSeen() {
    Session session = Session.current();
    return session == null ? List.of() : session.keysSeen();
  }
}
