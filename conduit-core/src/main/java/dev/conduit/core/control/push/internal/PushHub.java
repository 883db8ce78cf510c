package dev.conduit.core.control.push.internal;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.control.push.PushAgentStatus;
import dev.conduit.core.control.push.PushDelta;
import dev.conduit.core.control.push.PushReportListener;
import dev.conduit.core.control.push.PushState;
import io.netty.util.concurrent.EventExecutor;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;

/**
 * The server side's shared state: the current version (serialised once for every agent), a bounded history of
 * deltas, the open connections and every agent's status.
 */
public final class PushHub {

  /** A published version, its snapshot message encoded once, as a whole WebSocket frame. */
  record Published(PushState state, byte[] snapshotFrame) {}

  /**
   * A delta message encoded once, as a whole WebSocket frame; {@code hash} is the hash of the state it leads to.
   */
  record DeltaFrame(long from, long to, byte[] frame, String hash) {}

  private final int maxMessageBytes;
  private final int historySize;
  private final PushReportListener reportListener;
  private final Executor reportExecutor;
  private final Map<String, AgentRecord> agents = new ConcurrentHashMap<>();
  private final Map<String, ServerConnection> connections = new ConcurrentHashMap<>();
  private final Object publishLock = new Object();
  // swapped whole on each publish, so event loops read it without waiting for a publisher serialising a state
  private volatile List<DeltaFrame> history = List.of();
  private volatile Published current;
  private volatile boolean closed;

  /** Creates a hub keeping {@code historySize} deltas. */
  public PushHub(int maxMessageBytes, int historySize, PushReportListener reportListener, Executor reportExecutor) {
    this.maxMessageBytes = maxMessageBytes;
    this.historySize = historySize;
    this.reportListener = reportListener;
    this.reportExecutor = reportExecutor;
  }

  /** Publishes a new state; computes the delta from the current one. */
  public void publish(PushState state) {
    requireNonNull(state, "state");
    synchronized (publishLock) {
      Published previous = current;
      if (previous != null && state.version() <= previous.state().version()) {
        throw new IllegalArgumentException("state: version " + state.version() + " (expected: more than "
            + previous.state().version() + ", the current version)");
      }
      byte[] snapshot = checkSize(Json.snapshot(state), state.version());
      if (previous != null) {
        PushDelta delta = previous.state().diff(state);
        remember(new DeltaFrame(delta.fromVersion(), delta.toVersion(),
            Frames.encodeText(Json.delta(delta, state.hash())), state.hash()));
      }
      current = new Published(state, Frames.encodeText(snapshot));
    }
    notifyConnections();
  }

  /** Publishes the state {@code delta} leads to from the current one. */
  public void publish(PushDelta delta) {
    requireNonNull(delta, "delta");
    synchronized (publishLock) {
      Published previous = current;
      if (previous == null || previous.state().version() != delta.fromVersion()) {
        throw new IllegalStateException("delta: from version " + delta.fromVersion() + " (expected: "
            + (previous == null ? "a published state first" : previous.state().version() + ", the current version")
            + ")");
      }
      PushState state = previous.state().apply(delta);
      byte[] snapshot = checkSize(Json.snapshot(state), state.version());
      remember(new DeltaFrame(delta.fromVersion(), delta.toVersion(),
          Frames.encodeText(Json.delta(delta, state.hash())), state.hash()));
      current = new Published(state, Frames.encodeText(snapshot));
    }
    notifyConnections();
  }

  private byte[] checkSize(byte[] snapshot, long version) {
    if (snapshot.length > maxMessageBytes) {
      throw new IllegalArgumentException("state: version " + version + " is " + snapshot.length
          + " bytes as a snapshot (expected: at most maxMessageBytes, " + maxMessageBytes + ")");
    }
    return snapshot;
  }

  private void remember(DeltaFrame frame) {
    List<DeltaFrame> old = history;
    List<DeltaFrame> next = new ArrayList<>(Math.min(old.size() + 1, historySize));
    next.addAll(old.size() >= historySize ? old.subList(old.size() - historySize + 1, old.size()) : old);
    next.add(frame);
    history = List.copyOf(next);
  }

