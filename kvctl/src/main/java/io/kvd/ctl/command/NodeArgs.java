package io.kvd.ctl.command;

import io.kvd.ctl.KvctlMain;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;

/** Nodes named on a command line, or every node of the cluster when none is. */
final class NodeArgs {
  private NodeArgs() {}

  static List<InetSocketAddress> orAll(List<String> named, KvctlCommand command) {
    if (named == null || named.isEmpty()) {
      return command.nodes();
    }
    List<InetSocketAddress> nodes = new ArrayList<>();
    for (String text : named) {
      nodes.add(KvctlMain.parseNode(text));
    }
    return nodes;
  }
}
