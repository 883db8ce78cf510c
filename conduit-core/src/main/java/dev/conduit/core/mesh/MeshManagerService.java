package dev.conduit.core.mesh;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.conduit.core.ConduitResources;
import dev.conduit.core.admin.AdminResponse;
import dev.conduit.core.admin.AdminServer;
import dev.conduit.core.control.enrol.MeshIdentity;
import dev.conduit.core.control.push.PushAgentStatus;
import dev.conduit.core.control.push.PushPeer;
import dev.conduit.core.control.push.PushServer;
import dev.conduit.core.control.push.PushState;
import dev.conduit.core.control.store.NodeState;
import dev.conduit.core.observe.CertificateExpiryGauges;
import dev.conduit.core.pki.PeerIdentity;
import dev.conduit.core.pki.RenewingTlsMaterial;
import dev.conduit.core.pki.TlsMaterial;
import dev.conduit.core.runtime.Service;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.LoggerFactory;

/**
 * The mesh manager as a {@link Service} of a {@link dev.conduit.core.runtime.ConduitRuntime}: started with the
 * runtime, closed (store included) when it stops. A JVM application hosts a manager beside other roles with it, the
 * way {@code conduit manager} does.
 *
 * <p>With {@link #withPush(InetSocketAddress)} it also publishes the membership ({@link MembershipState}) on a
 * {@link PushServer} over mutual TLS: every change in the store (enrolment, approval, revocation, removal, a node's
 * report) becomes a new version. Only approved members are admitted, by the identity URI of their node certificate;
 * revoked, pending and unknown identities, and certificates from another CA, are refused, and a member's channel
 * is closed as soon as it is revoked or removed. Its admin route
 * {@code /mesh} lists the agents with the version and hash each acknowledged and its lag.
 */
public final class MeshManagerService implements Service {

  /** How often agents' acknowledgements are copied into the store. */
  private static final Duration ACK_INTERVAL = Duration.ofSeconds(1);
  /** The lifetime of the push server's certificate (the service is restarted well within it). */
  private static final Duration PUSH_CERTIFICATE_LIFETIME = Duration.ofDays(30);

  private final MeshManager.Builder builder;
  private final InetSocketAddress pushBind;
  private final MeshPolicy policy;
  private volatile MeshManager manager;
  private ConduitResources resources;
  private volatile PushServer push;
  private volatile RenewingTlsMaterial pushTls;
  private MembershipPublisher publisher;
  private AutoCloseable evictions;

  /**
   * Creates the service; the manager is built and started at {@link #start()}.
   *
   * @param builder the manager's settings
   */
  public MeshManagerService(MeshManager.Builder builder) {
    this(builder, null, MeshPolicy.builder().build());
  }

  private MeshManagerService(MeshManager.Builder builder, InetSocketAddress pushBind, MeshPolicy policy) {
    this.builder = requireNonNull(builder, "builder");
    this.pushBind = pushBind;
    this.policy = policy;
  }

  /**
   * Returns a service that also publishes the membership on a push channel bound to {@code bind}.
   *
   * @param bind where agents connect ({@code wss://HOST:PORT/v1/push})
   * @return the new service
   */
  public MeshManagerService withPush(InetSocketAddress bind) {
    return new MeshManagerService(builder, requireNonNull(bind, "bind"), policy);
  }

  /**
   * Returns a service that publishes {@code policy} with the membership (on the push channel, see
   * {@link #withPush}), so every server enforces it.
   *
   * @param policy which groups of nodes may reach which ports of which others
   * @return the new service
   */
  public MeshManagerService withPolicy(MeshPolicy policy) {
    return new MeshManagerService(builder, pushBind, requireNonNull(policy, "policy"));
  }

  @Override
  public String name() {
    return "manager";
  }

  @Override
  public void start() throws Exception {
    if (manager != null) {
      throw new IllegalStateException("already started");
    }
    manager = builder.build().start();
    if (pushBind == null) {
      return;
    }
    try {
      startPush(manager);
    } catch (Exception | Error e) {
      close();
      throw e;
    }
  }

  private void startPush(MeshManager m) throws InterruptedException {
    resources = ConduitResources.create();
    List<String> names = new ArrayList<>();
    if (!pushBind.getAddress().isAnyLocalAddress()) {
      names.add(pushBind.getAddress().getHostAddress());
    }
    // renewed at 2/3 of its lifetime: new handshakes get the new certificate, connected agents stay
    pushTls = RenewingTlsMaterial.builder(() -> TlsMaterial.of(
        m.enrolment().issueManagerCertificate(names, PUSH_CERTIFICATE_LIFETIME),
        m.enrolment().certificateAuthority().certificate())).name("manager push server").build();
    MeshIdentity identity = m.enrolment().identity();
    AtomicReference<PushServer> server = new AtomicReference<>();
    push = PushServer.builder(resources).bind(pushBind).tls(pushTls)
        .authorizer(peer -> authorize(identity, server.get(), peer)).build();
    server.set(push);
    push.start();
    publisher = MembershipPublisher.start(m.store(), push, identity, ACK_INTERVAL, policy);
    PushServer p = push;
    evictions = m.store().subscribe(version -> disconnectNonMembers(m, identity, p));
  }

