package io.kvd.ctl.command;

import io.kvd.client.KvTimeoutException;
import io.kvd.ctl.Exit;
import io.kvd.ctl.KvctlException;
import io.kvd.ctl.KvctlMain;
import io.kvd.ctl.completion.NodeCandidates;
import io.kvd.ctl.util.Bytes;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.function.Function;
import picocli.CommandLine.Option;

/**
 * The options of the key commands (get, put, remove): how keys and values are written, and which
 * node to ask. A request goes to a random node (as course clients do); when that node does not
 * answer, to another, up to {@link #NODES_TRIED_MAX} nodes.
 */
public final class DataOptions {
  /** Nodes a key request tries before it counts as unreachable. */
  public static final int NODES_TRIED_MAX = 3;

  @Option(names = "--hex", description = "KEY and VALUE are hex, and values are printed in hex.")
  boolean hex;

  @Option(names = "--base64",
      description = "KEY and VALUE are base64, and values are printed in base64.")
  boolean base64;

  @Option(names = "--via", paramLabel = "HOST:PORT", completionCandidates = NodeCandidates.class,
      description = "Send the request to this node (default: a random node of the cluster).")
  String via;

  Bytes encoding() {
    if (hex && base64) {
      throw new KvctlException(Exit.USAGE, "--hex and --base64 exclude each other");
    }
    return hex ? Bytes.HEX : base64 ? Bytes.BASE64 : Bytes.TEXT;
  }

  byte[] decode(String text, String what) {
    try {
      return encoding().decode(text);
    } catch (IllegalArgumentException e) {
      throw new KvctlException(Exit.USAGE, what + " " + e.getMessage());
    }
  }

  /** Runs {@code request} on --via, else on random nodes until one answers. */
  <T> T onSomeNode(KvctlCommand command, Function<InetSocketAddress, CompletableFuture<T>> request,
      String what) {
    List<InetSocketAddress> order;
    if (via != null) {
      order = List.of(KvctlMain.parseNode(via));
    } else {
      order = new ArrayList<>(command.nodes());
      Collections.shuffle(order);
      order = order.subList(0, Math.min(NODES_TRIED_MAX, order.size()));
    }
    KvTimeoutException last = null;
    for (InetSocketAddress node : order) {
      try {
        return request.apply(node).get();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new KvctlException(Exit.LOCAL_ERROR, "cancelled: " + what);
      } catch (ExecutionException e) {
        if (e.getCause() instanceof KvTimeoutException t) {
          last = t;
          continue;
        }
        throw KvctlCommand.failure(e.getCause(), what);
      }
    }
    throw new KvctlException(Exit.UNREACHABLE, what + ": no reply from " + order.size()
        + (order.size() == 1 ? " node" : " nodes") + " (" + last.getMessage() + ")");
  }
}
