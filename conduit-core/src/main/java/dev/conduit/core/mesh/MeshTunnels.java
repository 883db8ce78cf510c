package dev.conduit.core.mesh;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.Conduit;
import dev.conduit.core.ConnectRequest;
import dev.conduit.core.Destination;
import dev.conduit.core.Listener;
import dev.conduit.core.inbound.OriginalDestinationResolver;
import dev.conduit.core.observe.ConnectionSummary;
import dev.conduit.core.outbound.Hop;
import dev.conduit.core.outbound.Outbound;
import dev.conduit.core.pki.PeerDenyList;
import dev.conduit.core.pki.PeerGuard;
import dev.conduit.core.route.RouteDecision;
import dev.conduit.core.route.Router;
import dev.conduit.core.route.Rule;
import dev.conduit.core.tunnel.ForwardEntry;
import dev.conduit.core.tunnel.MeshPlan;
import dev.conduit.core.tunnel.Tunnel;
import dev.conduit.core.tunnel.TunnelHealthChecker;
import io.netty.handler.ssl.SslContext;
import io.netty.util.NetUtil;
import java.net.InetAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The tunnels of a mesh member, kept in step with the membership: a {@link MembershipListener} that gives a
 * {@link Conduit} one tunnel outbound per other member that runs a server ({@code member-<name>}, conduit's
 * {@link Tunnel#clientHop} over mutual TLS with the node's certificate) and a rule sending connections to any of
 * that member's addresses through it. The conduit's listeners are the plan's: the client listener
 * ({@value MeshPlan#CLIENT_LISTENER}) takes connections redirected to it by the capture rules and tunnels them by
 * their original destination; the server listener ({@value MeshPlan#SERVER_LISTENER}) accepts tunnels from
 * members (client certificates from the mesh CA) and dials only destinations on its own host (loopback and the
 * node's own addresses), never an open relay. Each membership replaces the router and outbounds for new
 * connections; open tunnels keep theirs, except that the server closes those the membership no longer allows: the
 * peer guard ({@link #denyList()}) closes revoked members' connections, and under a policy ({@link MeshPolicy})
 * every open tunnel on the server listener is judged again by the new rules and closed when they refuse it.
 *
 * <p>The tunnels to members are dialed as {@link ClientOptions} say ({@link #clientOptions}): health checks of each
 * member's server every {@link ClientOptions#checkInterval()} ({@link TunnelHealthChecker}, as seed 000's
 * {@code check_time} does for a client's peers) and HTTP/2 multiplexing ({@link Tunnel#multiplexedClientHop}). A
 * member whose identity the membership denies gets no outbound: connections to its addresses are refused by a rule,
 * without a dial.
 */
public final class MeshTunnels implements MembershipListener {

  private static final Logger log = LoggerFactory.getLogger(MeshTunnels.class);

  /** The name of the client listener's IPv6 twin (on {@code [::1]} beside {@code 127.0.0.1}), if there is one. */
  public static final String CLIENT_LISTENER_V6 = MeshPlan.CLIENT_LISTENER + "-v6";

  /** The outbound name prefix of a member's tunnel. */
  public static final String OUTBOUND_PREFIX = "member-";

  /**
   * How a node dials its tunnels to members.
   *
   * @param checkInterval how often each member's tunnel server is health-checked (a TCP connection and a TLS
   *     handshake; a server that fails is marked down in the conduit's dialer); zero: never
   * @param checkTimeout how long one check may take
   * @param multiplex whether tunnels are HTTP/2 streams over pooled connections (one per event loop and member)
   *     instead of one TLS connection each
   */
  public record ClientOptions(Duration checkInterval, Duration checkTimeout, boolean multiplex) {
    /** No health checks, 10 s check timeout, one TLS connection per tunnel. */
    public static final ClientOptions DEFAULTS = new ClientOptions(Duration.ZERO, Duration.ofSeconds(10), false);

    /** Checks the durations. */
    public ClientOptions {
      requireNonNull(checkInterval, "checkInterval");
      requireNonNull(checkTimeout, "checkTimeout");
      if (checkInterval.isNegative()) {
        throw new IllegalArgumentException("checkInterval: " + checkInterval + " (expected: >= 0, 0 disables)");
      }
      if (checkTimeout.isNegative() || checkTimeout.isZero()) {
        throw new IllegalArgumentException("checkTimeout: " + checkTimeout + " (expected: > 0)");
      }
    }
  }

  /** A member's tunnel hop, kept across memberships while its server address and the options stay. */
  private record MemberHop(Destination server, boolean multiplex, Hop hop) {}

  private final String self;
  private final Supplier<SslContext> clientTls;
  private final @Nullable Supplier<SslContext> multiplexTls;
  private final Supplier<List<String>> ownAddresses;
  private final PeerDenyList denied = PeerDenyList.create();
  private final Map<String, MemberHop> hops = new LinkedHashMap<>();
  private final Map<String, TunnelHealthChecker> checkers = new LinkedHashMap<>();
  private ClientOptions options = ClientOptions.DEFAULTS;
  private MeshPolicy appliedPolicy = MeshPolicy.builder().build();
  private volatile Conduit conduit;
  private volatile MeshMembership pending;

  /**
   * Creates the tunnels of node {@code self}.
   *
   * @param self the node's name (its own entry is not a tunnel destination)
   * @param clientTls the client context tunnels dial with (the node certificate, the mesh CA, host names
   *     verified), e.g. {@code node.tls()::clientContext}
   * @param ownAddresses the node's host addresses now, the only destinations its server dials besides loopback
   */
  public MeshTunnels(String self, Supplier<SslContext> clientTls, Supplier<List<String>> ownAddresses) {
    this(self, clientTls, null, ownAddresses);
  }

  /**
   * Creates the tunnels of node {@code self}, able to multiplex them ({@link ClientOptions#multiplex()}).
   *
   * @param self the node's name (its own entry is not a tunnel destination)
   * @param clientTls the client context tunnels dial with, e.g. {@code node.tls()::clientContext}
   * @param multiplexTls the same asking for ALPN {@code h2}, e.g. {@code node.tls()::multiplexClientContext}; null:
   *     tunnels are never multiplexed
   * @param ownAddresses the node's host addresses now, the only destinations its server dials besides loopback
   */
  public MeshTunnels(String self, Supplier<SslContext> clientTls, @Nullable Supplier<SslContext> multiplexTls,
      Supplier<List<String>> ownAddresses) {
    this.self = requireNonNull(self, "self");
    this.clientTls = requireNonNull(clientTls, "clientTls");
    this.multiplexTls = multiplexTls;
    this.ownAddresses = requireNonNull(ownAddresses, "ownAddresses");
  }

  /**
   * The client listener: no protocol on the wire, each connection tunnelled by its original destination (as
   * {@code resolver} reads it back from the capture) to the member owning that address.
   */
  public static Listener clientListener(String bind, OriginalDestinationResolver resolver) {
    return clientListener(MeshPlan.CLIENT_LISTENER, bind, resolver);
  }

  /** As {@link #clientListener(String, OriginalDestinationResolver)} under another name (one per family). */
  public static Listener clientListener(String name, String bind, OriginalDestinationResolver resolver) {
    ForwardEntry any = new ForwardEntry(Optional.empty(), 0, Optional.empty());
    return Listener.builder(name).bind(bind).protocol(Tunnel.forwardProtocol(List.of(any), resolver)).build();
  }

  /** The server listener, with the node's tunnel server context (e.g. {@code node.tls()::tunnelServerContext}). */
  public static Listener serverListener(String bind, Supplier<SslContext> serverTls) {
    return Listener.builder(MeshPlan.SERVER_LISTENER).bind(bind).protocol(Tunnel.serverProtocol()).tls(serverTls)
        .build();
  }

  /**
   * The server listener guarded by {@code guard} (e.g. {@link #denyList()}): revoked members are refused at the
   * handshake and their open tunnels closed.
   */
  public static Listener serverListener(String bind, Supplier<SslContext> serverTls, PeerGuard guard) {
    return Listener.builder(MeshPlan.SERVER_LISTENER).bind(bind).protocol(Tunnel.serverProtocol()).tls(serverTls)
        .peerGuard(guard).build();
  }

  /**
   * The deny list every membership refreshes (revoked nodes' identities, revoked certificate serials): it guards
   * this node's tunnels to members, and should guard its server listener
   * ({@link #serverListener(String, Supplier, PeerGuard)}).
   */
  public PeerDenyList denyList() {
    return denied;
  }

  /**
   * Starts updating {@code target}; a membership installed before is applied now. The conduit must have the
   * listeners of {@link #clientListener} and/or {@link #serverListener}.
   */
  public synchronized void attach(Conduit target) {
    this.conduit = requireNonNull(target, "target");
    MeshMembership m = pending;
    update(target, m == null ? new MeshMembership(0, java.util.Map.of(), Set.of(), Set.of()) : m);
  }

  /** The options the tunnels to members are dialed with. */
  public synchronized ClientOptions clientOptions() {
    return options;
  }

  /**
   * Dials new tunnels to members with {@code next}: a change of {@link ClientOptions#multiplex()} builds new
   * outbounds (open tunnels keep theirs), a change of the check interval or timeout restarts the health checks.
   *
   * @throws IllegalArgumentException if {@code next} multiplexes and this was created without a multiplexing context
   */
  public synchronized void clientOptions(ClientOptions next) {
    requireNonNull(next, "next");
    if (next.multiplex() && multiplexTls == null) {
      throw new IllegalArgumentException("multiplex: no multiplexing TLS context (expected: MeshTunnels created with "
          + "one)");
    }
    if (next.equals(options)) {
      return;
    }
    ClientOptions before = options;
    options = next;
    stopChecks();
    if (before.multiplex() != next.multiplex()) {
      hops.clear(); // new hops, and with them new pools; tunnels open on the old ones stay until they end
    }
    Conduit c = conduit;
    if (c != null) {
      MeshMembership m = pending;
      update(c, m == null ? new MeshMembership(0, java.util.Map.of(), Set.of(), Set.of()) : m);
    }
  }

  /** The members whose tunnel server is health-checked now, by name. */
  public synchronized Set<String> checkedMembers() {
    return Set.copyOf(checkers.keySet());
  }

  /** Stops the health checks; the outbounds stay (a later membership starts them again). */
  public synchronized void close() {
    stopChecks();
  }

  @Override
  public synchronized void membershipChanged(MeshMembership membership) {
    requireNonNull(membership, "membership");
    try {
      int closed = denied.replace(membership.revokedSerials(), membership.deniedIdentities());
      if (closed > 0) {
        log.warn("mesh: closed {} connection(s) of revoked member(s) at membership version {}", closed,
            membership.version());
      }
    } catch (IllegalArgumentException e) {
      log.warn("mesh: deny list at membership version {} not applied: {}", membership.version(), e.getMessage());
    }
    pending = membership;
    Conduit c = conduit;
    if (c != null) {
      update(c, membership);
    }
  }

  /**
   * The addresses of the members this node tunnels to: what the capture rules divert. A member whose identity is
   * denied stays diverted, so that connections to it are refused here rather than sent in clear.
   */
  public List<InetAddress> tunnelledAddresses(MeshMembership membership) {
    Set<InetAddress> out = new LinkedHashSet<>();
    Set<String> own = new LinkedHashSet<>(ownAddresses.get());
    for (MeshMember m : membership.peersOf(self)) {
      if (m.acceptsTunnels()) {
        for (InetAddress a : m.addresses()) {
          if (!own.contains(NetUtil.toAddressString(a))) {
            out.add(a); // an address two members claim is not diverted away from this host itself
          }
        }
      }
    }
    return new ArrayList<>(out);
  }

  private void update(Conduit target, MeshMembership membership) {
    Router.Builder router = Router.builder().defaultDecision(RouteDecision.reject("no mesh rule"));
    List<Outbound> outbounds = new ArrayList<>();
    Map<String, MemberHop> kept = new LinkedHashMap<>();
    Set<String> own = new LinkedHashSet<>(ownAddresses.get());
    membership.member(self).ifPresent(m -> m.addresses().forEach(a -> own.add(NetUtil.toAddressString(a))));
    for (MeshMember m : membership.peersOf(self)) {
      if (!m.acceptsTunnels()) {
        continue;
      }
      List<InetAddress> addresses = new ArrayList<>();
      for (InetAddress a : m.addresses()) {
        if (!own.contains(NetUtil.toAddressString(a))) {
          addresses.add(a);
        }
      }
      if (addresses.isEmpty()) {
        continue;
      }
      Destination server;
      try {
        server = Destination.parse(m.serverAddress().orElseThrow(), -1);
      } catch (IllegalArgumentException e) {
        log.warn("mesh: member {} has an unusable server address {}: not tunnelled to", m.name(), m.serverAddress());
        continue;
      }
      String outbound = OUTBOUND_PREFIX + m.name();
      if (membership.deniedIdentities().contains(m.identity())) {
        // no outbound to a denied member: refused here, without a dial the peer guard would have to refuse
        RouteDecision refuse = RouteDecision.reject("mesh member " + m.name() + " is denied");
        router.rule(clientRule(outbound + "-denied", MeshPlan.CLIENT_LISTENER, addresses, refuse));
        router.rule(clientRule(outbound + "-denied-v6", CLIENT_LISTENER_V6, addresses, refuse));
        continue;
      }
      Hop hop;
      try {
        hop = hop(m.name(), server);
      } catch (RuntimeException e) {
        log.warn("mesh: no tunnel to member {}: {}", m.name(), e.getMessage());
        continue;
      }
      kept.put(m.name(), hops.get(m.name()));
      outbounds.add(Outbound.builder(outbound).hop(hop).build());
      router.rule(clientRule(outbound, MeshPlan.CLIENT_LISTENER, addresses, RouteDecision.via(outbound)));
      router.rule(clientRule(outbound + "-v6", CLIENT_LISTENER_V6, addresses, RouteDecision.via(outbound)));
    }
    if (membership.policy().isEmpty()) {
      Rule.Builder local = Rule.builder("mesh-local").listener(MeshPlan.SERVER_LISTENER)
          .destinationCidr("127.0.0.0/8").destinationCidr("::1/128").domain("localhost")
          .decision(RouteDecision.direct());
      own.forEach(local::destinationCidr);
      router.rule(local.build());
    } else {
      // the manager's policy: only granted groups, on granted ports, still only on this host
      membership.policy().serverRules(MeshPlan.SERVER_LISTENER, self,
          n -> membership.member(n).map(MeshMember::identity).orElse(null), List.copyOf(own)).forEach(router::rule);
    }
    router.rule(Rule.builder("mesh-server-deny").listener(MeshPlan.SERVER_LISTENER)
        .decision(RouteDecision.reject("destination not on this mesh member's host")).build());
    Router next = router.build();
    target.update(next, outbounds);
    hops.keySet().retainAll(kept.keySet());
    followChecks(target);
    log.info("mesh: tunnels to {} member(s) at membership version {}", outbounds.size(), membership.version());
    boolean policed = !appliedPolicy.isEmpty() || !membership.policy().isEmpty();
    appliedPolicy = membership.policy();
    if (policed) {
      int closed = closeRefused(target, next);
      if (closed > 0) {
        log.warn("mesh: closed {} tunnel(s) the policy no longer allows at membership version {}", closed,
            membership.version());
      }
    }
  }

  private static Rule clientRule(String name, String listener, List<InetAddress> addresses, RouteDecision decision) {
    Rule.Builder r = Rule.builder(name).listener(listener).decision(decision);
    addresses.forEach(a -> r.destinationCidr(NetUtil.toAddressString(a)));
    return r.build();
  }

  /** The member's hop: the one it had while its server address and the multiplexing stay, else a new one. */
  private Hop hop(String member, Destination server) {
    MemberHop h = hops.get(member);
    if (h != null && h.server().equals(server) && h.multiplex() == options.multiplex()) {
      return h.hop();
    }
    Hop hop = options.multiplex() ? Tunnel.multiplexedClientHop(List.of(server), multiplexTls, denied)
        : Tunnel.clientHop(List.of(server), clientTls, denied);
    TunnelHealthChecker old = checkers.remove(member);
    if (old != null) {
      old.close();
    }
    hops.put(member, new MemberHop(server, options.multiplex(), hop));
    return hop;
  }

  /** Health checks for the current hops (started for new ones, stopped for members gone). */
  private void followChecks(Conduit target) {
    checkers.entrySet().removeIf(e -> {
      if (hops.containsKey(e.getKey())) {
        return false;
      }
      e.getValue().close();
      return true;
    });
    if (options.checkInterval().isZero()) {
      return;
    }
    hops.forEach((member, h) -> checkers.computeIfAbsent(member,
        k -> TunnelHealthChecker.start(target, h.hop(), options.checkInterval(), options.checkTimeout())));
  }

  private void stopChecks() {
    checkers.values().forEach(TunnelHealthChecker::close);
    checkers.clear();
  }

  /**
   * Judges the open tunnels on the server listener again by {@code router} (the principal and destination each was
   * opened with) and closes those it refuses: a policy that no longer grants a member, or a port, ends its tunnels
   * (HTTP/2 streams one by one).
   */
  private static int closeRefused(Conduit target, Router router) {
    int closed = 0;
    for (ConnectionSummary s : target.connections()) {
      if (!s.connection().listener().equals(MeshPlan.SERVER_LISTENER) || s.destination().isEmpty()) {
        continue; // not a tunnel, or one not routed yet (it is routed by the new rules)
      }
      Router.Match m = router.route(new ConnectRequest(s.connection(), s.destination().get(), s.principal(),
          Optional.empty()));
      if (m.decision() instanceof RouteDecision.Reject && target.closeConnection(s.connection().id())) {
        log.info("mesh: closing tunnel {} of {} to {}: {}", s.connection().id(), s.principal().orElse("?"),
            s.destination().get(), m.decision());
        closed++;
      }
    }
    return closed;
  }

  @Override
  public String toString() {
    return "MeshTunnels{" + self + "}";
  }
}
