package dev.conduit.core.tunnel;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.Conduit;
import dev.conduit.core.ConduitBuilder;
import dev.conduit.core.Destination;
import dev.conduit.core.Listener;
import dev.conduit.core.inbound.OriginalDestinationResolver;
import dev.conduit.core.net.PortRange;
import dev.conduit.core.outbound.Hop;
import dev.conduit.core.outbound.Outbound;
import dev.conduit.core.pki.PeerGuard;
import dev.conduit.core.route.RouteDecision;
import dev.conduit.core.route.Router;
import dev.conduit.core.route.Rule;
import io.netty.handler.ssl.SslContext;
import io.netty.util.NetUtil;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link MeshConfig} mapped onto conduit: the listeners, outbounds and rules to add to a
 * {@link ConduitBuilder}, the health checks to start once the conduit runs, and the PEM file watchers to
 * close with it.
 *
 * <p>Client side: listener {@value #CLIENT_LISTENER} speaks {@link Tunnel#forwardProtocol}; each peer is an
 * outbound {@code peer-<index>} with one {@link Tunnel#clientHop} (or {@link Tunnel#multiplexedClientHop} with
 * {@code tls.multiplex: true}); each forward entry is a rule on that
 * listener sending its destination ({@code dst_as}, else the original one) to its peer; anything else on
 * the listener is rejected. Server side: listener {@value #SERVER_LISTENER} speaks
 * {@link Tunnel#serverProtocol()} over TLS offering ALPN {@code h2} and {@code http/1.1}; each {@code allow} entry (or the default, see
 * {@link MeshConfig.Server#allow()}) is a rule allowing direct dials; a final rule rejects everything
 * else on the listener, so the server is never an open relay.
 */
public final class MeshPlan implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(MeshPlan.class);

  /** The tunnel client's listener name. */
  public static final String CLIENT_LISTENER = "tunnel-client";
  /** The tunnel server's listener name. */
  public static final String SERVER_LISTENER = "tunnel-server";

  private final List<Listener> listeners = new ArrayList<>();
  private final List<Outbound> outbounds = new ArrayList<>();
  private final List<Rule> rules = new ArrayList<>();
  private final List<ForwardEntry> captureEntries = new ArrayList<>();
  private final List<String> warnings = new ArrayList<>();
  private final List<AutoCloseable> watchers = new ArrayList<>();
  private final Map<Hop, Duration> checks = new LinkedHashMap<>();
  private final List<TunnelHealthChecker> checkers = new ArrayList<>();
  private final MeshTls tlsFactory;
  private final PeerGuard guard;

  private MeshPlan(Duration tlsCheckInterval, PeerGuard guard) {
    this.tlsFactory = new MeshTls(tlsCheckInterval, watchers, this::warn);
    this.guard = guard;
  }

  /** The outbound name of a peer. */
  public static String peerOutbound(int index) {
    return "peer-" + index;
  }

  static MeshPlan of(MeshConfig config, OriginalDestinationResolver resolver, Duration tlsCheckInterval,
      PeerGuard guard) throws IOException {
    requireNonNull(config, "config");
    requireNonNull(resolver, "resolver");
    requireNonNull(tlsCheckInterval, "tlsCheckInterval");
    MeshPlan plan = new MeshPlan(tlsCheckInterval, guard);
    try {
      if (config.client() != null && config.client().enable()) {
        plan.mapClient(config.client(), resolver);
      }
      if (config.server() != null && config.server().enable()) {
        plan.mapServer(config.server());
      }
    } catch (IOException | RuntimeException e) {
      plan.close();
      throw e;
    }
    return plan;
  }

  // ---- client

  private void mapClient(MeshConfig.Client client, OriginalDestinationResolver resolver) throws IOException {
    checkNetwork(client.network(), "client.network");
    if (client.listen() == null || client.listen().isBlank()) {
      throw new IllegalArgumentException("client.listen: empty (expected: ip:port)");
    }
    if (client.checkTime() < 0) {
      throw new IllegalArgumentException("client.check_time: " + client.checkTime() + " (expected: >= 0 seconds, 0 disables)");
    }
    if (client.forwardTable().isEmpty()) {
      throw new IllegalArgumentException("client.forward_table: empty (expected: at least one entry)");
    }
    Map<Integer, String> peerNames = new HashMap<>();
    for (int i = 0; i < client.peers().size(); i++) {
      MeshConfig.Peer peer = client.peers().get(i);
      String where = "client.peers[" + i + "]";
      checkNetwork(peer.network(), where + ".network");
      if (peerNames.containsKey(peer.index())) {
        throw new IllegalArgumentException(where + ".index: " + peer.index() + " used twice (expected: unique)");
      }
      if (peer.addresses().isEmpty()) {
        throw new IllegalArgumentException(where + ".addresses: empty (expected: at least one host:port)");
      }
      List<Destination> endpoints = new ArrayList<>();
      for (String a : peer.addresses()) {
        try {
          endpoints.add(Destination.parse(a, -1));
        } catch (IllegalArgumentException e) {
          throw new IllegalArgumentException(where + ".addresses: " + a + " (expected: host:port)", e);
        }
      }
      boolean multiplex = peer.tls() != null && peer.tls().multiplex();
      if (multiplex && !peer.tls().enable()) {
        throw new IllegalArgumentException(where + ".tls.multiplex: true without TLS (expected: enable: true; "
            + "multiplexed tunnels are HTTP/2 negotiated with TLS ALPN)");
      }
      Supplier<SslContext> tls = tlsFactory.client(peer.tls(), where + ".tls");
      if (tls == null) {
        warn("tunnel to peer " + peer.index() + " " + peer.addresses() + " is plain TCP: anyone on the path can "
            + "read and alter it, and the peer cannot tell who connects; add tls with mtls: true");
      }
      PeerGuard hopGuard = tls == null ? null : guard;
      Hop hop = multiplex ? Tunnel.multiplexedClientHop(endpoints, tls, hopGuard)
          : Tunnel.clientHop(endpoints, tls, hopGuard);
      String name = peerOutbound(peer.index());
      outbounds.add(Outbound.builder(name).hop(hop).build());
      peerNames.put(peer.index(), name);
      checks.put(hop, Duration.ofSeconds(client.checkTime()));
    }
    List<ForwardEntry> entries = new ArrayList<>();
    List<Integer> peers = new ArrayList<>();
    List<Rule> specific = new ArrayList<>();
    List<Rule> anyAddress = new ArrayList<>();
    for (int i = 0; i < client.forwardTable().size(); i++) {
      MeshConfig.Forward f = client.forwardTable().get(i);
      String where = "client.forward_table[" + i + "]";
      if (f.dst() == null) {
        throw new IllegalArgumentException(where + ".dst: empty (expected: :port or ip:port)");
      }
      ForwardEntry entry;
      try {
        entry = ForwardEntry.parse(f.dst(), f.dstAs());
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(where + "." + e.getMessage(), e);
      }
      String outbound = peerNames.get(f.peerIndex());
      if (outbound == null) {
        throw new IllegalArgumentException(where + ".peer_index: " + f.peerIndex() + " (expected one of "
            + peerNames.keySet() + ")");
      }
      for (int j = 0; j < entries.size(); j++) {
        if (peers.get(j) != f.peerIndex() && overlap(entries.get(j), entry)) {
          throw new IllegalArgumentException(where + ": " + entry + " via peer " + f.peerIndex()
              + " overlaps entry " + j + " (" + entries.get(j) + ") via peer " + peers.get(j)
              + " (expected: one peer per destination)");
        }
      }
      entries.add(entry);
      peers.add(f.peerIndex());
      Rule.Builder r = Rule.builder("forward-" + i).listener(CLIENT_LISTENER).decision(RouteDecision.via(outbound));
      Optional<String> host = effectiveHost(entry);
      r.port(entry.rewriteTo().map(Destination::port).orElse(entry.port()));
      if (host.isPresent()) {
        if (NetUtil.isValidIpV4Address(host.get()) || NetUtil.isValidIpV6Address(host.get())) {
          r.destinationCidr(host.get());
        } else {
          r.domain(host.get());
        }
        specific.add(r.build());
      } else {
        anyAddress.add(r.build());
      }
    }
    captureEntries.addAll(entries);
    rules.addAll(specific);
    rules.addAll(anyAddress);
    rules.add(Rule.builder("forward-deny").listener(CLIENT_LISTENER)
        .decision(RouteDecision.reject("no forward_table entry")).build());
    listeners.add(Listener.builder(CLIENT_LISTENER).bind(client.listen())
        .protocol(Tunnel.forwardProtocol(entries, resolver)).build());
  }

  private static Optional<String> effectiveHost(ForwardEntry e) {
    if (e.rewriteTo().isPresent()) {
      return Optional.of(e.rewriteTo().get().host());
    }
    return e.address().map(NetUtil::toAddressString);
  }

  /** Whether the destinations two entries send to their peers can coincide (so rules could not tell them apart). */
  private static boolean overlap(ForwardEntry a, ForwardEntry b) {
    int pa = a.rewriteTo().map(Destination::port).orElse(a.port());
    int pb = b.rewriteTo().map(Destination::port).orElse(b.port());
    if (pa != pb) {
      return false;
    }
    Optional<String> ha = effectiveHost(a);
    Optional<String> hb = effectiveHost(b);
    return ha.isEmpty() || hb.isEmpty() || ha.get().equalsIgnoreCase(hb.get());
  }

  // ---- server

  private void mapServer(MeshConfig.Server server) throws IOException {
    MeshConfig.Listen listen = server.listen();
    if (listen == null || listen.addr() == null || listen.addr().isBlank()) {
      throw new IllegalArgumentException("server.listen.addr: empty (expected: ip:port)");
    }
    checkNetwork(listen.network(), "server.listen.network");
    Listener.Builder lb = Listener.builder(SERVER_LISTENER).bind(listen.addr()).protocol(Tunnel.serverProtocol());
    Supplier<SslContext> tls = tlsFactory.server(listen.tls(), "server.listen.tls");
    boolean authenticated = listen.tls() != null && listen.tls().enable() && listen.tls().mtls();
    if (tls == null) {
      warn("tunnel server " + listen.addr() + " is plain TCP: anyone who reaches it can use it within the allowed "
          + "destinations, and the traffic is readable on the path; add tls with mtls: true");
    } else {
      lb.tls(tls);
      if (guard != null) {
        lb.peerGuard(guard);
      }
    }
    Listener listener = lb.build();
    listeners.add(listener);
    if (server.allow().isEmpty()) {
      Rule.Builder r = Rule.builder("tunnel-allow-local").listener(SERVER_LISTENER)
          .destinationCidr("127.0.0.0/8").destinationCidr("::1/128").domain("localhost")
          .decision(RouteDecision.direct());
      InetSocketAddress bind = listener.bindAddress();
      if (!bind.getAddress().isAnyLocalAddress()) {
        r.destinationCidr(NetUtil.toAddressString(bind.getAddress()));
      }
      rules.add(r.build());
    }
    for (int i = 0; i < server.allow().size(); i++) {
      MeshConfig.Allow a = server.allow().get(i);
      String where = "server.allow[" + i + "]";
      if (a.cidrs().isEmpty() && a.domains().isEmpty()) {
        throw new IllegalArgumentException(where + ": no cidrs and no domains (expected: at least one; "
            + "write cidrs [0.0.0.0/0, ::/0] to allow every address explicitly)");
      }
      Rule.Builder r = Rule.builder("tunnel-allow-" + i).listener(SERVER_LISTENER).decision(RouteDecision.direct());
      if (a.peer() != null && !a.peer().isBlank() && !a.peer().equals("*")) {
        if (!authenticated) {
          warn(where + ".peer: " + a.peer() + " never matches: the server does not require client certificates "
              + "(tls.mtls: true)");
        }
        r.principal(a.peer());
      }
      try {
        a.cidrs().forEach(r::destinationCidr);
        for (String d : a.domains()) {
          if (d.startsWith("*.")) {
            r.domainSuffix(d.substring(2));
          } else if (d.startsWith(".")) {
            r.domainSuffix(d.substring(1));
          } else {
            r.domain(d);
          }
        }
        for (String p : a.ports()) {
          PortRange range = PortRange.parse(p);
          r.portRange(range.first(), range.last());
        }
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(where + ": " + e.getMessage(), e);
      }
      rules.add(r.build());
    }
    rules.add(Rule.builder("tunnel-deny").listener(SERVER_LISTENER)
        .decision(RouteDecision.reject("destination not allowed for this tunnel peer")).build());
  }

  // ---- helpers

  private static void checkNetwork(String network, String where) {
    if (network == null || network.isBlank()) {
      return;
    }
    String n = network.trim().toLowerCase(Locale.ROOT);
    if (!n.equals("tcp") && !n.equals("tcp4") && !n.equals("tcp6")) {
      throw new IllegalArgumentException(where + ": " + network + " (expected: tcp)");
    }
  }

  private void warn(String message) {
    log.warn(message);
    warnings.add(message);
  }

  // ---- results

  /** The listeners to add ({@value #CLIENT_LISTENER}, {@value #SERVER_LISTENER}). */
  public List<Listener> listeners() {
    return List.copyOf(listeners);
  }

  /** The peer outbounds ({@code peer-<index>}). */
  public List<Outbound> outbounds() {
    return List.copyOf(outbounds);
  }

  /** The rules, in order, each scoped to one of the plan's listeners. */
  public List<Rule> rules() {
    return List.copyOf(rules);
  }

  /**
   * The forward table, for installing the netfilter capture rules that redirect matching connections to
   * the client listener (client mode).
   */
  public List<ForwardEntry> captureEntries() {
    return List.copyOf(captureEntries);
  }

  /**
   * The certificates the plan's tunnels present, by the name conduit_certificate_expiry_seconds labels them with
   * ({@code tunnel-server}; {@code tunnel-client} for the first peer, {@code tunnel-client-<index>} for others),
   * each returning the certificate in use now (the PEM files are re-read when they change). Mutual TLS only.
   */
  public java.util.Map<String, java.util.function.Supplier<java.security.cert.X509Certificate>> certificates() {
    java.util.Map<String, java.util.function.Supplier<java.security.cert.X509Certificate>> out =
        new java.util.LinkedHashMap<>();
    tlsFactory.watched.forEach((where, files) -> {
      String name;
      if (where.startsWith("server.")) {
        name = "tunnel-server";
      } else if (!out.containsKey("tunnel-client")) {
        name = "tunnel-client";
      } else {
        name = "tunnel-client-" + where.replaceAll("\\D+", "");
      }
      out.put(name, () -> files.material().certificate());
    });
    return out;
  }

  /** The warnings logged while mapping (plain TCP tunnels, unverified peers). */
  public List<String> warnings() {
    return List.copyOf(warnings);
  }

  /** Adds the listeners and outbounds and sets a router with the rules (default: reject). */
  public ConduitBuilder apply(ConduitBuilder builder) {
    requireNonNull(builder, "builder");
    listeners.forEach(builder::listener);
    outbounds.forEach(builder::outbound);
    Router.Builder router = Router.builder().defaultDecision(RouteDecision.reject("no rule"));
    rules.forEach(router::rule);
    return builder.router(router.build());
  }

  /**
   * Starts the peers' health checks ({@code check_time}; none when 0) on the running {@code conduit}, each
   * check bounded by {@code timeout}. They stop with {@link #close()}.
   */
  public synchronized void startHealthChecks(Conduit conduit, Duration timeout) {
    requireNonNull(conduit, "conduit");
    checks.forEach((hop, interval) -> {
      if (!interval.isZero()) {
        checkers.add(TunnelHealthChecker.start(conduit, hop, interval, timeout));
      }
    });
  }

  /** Stops health checks and PEM file watching. */
  @Override
  public synchronized void close() {
    checkers.forEach(TunnelHealthChecker::close);
    checkers.clear();
    for (AutoCloseable w : watchers) {
      try {
        w.close();
      } catch (Exception e) {
        log.debug("closing {}: {}", w, e.toString());
      }
    }
    watchers.clear();
  }

  @Override
  public String toString() {
    return "MeshPlan[listeners=" + listeners + ", outbounds=" + outbounds + ", rules=" + rules.size() + "]";
  }
}