  /** Closes the push connections of agents whose node is no longer an approved member (revoked, removed). */
  private static void disconnectNonMembers(MeshManager m, MeshIdentity identity, PushServer server) {
    try {
      for (PushAgentStatus agent : server.agents()) {
        if (!agent.connected()) {
          continue;
        }
        boolean member = identity.nodeName(agent.agentId()).flatMap(n -> m.store().node(n))
            .map(n -> n.state() == NodeState.APPROVED).orElse(false);
        if (!member) {
          server.disconnect(agent.agentId(), "no longer a member of the mesh");
        }
      }
    } catch (RuntimeException e) {
      LoggerFactory.getLogger(MeshManagerService.class).warn("manager: closing non-members' push channels failed"
          + " ({}); they are refused at their next connection", e.getMessage());
    }
  }

  /**
   * Admits a peer whose certificate names an approved member of the published state, under that identity. Reads
   * only the published state in memory: it runs on an event loop.
   */
  static Optional<String> authorize(MeshIdentity identity, PushServer server, PushPeer peer) {
    if (server == null) {
      return Optional.empty();
    }
    Optional<String> uri = peer.certificateIdentity().map(PeerIdentity::value);
    Optional<String> name = uri.flatMap(identity::nodeName);
    Optional<PushState> state = server.state();
    if (name.isEmpty() || state.isEmpty()) {
      return Optional.empty();
    }
    JsonNode member = state.get().resources().get("node/" + name.get());
    if (member == null || !uri.get().equals(member.path("identity").asText())) {
      return Optional.empty(); // pending, revoked (listed under denied/), removed or unknown
    }
    return uri;
  }

  /**
   * Returns the running manager.
   *
   * @throws IllegalStateException before {@link #start()}
   */
  public MeshManager manager() {
    MeshManager m = manager;
    if (m == null) {
      throw new IllegalStateException("not started");
    }
    return m;
  }

  /** Returns the push server, when this service publishes the membership and has started. */
  public Optional<PushServer> push() {
    return Optional.ofNullable(push);
  }

  /**
   * Gauges the mesh CA's certificate ({@code certificate="mesh-ca"}) and the push server's
   * ({@code certificate="push-server"}, following its renewals) in {@code gauges}; read at each scrape, so this may
   * be called before {@link #start()} (the gauges read NaN until then).
   */
  public void gaugeCertificates(CertificateExpiryGauges gauges) {
    requireNonNull(gauges, "gauges");
    gauges.watch("mesh-ca", () -> {
      MeshManager m = manager;
      return m == null ? null : m.enrolment().certificateAuthority().certificate();
    });
    gauges.watch("push-server", () -> {
      RenewingTlsMaterial t = pushTls;
      return t == null ? null : t.get().certificate();
    });
  }

  /** Mounts {@code /mesh}: the published version and every agent's acknowledged version, hash and lag. */
  @Override
  public void mount(AdminServer.Builder admin) {
    admin.route("/mesh", request -> AdminResponse.json(200, status().toPrettyString() + "\n"));
  }

  /** The push channel's view: the published version and each agent's acknowledgement and lag. */
  ObjectNode status() {
    ObjectNode body = JsonNodeFactory.instance.objectNode();
    PushServer p = push;
    long version = p == null ? 0 : p.state().map(PushState::version).orElse(0L);
    body.put("version", version);
    ArrayNode agents = body.putArray("agents");
    if (p != null) {
      for (PushAgentStatus a : p.agents()) {
        ObjectNode o = agents.addObject().put("agent", a.agentId()).put("name", a.name())
            .put("connected", a.connected()).put("acked_version", a.ackedVersion())
            .put("lag", a.lag())
            .put("hash_matches", a.ackedHashMatches());
        a.ackedHash().ifPresent(h -> o.put("acked_hash", h));
      }
    }
    return body;
  }

  @Override
  public synchronized void close() {
    if (evictions != null) {
      try {
        evictions.close();
      } catch (Exception e) {
        // the feed is closing anyway
      }
      evictions = null;
    }
    if (publisher != null) {
      publisher.close();
      publisher = null;
    }
    if (push != null) {
      push.close();
      push = null;
    }
    if (pushTls != null) {
      pushTls.close();
    }
    if (resources != null) {
      resources.close();
      resources = null;
    }
    MeshManager m = manager;
    if (m != null) {
      m.close();
    }
  }

  @Override
  public String toString() {
    return "MeshManagerService{" + (manager == null ? "not started" : manager) + ", push="
        + (pushBind == null ? "off" : pushBind) + "}";
  }
}
