package dev.conduit.core.mesh;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.control.enrol.MeshIdentity;
import dev.conduit.core.control.push.PushAgentStatus;
import dev.conduit.core.control.push.PushServer;
import dev.conduit.core.control.push.PushState;
import dev.conduit.core.control.store.AppliedVersion;
import dev.conduit.core.control.store.ControlStore;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps a {@link PushServer} in step with the store: publishes the {@link MembershipState} at start and at every
 * new state version the store's change feed reports (changes made through any manager on a shared PostgreSQL
 * database included), and copies what agents acknowledged (version and hash) back into the store, so
 * {@code conduit manager status} shows who lags or drifts.
 */
public final class MembershipPublisher implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(MembershipPublisher.class);

  private final ControlStore store;
  private final PushServer server;
  private final MeshIdentity identity;
  private final AutoCloseable subscription;
  private final ScheduledExecutorService acknowledgements;
  private final Map<String, Long> recorded = new HashMap<>();
  private final MeshPolicy policy;
  private long published = -1;

  private MembershipPublisher(ControlStore store, PushServer server, MeshIdentity identity, Duration ackInterval,
      MeshPolicy policy) {
    this.store = store;
    this.server = server;
    this.identity = identity;
    this.policy = policy;
    this.subscription = store.subscribe(version -> publishCurrent());
    publishCurrent(); // after subscribing: a change in between is not missed
    this.acknowledgements = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "conduit-membership-acks");
      t.setDaemon(true);
      return t;
    });
    acknowledgements.scheduleWithFixedDelay(this::recordAcknowledgements, ackInterval.toMillis(),
        ackInterval.toMillis(), TimeUnit.MILLISECONDS);
  }

  /**
   * Publishes the current membership to {@code server} now and after every change, and records agents'
   * acknowledgements every {@code ackInterval}. Agents are matched to nodes by their identity
   * ({@code spiffe://<trust-domain>/node/<name>}).
   */
  public static MembershipPublisher start(ControlStore store, PushServer server, MeshIdentity identity,
      Duration ackInterval) {
    return start(store, server, identity, ackInterval, MeshPolicy.builder().build());
  }

  /**
   * As {@link #start(ControlStore, PushServer, MeshIdentity, Duration)}, publishing {@code policy} with the
   * membership, so every server enforces it ({@link MeshPolicy#serverRouter}).
   */
  public static MembershipPublisher start(ControlStore store, PushServer server, MeshIdentity identity,
      Duration ackInterval, MeshPolicy policy) {
    requireNonNull(policy, "policy");
    requireNonNull(store, "store");
    requireNonNull(server, "server");
    requireNonNull(identity, "identity");
    requireNonNull(ackInterval, "ackInterval");
    if (ackInterval.toMillis() < 1) {
      throw new IllegalArgumentException("ackInterval: " + ackInterval + " (expected: at least 1ms)");
    }
    return new MembershipPublisher(store, server, identity, ackInterval, policy);
  }

  /** Publishes the store's current membership unless that version was published already. */
  public synchronized void publishCurrent() {
    try {
      PushState state = MembershipState.read(store, policy.resources());
      if (state.version() > published) {
        server.publish(state);
        published = state.version();
      }
    } catch (RuntimeException e) {
      log.warn("manager: publishing the membership failed ({}); the next change retries", e.getMessage());
    }
  }

  /**
   * Copies each agent's newest acknowledged version and hash into the store, in one transaction: after a change
   * every agent has a new one, and a transaction per agent would cost the store a commit each.
   */
  public void recordAcknowledgements() {
    try {
      List<AppliedVersion> changed = new ArrayList<>();
      Map<String, Long> versions = new HashMap<>();
      for (PushAgentStatus agent : server.agents()) {
        Optional<String> node = identity.nodeName(agent.agentId());
        if (node.isEmpty() || agent.ackedVersion() <= 0) {
          continue;
        }
        Long last = recorded.get(agent.agentId());
        if (last == null || last != agent.ackedVersion()) {
          changed.add(new AppliedVersion(node.get(), agent.ackedVersion(), agent.ackedHash().orElse("")));
          versions.put(agent.agentId(), agent.ackedVersion());
        }
      }
      if (!changed.isEmpty()) {
        store.recordApplied(changed);
        recorded.putAll(versions);
      }
    } catch (RuntimeException e) {
      log.warn("manager: recording acknowledgements failed ({})", e.getMessage());
    }
  }

  /** Stops following the store. The push server is the caller's to close. */
  @Override
  public void close() {
    try {
      subscription.close();
    } catch (Exception e) {
      // the feed is closing anyway
    }
    acknowledgements.shutdownNow();
  }
}
