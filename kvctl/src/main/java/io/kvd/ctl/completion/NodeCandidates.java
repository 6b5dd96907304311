package io.kvd.ctl.completion;

import io.kvd.ctl.Sessions;
import java.util.Iterator;

/** Completes node addresses: those of the cluster this session talks to. */
public final class NodeCandidates implements Iterable<String> {
  @Override
  public Iterator<String> iterator() {
    return Sessions.nodesSeen().iterator();
  }
}
