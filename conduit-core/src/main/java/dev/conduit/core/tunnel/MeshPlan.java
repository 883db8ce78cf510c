package dev.conduit.core.tunnel;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.Conduit;
import dev.conduit.core.ConduitBuilder;
import dev.conduit.core.Destination;
import dev.conduit.core.Listener;
import dev.conduit.core.inbound.OriginalDestinationResolver;
import dev.conduit.core.outbound.Hop;
import dev.conduit.core.outbound.Outbound;
import dev.conduit.core.pki.PeerGuard;
import dev.conduit.core.route.RouteDecision;
import dev.conduit.core.route.Router;
import dev.conduit.core.route.Rule;
import io.netty.handler.ssl.SslContext;
import io.netty.util.NetUtil;
import java.io.IOException;
import org.jspecify.annotations.Nullable;
import java.net.InetSocketAddress;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Point-to-point tunnels mapped onto conduit: the listeners, outbounds and rules to add to a
 * {@link ConduitBuilder}, the health checks to start once the conduit runs, and the PEM file watchers to
 * close with it. Built from typed settings ({@link #builder()}); the CLI maps its configuration file onto them.
 *
 * <p>Client side: listener {@value #CLIENT_LISTENER} speaks {@link Tunnel#forwardProtocol}; each
 * {@link TunnelPeer} is an outbound {@code peer-<index>} with one {@link Tunnel#clientHop} (or
 * {@link Tunnel#multiplexedClientHop} when multiplexed); each forward entry is a rule on that
 * listener sending its destination (the entry's rewrite, else the original one) to its peer; anything else on
 * the listener is rejected. Server side: listener {@value #SERVER_LISTENER} speaks
 * {@link Tunnel#serverProtocol()} over TLS offering ALPN {@code h2} and {@code http/1.1}; each {@link TunnelAllow}
 * is a rule allowing direct dials (without any, see {@link Builder#allow}); a final rule rejects everything
 * else on the listener, so the server is never an open relay.
 *
 * <pre>{@code
 * MeshPlan plan = MeshPlan.builder().bindClient("127.0.0.1:5052").healthCheckInterval(Duration.ofSeconds(60))
 *     .peer(TunnelPeer.builder(1).endpoint(Destination.of("198.18.0.11", 5053)).tls(tls).build())
 *     .forward(ForwardEntry.parse(":3306", "127.0.0.1:3306"), 1)
 *     .build();
 * plan.apply(Conduit.builder());
 * }</pre>
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

  /**
   * Returns a builder of a plan with neither side; add {@link Builder#bindClient} and/or {@link Builder#bindServer}.
   */
  public static Builder builder() {
    return new Builder();
  }

  private static MeshPlan of(Builder b) throws IOException {
    MeshPlan plan = new MeshPlan(b.tlsCheckInterval, b.guard);
    try {
      if (b.clientBind != null) {
        plan.mapClient(b);
      }
      if (b.serverBind != null) {
        plan.mapServer(b);
      }
    } catch (IOException | RuntimeException e) {
      plan.close();
      throw e;
    }
    return plan;
  }

  // ---- client

  private void mapClient(Builder b) throws IOException {
    if (b.forwards.isEmpty()) {
      throw new IllegalArgumentException("client: no forward entry (expected: at least one)");
    }
    Map<Integer, String> peerNames = new HashMap<>();
    for (TunnelPeer peer : b.peers) {
      if (peerNames.containsKey(peer.index())) {
        throw new IllegalArgumentException("peer " + peer.index() + ": used twice (expected: unique indexes)");
      }
      String name = peerOutbound(peer.index());
      String certificate = peerNames.isEmpty() ? CLIENT_LISTENER : CLIENT_LISTENER + "-" + peer.index();
      Supplier<SslContext> tls = tlsFactory.client(peer.tls().orElse(null), peer.multiplex(), certificate,
          "peer " + peer.index() + " tls");
      if (tls == null) {
        warn("tunnel to peer " + peer.index() + " " + peer.endpoints() + " is plain TCP: anyone on the path can "
            + "read and alter it, and the peer cannot tell who connects; add tls with mtls: true");
      }
      PeerGuard hopGuard = tls == null ? null : guard;
      Hop hop = peer.multiplex() ? Tunnel.multiplexedClientHop(peer.endpoints(), tls, hopGuard)
          : Tunnel.clientHop(peer.endpoints(), tls, hopGuard);
      outbounds.add(Outbound.builder(name).hop(hop).build());
      peerNames.put(peer.index(), name);
      checks.put(hop, b.healthCheckInterval);
    }
    List<ForwardEntry> entries = new ArrayList<>();
    List<Integer> peers = new ArrayList<>();
    List<Rule> specific = new ArrayList<>();
    List<Rule> anyAddress = new ArrayList<>();
    for (int i = 0; i < b.forwards.size(); i++) {
      ForwardEntry entry = b.forwards.get(i);
      int peerIndex = b.forwardPeers.get(i);
      String outbound = peerNames.get(peerIndex);
      if (outbound == null) {
        throw new IllegalArgumentException("forward entry " + i + " (" + entry + "): peer " + peerIndex
            + " (expected one of " + peerNames.keySet() + ")");
      }
      for (int j = 0; j < entries.size(); j++) {
        if (peers.get(j) != peerIndex && overlap(entries.get(j), entry)) {
          throw new IllegalArgumentException("forward entry " + i + ": " + entry + " via peer " + peerIndex
              + " overlaps entry " + j + " (" + entries.get(j) + ") via peer " + peers.get(j)
              + " (expected: one peer per destination)");
        }
      }
      entries.add(entry);
      peers.add(peerIndex);
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
    listeners.add(Listener.builder(CLIENT_LISTENER).bind(b.clientBind)
        .protocol(Tunnel.forwardProtocol(entries, b.resolver)).build());
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

  private void mapServer(Builder b) throws IOException {
    Listener.Builder lb = Listener.builder(SERVER_LISTENER).bind(b.serverBind).protocol(Tunnel.serverProtocol());
    Supplier<SslContext> tls = tlsFactory.server(b.serverTls, SERVER_LISTENER, "tunnel server tls");
    boolean authenticated = b.serverTls != null && b.serverTls.mutual();
    if (tls == null) {
      warn("tunnel server " + b.serverBind + " is plain TCP: anyone who reaches it can use it within the allowed "
          + "destinations, and the traffic is readable on the path; add tls with mtls: true");
    } else {
      lb.tls(tls);
      if (guard != null) {
        lb.peerGuard(guard);
      }
    }
    Listener listener = lb.build();
    listeners.add(listener);
    if (b.allow.isEmpty()) {
      Rule.Builder r = Rule.builder("tunnel-allow-local").listener(SERVER_LISTENER)
          .destinationCidr("127.0.0.0/8").destinationCidr("::1/128").domain("localhost")
          .decision(RouteDecision.direct());
      InetSocketAddress bind = listener.bindAddress();
      if (!bind.getAddress().isAnyLocalAddress()) {
        r.destinationCidr(NetUtil.toAddressString(bind.getAddress()));
      }
      rules.add(r.build());
    }
    for (int i = 0; i < b.allow.size(); i++) {
      TunnelAllow a = b.allow.get(i);
      if (a.principal().isPresent() && !authenticated) {
        warn("allow entry " + i + ": peer " + a.principal().get() + " never matches: the server does not require "
            + "client certificates (mutual TLS)");
      }
      Rule.Builder r = Rule.builder("tunnel-allow-" + i).listener(SERVER_LISTENER).decision(RouteDecision.direct());
      a.applyTo(r);
      rules.add(r.build());
    }
    rules.add(Rule.builder("tunnel-deny").listener(SERVER_LISTENER)
        .decision(RouteDecision.reject("destination not allowed for this tunnel peer")).build());
  }

  // ---- helpers

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
  public Map<String, Supplier<X509Certificate>> certificates() {
    Map<String, Supplier<X509Certificate>> out = new LinkedHashMap<>();
    tlsFactory.watched.forEach((name, files) -> out.put(name, () -> files.material().certificate()));
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

  /** Builds a {@link MeshPlan}: a client side, a server side, or both. */
  public static final class Builder {
    private @Nullable String clientBind;
    private Duration healthCheckInterval = Duration.ZERO;
    private final List<TunnelPeer> peers = new ArrayList<>();
    private final List<ForwardEntry> forwards = new ArrayList<>();
    private final List<Integer> forwardPeers = new ArrayList<>();
    private @Nullable String serverBind;
    private @Nullable TunnelTls serverTls;
    private final List<TunnelAllow> allow = new ArrayList<>();
    private OriginalDestinationResolver resolver = OriginalDestinationResolver.NONE;
    private Duration tlsCheckInterval = Duration.ofSeconds(10);
    private @Nullable PeerGuard guard;

    private Builder() {}

    /** Runs the tunnel client, its plain TCP listener on {@code bind} ({@code ip:port}, the capture's target). */
    public Builder bindClient(String bind) {
      this.clientBind = requireNonNull(bind, "bind");
      return this;
    }

    /** How often each peer is checked actively (default {@link Duration#ZERO}: no checks). */
    public Builder healthCheckInterval(Duration interval) {
      requireNonNull(interval, "interval");
      if (interval.isNegative()) {
        throw new IllegalArgumentException("healthCheckInterval: " + interval + " (expected: >= 0, 0 disables)");
      }
      this.healthCheckInterval = interval;
      return this;
    }

    /** Adds a tunnel server the client can use. */
    public Builder peer(TunnelPeer peer) {
      peers.add(requireNonNull(peer, "peer"));
      return this;
    }

    /** Adds a forward entry: connections it takes are tunnelled through peer {@code peerIndex}. */
    public Builder forward(ForwardEntry entry, int peerIndex) {
      forwards.add(requireNonNull(entry, "entry"));
      forwardPeers.add(peerIndex);
      return this;
    }

    /** Runs the tunnel server on {@code bind} ({@code ip:port}). */
    public Builder bindServer(String bind) {
      this.serverBind = requireNonNull(bind, "bind");
      return this;
    }

    /** The tunnel server's TLS (default: none, a plain TCP tunnel server). */
    public Builder serverTls(TunnelTls tls) {
      this.serverTls = requireNonNull(tls, "tls");
      return this;
    }

    /**
     * Adds what peers may reach through the server. Without any entry the server allows only destinations on its
     * own host: loopback ({@code 127.0.0.0/8}, {@code ::1}, {@code localhost}) and the address it listens on, any
     * port, never relaying to other hosts. Once one is given, only the listed entries apply.
     */
    public Builder allow(TunnelAllow entry) {
      allow.add(requireNonNull(entry, "entry"));
      return this;
    }

    /**
     * Tells redirected connections' original destinations (conduit-netfilter); default
     * {@link OriginalDestinationResolver#NONE}.
     */
    public Builder resolver(OriginalDestinationResolver value) {
      this.resolver = requireNonNull(value, "value");
      return this;
    }

    /** How often the PEM files are checked for changes (default 10 s). */
    public Builder tlsCheckInterval(Duration interval) {
      this.tlsCheckInterval = requireNonNull(interval, "interval");
      return this;
    }

    /**
     * Judges the peer of every TLS tunnel, on the server's listener and on the client's peers (e.g. a
     * {@link dev.conduit.core.pki.PeerDenyList} fed with the mesh's revoked nodes), so a revoked peer is refused
     * and its open tunnels closed. Default: none.
     */
    public Builder peerGuard(PeerGuard value) {
      this.guard = requireNonNull(value, "value");
      return this;
    }

    /**
     * Maps the settings; reads the PEM files (blocking I/O: call at start-up, not on an event loop) and starts
     * watching them. Logs a WARN for every plain TCP tunnel.
     *
     * @throws IllegalArgumentException naming the first invalid value
     * @throws IOException if a PEM file cannot be read
     */
    public MeshPlan build() throws IOException {
      return of(this);
    }
  }

  @Override
  public String toString() {
    return "MeshPlan[listeners=" + listeners + ", outbounds=" + outbounds + ", rules=" + rules.size() + "]";
  }
}
