package io.kvd.ctl.completion;

import io.kvd.ctl.Sessions;
import java.util.Iterator;

/** Completes keys: those used in this session (at most Session.KEYS_SEEN_MAX, newest kept). */
public final class KeyCandidates implements Iterable<String> {
  @Override
  public Iterator<String> iterator() {
    return Sessions.keysSeen().iterator();
  }
}
