package io.kvd.ctl.command;

import io.kvd.client.KvAuthException;
import io.kvd.client.KvTimeoutException;
import io.kvd.core.Addresses;
import io.kvd.ctl.Exit;
import io.kvd.ctl.KvctlException;
import io.kvd.ctl.KvctlMain;
import io.kvd.ctl.completion.NodeCandidates;
import io.kvd.ctl.util.Table;
import io.kvd.ctl.util.Units;
import io.kvd.proto.PeerProtocol.AdminReply;
import io.kvd.proto.PeerProtocol.AdminRequest;
import io.kvd.proto.PeerProtocol.LinkFaults;
import io.kvd.proto.PeerProtocol.MemberView;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * Failure injection through kvd's admin requests: faults on what a node sends, and partitions
 * (links blocked in both directions). Every fault expires by itself.
 */
@Command(name = "fault", description = {"Inject failures: faults on the datagrams nodes send"
    + " (loss, duplication, delay, reordering) and partitions between nodes. Every fault expires"
    + " by itself (--expire-s)."},
    subcommands = {FaultCommand.Set.class, FaultCommand.Clear.class, FaultCommand.Partition.class,
        FaultCommand.Heal.class, FaultCommand.ListFaults.class})
public final class FaultCommand extends KvctlCommand {
  /** How long an injected fault lasts by default: 5 minutes. */
  public static final long EXPIRY_S_DEFAULT = 300;

  @Override
  public Integer call() {
    spec.commandLine().usage(session().err());
    return Exit.USAGE;
  }

  static long expiryMs(long expireS) {
    if (expireS < 1 || expireS > 24 * 3600) {
      throw new KvctlException(Exit.USAGE, "--expire-s must be 1 to 86400");
    }
    return expireS * 1000;
  }

  /**
   * Sends {@code requests} to every node (in parallel, each node's in order), reports each node's
   * result, and only then fails: exit 3 when some node did not answer, 4 when one refused. A node
   * that is down does not stop the others from being changed (or healed).
   */
  static void applyToAll(KvctlCommand command, List<InetSocketAddress> nodes, String done,
      AdminRequest... requests) {
    List<Job> jobs = new ArrayList<>();
    for (InetSocketAddress node : nodes) {
      jobs.add(new Job(node, done, List.of(requests)));
    }
    applyToAll(command, jobs);
  }

  /** Admin requests for one node, sent in order, and what to report when they are done. */
  record Job(InetSocketAddress node, String done, List<AdminRequest> requests) {}

