package dev.conduit.core.mesh;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.Conduit;
import dev.conduit.core.Destination;
import dev.conduit.core.Listener;
import dev.conduit.core.inbound.OriginalDestinationResolver;
import dev.conduit.core.outbound.Outbound;
import dev.conduit.core.pki.PeerDenyList;
import dev.conduit.core.pki.PeerGuard;
import dev.conduit.core.route.RouteDecision;
import dev.conduit.core.route.Router;
import dev.conduit.core.route.Rule;
import dev.conduit.core.tunnel.ForwardEntry;
import dev.conduit.core.tunnel.MeshPlan;
import dev.conduit.core.tunnel.Tunnel;
import io.netty.handler.ssl.SslContext;
import io.netty.util.NetUtil;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;
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
 * connections; open tunnels keep theirs.
 */
public final class MeshTunnels implements MembershipListener {

  private static final Logger log = LoggerFactory.getLogger(MeshTunnels.class);

  /** The name of the client listener's IPv6 twin (on {@code [::1]} beside {@code 127.0.0.1}), if there is one. */
  public static final String CLIENT_LISTENER_V6 = MeshPlan.CLIENT_LISTENER + "-v6";

  /** The outbound name prefix of a member's tunnel. */
  public static final String OUTBOUND_PREFIX = "member-";

  private final String self;
  private final Supplier<SslContext> clientTls;
  private final Supplier<List<String>> ownAddresses;
  private final PeerDenyList denied = PeerDenyList.create();
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
    this.self = requireNonNull(self, "self");
    this.clientTls = requireNonNull(clientTls, "clientTls");
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

  /** The addresses of the members this node tunnels to: what the capture rules divert. */
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
      outbounds.add(Outbound.builder(outbound).hop(Tunnel.clientHop(List.of(server), clientTls, denied)).build());
      Rule.Builder r = Rule.builder(outbound).listener(MeshPlan.CLIENT_LISTENER).decision(RouteDecision.via(outbound));
      addresses.forEach(a -> r.destinationCidr(NetUtil.toAddressString(a)));
      router.rule(r.build());
      Rule.Builder r6 = Rule.builder(outbound + "-v6").listener(CLIENT_LISTENER_V6)
          .decision(RouteDecision.via(outbound));
      addresses.forEach(a -> r6.destinationCidr(NetUtil.toAddressString(a)));
      router.rule(r6.build());
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
    target.update(router.build(), outbounds);
    log.info("mesh: tunnels to {} member(s) at membership version {}", outbounds.size(), membership.version());
  }

  @Override
  public String toString() {
    return "MeshTunnels{" + self + "}";
  }
}
