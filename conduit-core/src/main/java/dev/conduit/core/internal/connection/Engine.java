package dev.conduit.core.internal.connection;

import dev.conduit.core.internal.dial.ChainDialer;
import dev.conduit.core.internal.dial.DialErrors;
import dev.conduit.core.internal.multiplex.MultiplexPool;
import dev.conduit.core.ConduitResources;
import dev.conduit.core.ConnectRequest;
import dev.conduit.core.Destination;
import dev.conduit.core.DialException;
import dev.conduit.core.DialFailure;

import dev.conduit.core.TcpKeepAlive;
import dev.conduit.core.Timeouts;
import dev.conduit.core.inbound.Upstream;
import dev.conduit.core.observe.ConnectionObserver;
import dev.conduit.core.outbound.Outbound;
import dev.conduit.core.outbound.SocketCustomizer;
import dev.conduit.core.route.RouteDecision;
import dev.conduit.core.route.Router;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.util.AttributeKey;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Collections;
import java.util.List;
import dev.conduit.core.overload.OverloadPolicy;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The shared state of a running conduit: routing, outbounds, dialer, observer and the set of open
 * connections. Routing tables can be swapped at run time ({@link #update}); established
 * connections keep what they were dialed with.
 */
public final class Engine {
  private static final Logger log = LoggerFactory.getLogger(Engine.class);
  private static final AtomicLong IDS = new AtomicLong();

  private final ConduitResources resources;
  private final Timeouts timeouts;
  private final TcpKeepAlive keepAlive;
  private final ConnectionObserver observer;
  private final ChainDialer dialer;
  private volatile Routing routing;
  private volatile boolean splice;
  private volatile OverloadManager overload;
  private final Set<InetSocketAddress> ownAddresses = ConcurrentHashMap.newKeySet();
  private final LocalAddresses localAddresses;
  private final Map<String, ConnectionState> connections = new ConcurrentHashMap<>();

  /** On a detached upstream: the {@link Routing} it was dialed under. */
  static final AttributeKey<Routing> ROUTED_UNDER = AttributeKey.valueOf(Engine.class, "routedUnder");

  /** The router and outbounds, swapped together. */
  public record Routing(Router router, Map<String, Outbound> outbounds) {}

  public Engine(ConduitResources resources, Timeouts timeouts, TcpKeepAlive keepAlive, ConnectionObserver observer,
      SocketCustomizer outboundCustomizer, Router router, Map<String, Outbound> outbounds) {
    this(resources, timeouts, keepAlive, observer, outboundCustomizer, router, outbounds, new LocalAddresses());
  }

  /** As the public constructor, with the host's addresses from {@code localAddresses} (tests). */
  Engine(ConduitResources resources, Timeouts timeouts, TcpKeepAlive keepAlive, ConnectionObserver observer,
      SocketCustomizer outboundCustomizer, Router router, Map<String, Outbound> outbounds,
      LocalAddresses localAddresses) {
    this.localAddresses = localAddresses;
    this.resources = resources;
    this.timeouts = timeouts;
    this.keepAlive = keepAlive;
    this.observer = new SafeObserver(observer);
    this.dialer = new ChainDialer(resources, timeouts.dial(), keepAlive, outboundCustomizer,
        new MultiplexPool(resources, keepAlive, outboundCustomizer));
    this.routing = new Routing(router, Map.copyOf(outbounds));
    this.overload = new OverloadManager(OverloadPolicy.disabled(), timeouts, List::of, s -> {});
  }

  /** The overload manager: admission, shortened timeouts, status. */
  public OverloadManager overload() {
    return overload;
  }

  /** Sets the overload manager (before the first connection). */
  public void overload(OverloadManager value) {
    this.overload = value;
  }

  /** A new connection id: short, unique in the process. */
  public static String nextId() {
    return Long.toString(IDS.incrementAndGet(), 36);
  }

  public ConduitResources resources() {
    return resources;
  }

  /** The timeouts for new waits: the configured ones, shortened while conduit is overloaded. */
  public Timeouts timeouts() {
    return overload.timeouts();
  }

  /** The configured timeouts, never shortened. */
  public Timeouts configuredTimeouts() {
    return timeouts;
  }

  public TcpKeepAlive keepAlive() {
    return keepAlive;
  }

  public ConnectionObserver observer() {
    return observer;
  }

  public ChainDialer dialer() {
    return dialer;
  }

  /** Whether tunnels between plain epoll TCP sockets are spliced (zero-copy). */
  public boolean splice() {
    return splice;
  }

  /** See {@link #splice()}. */
  public void splice(boolean value) {
    this.splice = value;
  }

  /** The rules and outbounds in force (replaced as a whole by {@link #update}). */
  public Routing routing() {
    return routing;
  }

  /** Replaces rules and outbounds for new requests. */
  public void update(Router router, Map<String, Outbound> outbounds) {
    this.routing = new Routing(router, Map.copyOf(outbounds));
  }

  /**
   * Registers a bound address of conduit's (a listener, the admin endpoint), so conduit never dials itself.
   * Call off the event loops: a wildcard address loads the host's addresses.
   */
  public void addOwnAddress(InetSocketAddress address) {
    if (address.getAddress().isAnyLocalAddress()) {
      localAddresses.refreshNow();
    }
    ownAddresses.add(address);
  }

  /** Forgets an address given to {@link #addOwnAddress} (its socket closed). */
  public void removeOwnAddress(InetSocketAddress address) {
    ownAddresses.remove(address);
  }

  public Map<String, ConnectionState> connections() {
    return Collections.unmodifiableMap(connections);
  }

  void register(ConnectionState state) {
    connections.put(state.connection().id(), state);
  }

  void unregister(ConnectionState state) {
    connections.remove(state.connection().id());
  }

  /** Routes and dials a request on {@code loop}; see {@code InboundContext#connect}. */
  Future<Upstream> connect(ConnectRequest request, EventLoop loop, ConnectionState state) {
    return connect(request, loop, state, false);
  }

  /** As {@link #connect(ConnectRequest, EventLoop, ConnectionState)}; a detached upstream outlives its downstream. */
  Future<Upstream> connect(ConnectRequest request, EventLoop loop, ConnectionState state, boolean detached) {
    Promise<Upstream> promise = loop.newPromise();
    Routing r = routing;
    Router.Match match = r.router().route(request);
    observer.routed(request, match);
    state.routed(request, match);
    DialException refused = rejection(match);
    if (refused != null) {
      return promise.setFailure(refused);
    }
    if (pointsAtSelf(request)) {
      return promise.setFailure(new DialException(DialFailure.NOT_ALLOWED,
          "loop: " + request.destination() + " is one of conduit's own listeners"));
    }
    Outbound outbound;
    try {
      outbound = outboundFor(r, match);
    } catch (DialException e) {
      return promise.setFailure(e);
    }
    if (!overload.admit()) {
      // the truthful busy reply: HTTP 503, SOCKS5 0x01; nothing is dialed
      return promise.setFailure(new DialException(DialFailure.OVERLOADED,
          "conduit is overloaded (" + overload.level() + "); try again later"));
    }
    long start = System.nanoTime();
    observer.dialStarted(request, outbound.name());
    dialer.dial(request, outbound, loop).addListener((Future<Channel> f) -> {
      Duration elapsed = Duration.ofNanos(System.nanoTime() - start);
      state.dialed(elapsed);
      if (f.isSuccess()) {
        Channel ch = f.getNow();
        InetSocketAddress remote = (InetSocketAddress) ch.remoteAddress();
        if (remote == null) {
          ch.close();
          promise.tryFailure(new DialException(DialFailure.GENERAL, "upstream closed during dial"));
          return;
        }
        if (outbound.isDirect() && isOwnAddress(remote.getAddress(), remote.getPort())) {
          // a name (localhost, a local host name) that resolved to one of conduit's own sockets
          ch.close();
          DialException e = new DialException(DialFailure.NOT_ALLOWED,
              "loop: " + request.destination() + " is one of conduit's own listeners (" + remote + ")");
          observer.dialFailed(request, outbound.name(), e, elapsed);
          promise.tryFailure(e);
          return;
        }
        observer.dialSucceeded(request, outbound.name(), remote, elapsed);
        Upstream up = new Upstream(ch, request, match.rule(), outbound.name(), remote);
        if (detached) {
          ch.attr(ROUTED_UNDER).set(r); // only here: an attribute map costs every short tunnel
        }
        state.upstreamOpened(up, detached, r);
        if (!promise.trySuccess(up)) {
          ch.close();
        }
      } else {
        DialException e = DialErrors.wrap(f.cause(), "dial " + request.destination());
        log.debug("[{}] dial {} via {} failed: {}", request.connection().id(), request.destination(),
            outbound.name(), e.getMessage());
        observer.dialFailed(request, outbound.name(), e, elapsed);
        promise.tryFailure(e);
      }
    });
    return promise;
  }

  private static final Outbound DIRECT = Outbound.direct(Outbound.DIRECT);

  /** What a rejecting rule tells the client, or null when the rule does not reject. */
  private static DialException rejection(Router.Match match) {
    return match.decision() instanceof RouteDecision.Reject reject
        ? new DialException(DialFailure.NOT_ALLOWED, "rejected by rule " + match.rule() + ": " + reject.reason())
        : null;
  }

  /** The outbound a non-rejecting match goes through: the one it names, else direct. */
  private static Outbound outboundFor(Routing r, Router.Match match) throws DialException {
    if (match.decision() instanceof RouteDecision.Via via) {
      Outbound outbound = r.outbounds().get(via.outbound());
      if (outbound == null) {
        throw new DialException(DialFailure.GENERAL, "rule " + match.rule() + " names unknown outbound " + via.outbound());
      }
      return outbound;
    }
    return r.outbounds().getOrDefault(Outbound.DIRECT, DIRECT);
  }

  /** Routes and resolves a datagram's destination on {@code loop}; see {@code InboundContext#routeDatagram}. */
  Future<InetSocketAddress> routeDatagram(ConnectRequest request, EventLoop loop) {
    Routing r = routing;
    Router.Match match = r.router().route(request);
    DialException refused = rejection(match);
    if (refused != null) {
      return loop.newFailedFuture(refused);
    }
    Outbound outbound;
    try {
      outbound = outboundFor(r, match);
    } catch (DialException e) {
      return loop.newFailedFuture(e);
    }
    if (!outbound.isDirect()) {
      return loop.newFailedFuture(new DialException(DialFailure.NOT_ALLOWED,
          "rule " + match.rule() + " sends it through outbound " + outbound.name() + ": datagrams go direct only"));
    }
    Destination dst = request.destination();
    if (dst.isIpLiteral()) {
      return loop.newSucceededFuture(new InetSocketAddress(dst.ipAddress(), dst.port()));
    }
    Promise<InetSocketAddress> promise = loop.newPromise();
    resources.resolver().getResolver(loop).resolve(InetSocketAddress.createUnresolved(dst.host(), dst.port()))
        .addListener((Future<InetSocketAddress> f) -> {
          if (f.isSuccess()) {
            promise.trySuccess(f.getNow());
          } else {
            promise.tryFailure(new DialException(DialFailure.HOST_UNREACHABLE,
                "cannot resolve " + dst.host() + ": " + f.cause().getMessage(), f.cause()));
          }
        });
    return promise;
  }

  /** Whether {@code request} is for one of conduit's own listeners. Runs on event loops: never blocks. */
  boolean pointsAtSelf(ConnectRequest request) {
    InetAddress ip = request.destination().ipAddress();
    if (ip == null) {
      return false;
    }
    return isOwnAddress(ip, request.destination().port());
  }

  /** Whether {@code ip:port} reaches one of conduit's own sockets (listeners, admin endpoint). */
  private boolean isOwnAddress(InetAddress ip, int port) {
    if (ownAddresses.isEmpty()) {
      return false;
    }
    for (InetSocketAddress own : ownAddresses) {
      if (own.getPort() != port) {
        continue;
      }
      InetAddress bound = own.getAddress();
      if (bound.equals(ip)) {
        return true;
      }
      if (bound.isAnyLocalAddress() && localAddresses.contains(ip)) {
        return true;
      }
    }
    return false;
  }

  /** Guards the engine against observers that throw. */
  private static final class SafeObserver implements ConnectionObserver {
    private final ConnectionObserver delegate;

    SafeObserver(ConnectionObserver delegate) {
      this.delegate = delegate;
    }

    private static void run(Runnable r) {
      try {
        r.run();
      } catch (RuntimeException e) {
        log.warn("connection observer threw; ignored", e);
      }
    }

    @Override
    public void accepted(dev.conduit.core.ConnectionInfo c) {
      run(() -> delegate.accepted(c));
    }

    @Override
    public void routed(ConnectRequest r, Router.Match m) {
      run(() -> delegate.routed(r, m));
    }

    @Override
    public void dialStarted(ConnectRequest r, String o) {
      run(() -> delegate.dialStarted(r, o));
    }

    @Override
    public void dialSucceeded(ConnectRequest r, String o, InetSocketAddress a, Duration d) {
      run(() -> delegate.dialSucceeded(r, o, a, d));
    }

    @Override
    public void dialFailed(ConnectRequest r, String o, DialException e, Duration d) {
      run(() -> delegate.dialFailed(r, o, e, d));
    }

    @Override
    public void closed(dev.conduit.core.observe.ConnectionSummary s) {
      run(() -> delegate.closed(s));
    }

    @Override
    public void overload(dev.conduit.core.overload.OverloadStatus s) {
      run(() -> delegate.overload(s));
    }
  }

}
