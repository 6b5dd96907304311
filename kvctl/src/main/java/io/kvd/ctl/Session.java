package io.kvd.ctl;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.kvd.client.KvClient;
import io.kvd.client.RetryPolicy;
import io.kvd.core.auth.ClusterKey;
import java.io.InputStream;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import org.jline.terminal.Terminal;

/**
 * What lives as long as one kvctl process (or one in-process test run): its streams, whether
 * stdout is a terminal, the environment, the UDP client, and what the shell completes (the nodes
 * and the keys used in this session). Commands reach it through {@link KvctlMain}.
 */
public final class Session implements AutoCloseable {
  /** Keys remembered for completion in the shell, at most; the oldest go first. */
  public static final int KEYS_SEEN_MAX = 1_000;
  /** Requests in flight from kvctl at most (top and stats fan out to every node). */
  static final int INFLIGHT_MAX = 4_096;

  /** The session of the running process, for completion candidates (picocli creates those). */
  private static volatile Session current;

  final PrintStream out;
  final PrintStream err;
  final InputStream in;
  final boolean terminal;
  final Map<String, String> env;
  final ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
  private final LinkedHashSet<String> keysSeen = new LinkedHashSet<>();
  private volatile List<String> nodesSeen = List.of();
  private KvClient client;
  private RetryPolicy clientPolicy;
  private ClusterKey clientKey;
  /** The shell's terminal while the shell runs (top draws on it); null otherwise. */
  Terminal shellTerminal;
  /** Set by the shell: asks the user a yes/no question; null outside the shell. */
  Confirmer confirmer;

  /** Asks the user to confirm; true when they said yes. */
  public interface Confirmer {
    boolean confirm(String question);
  }

  public Session(PrintStream out, PrintStream err, InputStream in, boolean terminal,
      Map<String, String> env) {
    this.out = out;
    this.err = err;
    this.in = in;
    this.terminal = terminal;
    this.env = env;
    current = this;
  }

  /** The process's own streams and environment. */
  public static Session system() {
    return new Session(System.out, System.err, System.in, System.console() != null,
        System.getenv());
  }

  static Session current() {
    return current;
  }

  public PrintStream out() {
    return out;
  }

  public PrintStream err() {
    return err;
  }

  public InputStream in() {
    return in;
  }

  public boolean terminal() {
    return terminal;
  }

  public ObjectMapper json() {
    return json;
  }

  public Terminal shellTerminal() {
    return shellTerminal;
  }

  public Confirmer confirmer() {
    return confirmer;
  }

  /** The client without a cluster key. */
  public KvClient client(RetryPolicy policy) {
    return client(policy, null);
  }

  /**
   * The client, opened on first use and reopened when the retry policy or the cluster key (null:
   * none) changes.
   */
  public synchronized KvClient client(RetryPolicy policy, ClusterKey key) {
    if (client == null || !policy.equals(clientPolicy) || !java.util.Objects.equals(key,
        clientKey)) {
      if (client != null) {
        client.close();
      }
      client = KvClient.open(policy, INFLIGHT_MAX, key);
      clientPolicy = policy;
      clientKey = key;
    }
    return client;
  }

  /** Remembers {@code key} (as typed) for completion. */
  public synchronized void sawKey(String key) {
    keysSeen.remove(key);
    keysSeen.add(key);
    if (keysSeen.size() > KEYS_SEEN_MAX) {
      Iterator<String> oldest = keysSeen.iterator();
      oldest.next();
      oldest.remove();
    }
  }

  public synchronized List<String> keysSeen() {
    return new ArrayList<>(keysSeen);
  }

  void sawNodes(List<String> nodes) {
    nodesSeen = List.copyOf(nodes);
  }

  public List<String> nodesSeen() {
    return nodesSeen;
  }

  @Override
  public synchronized void close() {
    if (client != null) {
      client.close();
      client = null;
    }
    out.flush();
    err.flush();
  }
}