  /**
   * One task per event loop sends the new version to every connection on it, rather than one task per connection:
   * a loop writes to all its agents in one go before it reads their acks, instead of interleaving ten thousand
   * small tasks with the reads.
   */
  private void notifyConnections() {
    Map<EventExecutor, List<ServerConnection>> byLoop = new HashMap<>();
    for (ServerConnection connection : connections.values()) {
      byLoop.computeIfAbsent(connection.executor(), loop -> new ArrayList<>()).add(connection);
    }
    byLoop.forEach((loop, list) -> loop.execute(() -> {
      for (ServerConnection connection : list) {
        connection.pumpOnLoop();
      }
    }));
  }

  /** Returns the current version, or null before the first publish. */
  Published current() {
    return current;
  }

  /** Returns the current state, if one was published. */
  public Optional<PushState> state() {
    Published p = current;
    return p == null ? Optional.empty() : Optional.of(p.state());
  }

  /**
   * Returns the deltas leading from {@code from} to {@code to}, or null when the history no longer has them or
   * they are more than {@code max}.
   */
  List<DeltaFrame> deltas(long from, long to, int max) {
    // the history is a chain in version order: find where it leaves `from` by bisection (every agent asks after
    // each publish, almost always for the newest delta), then follow it
    List<DeltaFrame> frames = history;
    int low = 0;
    int high = frames.size() - 1;
    while (low <= high) {
      int mid = (low + high) >>> 1;
      long midFrom = frames.get(mid).from();
      if (midFrom < from) {
        low = mid + 1;
      } else if (midFrom > from) {
        high = mid - 1;
      } else {
        low = mid;
        break;
      }
    }
    if (low >= frames.size() || frames.get(low).from() != from) {
      return null;
    }
    int count = 0;
    long at = from;
    for (int i = low; i < frames.size() && at < to; i++) {
      if (frames.get(i).from() != at || count == max) {
        return null;
      }
      at = frames.get(i).to();
      count++;
    }
    return at == to ? frames.subList(low, low + count) : null;
  }

  /** Registers an upgraded connection; a previous one of the same agent is replaced. */
  AgentRecord register(String agentId, ServerConnection connection, String remoteAddress) {
    AgentRecord record = agents.computeIfAbsent(agentId, AgentRecord::new);
    record.connected(connection, remoteAddress);
    ServerConnection previous = connections.put(agentId, connection);
    if (previous != null && previous != connection) {
      previous.replaced();
    }
    if (closed) {
      connection.serverClosing();
    }
    return record;
  }

  void unregister(String agentId, ServerConnection connection) {
    connections.remove(agentId, connection);
    AgentRecord record = agents.get(agentId);
    if (record != null) {
      record.disconnected(connection);
    }
  }

  void report(String agentId, com.fasterxml.jackson.databind.JsonNode payload) {
    if (reportListener != null) {
      reportExecutor.execute(() -> reportListener.onReport(agentId, payload));
    }
  }

  /** Returns every agent's status. */
  public List<PushAgentStatus> agents() {
    long version = currentVersion();
    List<PushAgentStatus> list = new ArrayList<>();
    for (AgentRecord record : agents.values()) {
      list.add(record.status(version));
    }
    list.sort((a, b) -> a.agentId().compareTo(b.agentId()));
    return list;
  }

  /** Returns one agent's status. */
  public Optional<PushAgentStatus> agent(String agentId) {
    AgentRecord record = agents.get(agentId);
    return record == null ? Optional.empty() : Optional.of(record.status(currentVersion()));
  }

  /** Forgets a disconnected agent's status; returns whether it was known and not connected. */
  public boolean forget(String agentId) {
    if (connections.containsKey(agentId)) {
      return false;
    }
    return agents.remove(agentId) != null;
  }

  /** Closes an agent's connection (policy violation); returns whether it was connected. */
  public boolean disconnect(String agentId, String reason) {
    ServerConnection connection = connections.get(agentId);
    if (connection == null) {
      return false;
    }
    connection.disconnect(reason);
    return true;
  }

  private long currentVersion() {
    Published p = current;
    return p == null ? 0 : p.state().version();
  }

  /** Closes every connection with "going away". */
  public void close() {
    closed = true;
    for (ServerConnection connection : connections.values()) {
      connection.serverClosing();
    }
  }
}