  static void applyToAll(KvctlCommand command, List<Job> jobs) {
    List<CompletableFuture<AdminReply>> replies = new ArrayList<>();
    List<InetSocketAddress> nodes = new ArrayList<>();
    for (Job job : jobs) {
      InetSocketAddress node = job.node();
      nodes.add(node);
      CompletableFuture<AdminReply> chain = command.client().admin(node, job.requests().get(0));
      for (AdminRequest next : job.requests().subList(1, job.requests().size())) {
        chain = chain.thenCompose(reply -> reply.getErrCode() != 0
            ? CompletableFuture.completedFuture(reply) : command.client().admin(node, next));
      }
      replies.add(chain);
    }
    Table table = new Table("NODE", "RESULT");
    List<Map<String, Object>> json = new ArrayList<>();
    int unreachable = 0;
    int refused = 0;
    String firstRefusal = null;
    List<String> unauthenticated = new ArrayList<>();
    Throwable firstAuth = null;
    for (int i = 0; i < nodes.size(); i++) {
      String result;
      try {
        AdminReply reply = replies.get(i).get();
        if (reply.getErrCode() != 0) {
          refused++;
          result = "refused: " + reply.getError();
          if (firstRefusal == null) {
            firstRefusal = KvctlMain.name(nodes.get(i)) + " refused: " + reply.getError();
          }
        } else {
          result = jobs.get(i).done();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new KvctlException(Exit.LOCAL_ERROR, "cancelled");
      } catch (ExecutionException e) {
        if (e.getCause() instanceof KvAuthException) {
          unauthenticated.add(KvctlMain.name(nodes.get(i)));
          firstAuth = firstAuth == null ? e.getCause() : firstAuth;
          result = "no answer to admin requests: wrong or missing cluster key?";
        } else if (!(e.getCause() instanceof KvTimeoutException)) {
          throw failure(e.getCause(), KvctlMain.name(nodes.get(i)));
        } else {
          unreachable++;
          result = "unreachable";
        }
      }
      String name = KvctlMain.name(nodes.get(i));
      table.row(name, result);
      Map<String, Object> row = new LinkedHashMap<>();
      row.put("node", name);
      row.put("result", result);
      json.add(row);
    }
    command.emit(json, () -> table, () -> "");
    if (!unauthenticated.isEmpty()) {
      throw command.authFailure(unauthenticated, firstAuth);
    }
    if (refused > 0) {
      throw new KvctlException(Exit.SERVER_ERROR, firstRefusal + (refused > 1 ? " (and "
          + (refused - 1) + " more)" : ""));
    }
    if (unreachable > 0) {
      throw new KvctlException(Exit.UNREACHABLE, unreachable + " of " + nodes.size()
          + " nodes did not answer; the others were changed");
    }
  }

  /** fault set: faults on every datagram the nodes send. */
  @Command(name = "set", description = "Apply faults to every datagram the nodes send (replies,"
      + " forwards, gossip, replication), replacing their current faults.")
  public static final class Set extends KvctlCommand {
    @Parameters(paramLabel = "HOST:PORT", arity = "1..*",
        completionCandidates = NodeCandidates.class, description = "The nodes.")
    List<String> named;

    @Option(names = "--loss-pct", paramLabel = "PCT", description = "Drop this share.")
    double lossPct;

    @Option(names = "--duplicate-pct", paramLabel = "PCT", description = "Send this share twice.")
    double duplicatePct;

    @Option(names = "--reorder-pct", paramLabel = "PCT",
        description = "Hold back this share 1 to 20 ms, so later datagrams overtake them.")
    double reorderPct;

    @Option(names = "--delay-ms", paramLabel = "MS", description = "Delay every datagram.")
    long delayMs;

    @Option(names = "--jitter-ms", paramLabel = "MS", description = "Vary the delay by +- this.")
    long jitterMs;

    @Option(names = "--expire-s", paramLabel = "S",
        description = "Clear the faults after this long (default: " + EXPIRY_S_DEFAULT + ").")
    long expireS = EXPIRY_S_DEFAULT;

    @Override
    public Integer call() {
      if (delayMs < 0 || jitterMs < 0) {
        throw new KvctlException(Exit.USAGE, "--delay-ms and --jitter-ms must be >= 0");
      }
      AdminRequest request = AdminRequest.newBuilder().setKind(AdminRequest.Kind.FAULT_SET)
          .setFaults(LinkFaults.newBuilder().setLossPct(lossPct).setDuplicatePct(duplicatePct)
              .setReorderPct(reorderPct).setDelayMs(delayMs).setJitterMs(jitterMs))
          .setExpiryMs(expiryMs(expireS)).build();
      applyToAll(this, NodeArgs.orAll(named, this), "faults set for "
          + Units.millis(expireS * 1000), request);
      return Exit.OK;
    }
  }

  /** fault clear: no faults and no blocked links. */
  @Command(name = "clear", description = "Clear the faults and partitions of the nodes"
      + " (default: every node of the cluster).")
  public static final class Clear extends KvctlCommand {
    @Parameters(paramLabel = "HOST:PORT", arity = "0..*",
        completionCandidates = NodeCandidates.class, description = "The nodes.")
    List<String> named;

    @Override
    public Integer call() {
      applyToAll(this, NodeArgs.orAll(named, this), "cleared",
          AdminRequest.newBuilder().setKind(AdminRequest.Kind.FAULT_CLEAR).build(),
          AdminRequest.newBuilder().setKind(AdminRequest.Kind.UNBLOCK).build());
      return Exit.OK;
    }
  }

  /** fault partition: blocks the links between two sides. */
  @Command(name = "partition", description = {"Cut the nodes off from the others: every link"
      + " between the two sides drops its traffic both ways (gossip, forwards, replication)."
      + " Clients still reach every node."})
  public static final class Partition extends KvctlCommand {
    @Parameters(paramLabel = "HOST:PORT", arity = "1..*",
        completionCandidates = NodeCandidates.class, description = "One side.")
    List<String> named;

    @Option(names = "--from", paramLabel = "HOST:PORT", split = ",",
        completionCandidates = NodeCandidates.class,
        description = "The other side (default: every other node of the cluster).")
    List<String> from;

    @Option(names = "--expire-s", paramLabel = "S",
        description = "Heal after this long (default: " + EXPIRY_S_DEFAULT + ").")
    long expireS = EXPIRY_S_DEFAULT;

    @Override
    public Integer call() {
      long expiryMs = expiryMs(expireS);
      List<InetSocketAddress> side = NodeArgs.orAll(named, this);
      List<InetSocketAddress> other = new ArrayList<>();
      if (from != null && !from.isEmpty()) {
        other.addAll(NodeArgs.orAll(from, this));
      } else {
        for (InetSocketAddress node : nodes()) {
          if (!side.contains(node)) {
            other.add(node);
          }
        }
      }
      for (InetSocketAddress node : side) {
        if (other.contains(node)) {
          throw new KvctlException(Exit.USAGE, KvctlMain.name(node) + " is on both sides");
        }
      }
      if (other.isEmpty()) {
        throw new KvctlException(Exit.USAGE, "the other side is empty");
      }
      // Both sides in one pass, so that a node that is down does not stop the others' blocks.
      List<Job> jobs = new ArrayList<>();
      for (InetSocketAddress node : side) {
        jobs.add(new Job(node, "cut off from " + other.size() + " nodes for "
            + Units.millis(expiryMs), List.of(block(other, expiryMs))));
      }
      for (InetSocketAddress node : other) {
        jobs.add(new Job(node, "cut off from " + side.size() + " nodes for "
            + Units.millis(expiryMs), List.of(block(side, expiryMs))));
      }
      applyToAll(this, jobs);
      return Exit.OK;
    }

    private static AdminRequest block(List<InetSocketAddress> peers, long expiryMs) {
      AdminRequest.Builder request = AdminRequest.newBuilder()
          .setKind(AdminRequest.Kind.BLOCK).setExpiryMs(expiryMs);
      for (InetSocketAddress peer : peers) {
        request.addPeers(Addresses.of(peer.getAddress().getAddress(), peer.getPort()));
      }
      return request.build();
    }
  }

  /** fault heal: unblocks every link of the nodes. */
  @Command(name = "heal", description = "Heal the partitions of the nodes (default: every node"
      + " of the cluster); their other faults stay.")
  public static final class Heal extends KvctlCommand {
    @Parameters(paramLabel = "HOST:PORT", arity = "0..*",
        completionCandidates = NodeCandidates.class, description = "The nodes.")
    List<String> named;

    @Override
    public Integer call() {
      applyToAll(this, NodeArgs.orAll(named, this), "healed",
          AdminRequest.newBuilder().setKind(AdminRequest.Kind.UNBLOCK).build());
      return Exit.OK;
    }
  }

  /** fault list: what is injected where. */
  @Command(name = "list", description = "Show the faults and blocked links of the nodes"
      + " (default: every node of the cluster).")
  public static final class ListFaults extends KvctlCommand {
    @Parameters(paramLabel = "HOST:PORT", arity = "0..*",
        completionCandidates = NodeCandidates.class, description = "The nodes.")
    List<String> named;

    @Override
    public Integer call() {
      List<InetSocketAddress> nodes = NodeArgs.orAll(named, this);
      List<AdminReply> replies = statusOfAll(nodes);
      Table table = new Table("NODE", "FAULTS", "BLOCKED LINKS");
      List<Map<String, Object>> json = new ArrayList<>();
      for (int i = 0; i < nodes.size(); i++) {
        AdminReply r = replies.get(i);
        String name = KvctlMain.name(nodes.get(i));
        if (r == null) {
          table.row(name, "unreachable", "");
          continue;
        }
        List<String> blocked = new ArrayList<>();
        for (MemberView m : r.getMembersList()) {
          if (m.hasBlockedRemainingMs()) {
            blocked.add(Views.name(m.getAddress()));
          }
        }
        table.row(name, Views.faults(r), blocked.isEmpty() ? "-" : String.join(",", blocked));
        Map<String, Object> row = Views.statusJson(nodes.get(i), r);
        Map<String, Object> one = new LinkedHashMap<>();
        one.put("node", name);
        one.put("faults", row.get("faults"));
        one.put("blocked", blocked);
        json.add(one);
      }
      emit(json, () -> table, null);
      return Exit.OK;
    }
  }
}
