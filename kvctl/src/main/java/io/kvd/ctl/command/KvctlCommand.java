package io.kvd.ctl.command;

import com.fasterxml.jackson.core.JsonProcessingException;
import io.kvd.client.KvAuthException;
import io.kvd.client.KvClient;
import io.kvd.client.KvErrorException;
import io.kvd.client.KvTimeoutException;
import io.kvd.core.ErrorCode;
import io.kvd.ctl.Exit;
import io.kvd.ctl.KvctlException;
import io.kvd.ctl.KvctlMain;
import io.kvd.ctl.KvctlMain.Format;
import io.kvd.ctl.Session;
import io.kvd.ctl.util.Table;
import io.kvd.proto.PeerProtocol.AdminReply;
import io.kvd.proto.PeerProtocol.AdminRequest;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * What every kvctl command shares: the session, the nodes, the client, waiting for replies (with
 * failures turned into exit codes) and printing a result in the chosen format. Commands stay
 * thin: parse, call the client, render.
 */
public abstract class KvctlCommand implements Callable<Integer> {
  @Spec
  protected CommandSpec spec;

  protected KvctlMain root() {
    return (KvctlMain) spec.root().userObject();
  }

  protected Session session() {
    return root().session();
  }

  protected List<InetSocketAddress> nodes() {
    return root().nodes();
  }

  protected KvClient client() {
    return root().client();
  }

  protected Format format() {
    return root().format();
  }

  /**
   * Waits for {@code future}; a timeout becomes {@link Exit#UNREACHABLE}, an error reply {@link
   * Exit#SERVER_ERROR}, an interrupt (Ctrl-C in the shell) a cancelled command.
   */
  protected static <T> T await(CompletableFuture<T> future, String what) {
    try {
      return future.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new KvctlException(Exit.LOCAL_ERROR, "cancelled: " + what);
    } catch (ExecutionException | CompletionException e) {
      throw failure(e.getCause() != null ? e.getCause() : e, what);
    }
  }

  static KvctlException failure(Throwable cause, String what) {
    if (cause instanceof KvctlException k) {
      return k;
    }
    if (cause instanceof KvAuthException) {
      return new KvctlException(Exit.AUTH, what + ": " + cause.getMessage()
          + " (--cluster-key-file or " + KvctlMain.KEY_FILE_VARIABLE + ")");
    }
    if (cause instanceof KvTimeoutException) {
      return new KvctlException(Exit.UNREACHABLE, what + ": " + cause.getMessage());
    }
    if (cause instanceof KvErrorException k) {
      return new KvctlException(k.errCode() == ErrorCode.NOT_FOUND ? Exit.NOT_FOUND
          : Exit.SERVER_ERROR, what + ": " + ErrorCode.name(k.errCode()));
    }
    return new KvctlException(Exit.LOCAL_ERROR, what + ": " + cause);
  }

  /**
   * The failure of admin requests that {@code nodes} (HOST:PORT) did not answer, though they
   * answer client requests ({@code first}: the first node's {@link KvAuthException}).
   */
  protected KvctlException authFailure(List<String> nodes, Throwable first) {
    return new KvctlException(Exit.AUTH, "no answer from " + nodes.size() + " node"
        + (nodes.size() == 1 ? "" : "s") + " (" + String.join(", ", nodes.subList(0,
        Math.min(3, nodes.size()))) + (nodes.size() > 3 ? ", ..." : "") + "): wrong or missing"
        + " cluster key? (--cluster-key-file or " + KvctlMain.KEY_FILE_VARIABLE + "; kvctl used "
        + root().keySource() + "). Details: " + first.getMessage());
  }

  /** One node's STATUS; a refused or unanswered request fails the command. */
  protected AdminReply status(InetSocketAddress node) {
    return admin(node, AdminRequest.newBuilder().setKind(AdminRequest.Kind.STATUS).build());
  }

  /** Sends an admin request and waits; a refusal becomes {@link Exit#SERVER_ERROR}. */
  protected AdminReply admin(InetSocketAddress node, AdminRequest request) {
    CompletableFuture<AdminReply> future = client().admin(node, request);
    AdminReply reply = await(future.exceptionally(e -> {
      Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause()
          : e;
      throw cause instanceof KvAuthException ? authFailure(List.of(KvctlMain.name(node)), cause)
          : new CompletionException(cause);
    }), KvctlMain.name(node));
    if (reply.getErrCode() != 0) {
      throw new KvctlException(Exit.SERVER_ERROR, KvctlMain.name(node) + " refused: "
          + reply.getError());
    }
    return reply;
  }

  /** Every node's STATUS, asked in parallel; null for the nodes that did not answer. */
  protected List<AdminReply> statusOfAll(List<InetSocketAddress> nodes) {
    List<CompletableFuture<AdminReply>> futures = new ArrayList<>();
    AdminRequest request = AdminRequest.newBuilder().setKind(AdminRequest.Kind.STATUS).build();
    for (InetSocketAddress node : nodes) {
      futures.add(client().admin(node, request));
    }
    List<AdminReply> replies = new ArrayList<>();
    List<String> unauthenticated = new ArrayList<>();
    Throwable firstAuth = null;
    for (int i = 0; i < futures.size(); i++) {
      try {
        replies.add(futures.get(i).get());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new KvctlException(Exit.LOCAL_ERROR, "cancelled");
      } catch (ExecutionException e) {
        if (e.getCause() instanceof KvAuthException) {
          unauthenticated.add(KvctlMain.name(nodes.get(i)));
          firstAuth = firstAuth == null ? e.getCause() : firstAuth;
        } else if (!(e.getCause() instanceof KvTimeoutException)) {
          throw failure(e.getCause(), "status");
        }
        replies.add(null);
      }
    }
    if (!unauthenticated.isEmpty()) {
      throw authFailure(unauthenticated, firstAuth);
    }
    return replies;
  }

  /**
   * Prints a result: {@code json} as JSON, else the table aligned (terminal) or tab-separated
   * (plain); {@code plain} overrides the plain form when given.
   */
  protected void emit(Object json, Supplier<Table> table, Supplier<String> plain) {
    Session session = session();
    switch (format()) {
      case JSON:
        session.out().println(toJson(json));
        break;
      case PLAIN:
        session.out().print(plain != null ? plain.get() : table.get().plain());
        break;
      default:
        session.out().print(table.get().render());
        break;
    }
    session.out().flush();
  }

  protected String toJson(Object value) {
    try {
      return session().json().writeValueAsString(value);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot render JSON", e);
    }
  }
}
