package dev.conduit.core;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.observe.ConnectionObserver;
import dev.conduit.core.outbound.Outbound;
import dev.conduit.core.outbound.SocketCustomizer;
import dev.conduit.core.route.Router;
import dev.conduit.core.overload.OverloadPolicy;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Builds a {@link Conduit}. Every part has a default except the listeners.
 *
 * <pre>{@code
 * Conduit conduit = Conduit.builder()
 *     .listener(Listener.builder("mixed").bind("127.0.0.1:1080").protocol(InboundProtocols.mixed()).build())
 *     .outbound(Outbound.builder("corp").hop(Hop.parse("http://proxy.corp:3128")).build())
 *     .router(Router.builder()
 *         .rule(Rule.builder("corp").domainSuffix("corp.example.com").decision(RouteDecision.via("corp")).build())
 *         .build())
 *     .build()
 *     .start();
 * }</pre>
 */
public final class ConduitBuilder {
  ConduitResources resources;
  boolean ownsResources;
  final List<Listener> listeners = new ArrayList<>();
  final Map<String, Outbound> outbounds = new LinkedHashMap<>();
  Router router = Router.direct();
  Timeouts timeouts = Timeouts.defaults();
  TcpKeepAlive keepAlive = TcpKeepAlive.ON;
  final List<ConnectionObserver> observers = new ArrayList<>();
  SocketCustomizer outboundSocketCustomizer = SocketCustomizer.NONE;
  boolean splice = false;
  OverloadPolicy overload = OverloadPolicy.defaults();

  ConduitBuilder() {}

  /**
   * Event loops and resolver to share; when not set the conduit creates its own and closes them on
   * stop.
   */
  public ConduitBuilder resources(ConduitResources value) {
    this.resources = requireNonNull(value, "resources");
    return this;
  }

  /** Adds a listener; names must be unique. */
  public ConduitBuilder listener(Listener value) {
    requireNonNull(value, "listener");
    for (Listener l : listeners) {
      if (l.name().equals(value.name())) {
        throw new IllegalArgumentException("listener: " + value.name() + " defined twice (expected: unique names)");
      }
    }
    listeners.add(value);
    return this;
  }

  /** Adds an outbound that rules can name; names must be unique. */
  public ConduitBuilder outbound(Outbound value) {
    requireNonNull(value, "outbound");
    if (outbounds.putIfAbsent(value.name(), value) != null) {
      throw new IllegalArgumentException("outbound: " + value.name() + " defined twice (expected: unique names)");
    }
    return this;
  }

  /** The router (default: everything direct). */
  public ConduitBuilder router(Router value) {
    this.router = requireNonNull(value, "router");
    return this;
  }

  /** The time limits (default: {@link Timeouts#defaults()}). */
  public ConduitBuilder timeouts(Timeouts value) {
    this.timeouts = requireNonNull(value, "timeouts");
    return this;
  }

  /** TCP keepalive on accepted and dialed sockets (default: on, kernel timers). */
  public ConduitBuilder tcpKeepAlive(TcpKeepAlive value) {
    this.keepAlive = requireNonNull(value, "tcpKeepAlive");
    return this;
  }

  /** Adds an observer of connection events (metrics, access logs). */
  public ConduitBuilder observer(ConnectionObserver value) {
    observers.add(requireNonNull(value, "observer"));
    return this;
  }

  /** Socket options for every outbound socket, e.g. {@code SO_MARK} so netfilter rules skip conduit's own traffic. */
  public ConduitBuilder outboundSocketCustomizer(SocketCustomizer value) {
    this.outboundSocketCustomizer = requireNonNull(value, "outboundSocketCustomizer");
    return this;
  }

  /**
   * Relays tunnels between two plain TCP sockets with {@code splice(2)} (zero-copy: bytes never
   * enter the JVM) when the native epoll transport is in use. Tunnels with TLS on either side, with
   * handlers that watch or change the bytes, or on the NIO transport are relayed by copying as
   * always. Byte counts, half-close, the relay idle timeout and bounded memory (one 64 KiB kernel
   * pipe per direction) hold either way. Default: off.
   */
  public ConduitBuilder splice(boolean value) {
    this.splice = value;
    return this;
  }

  /**
   * The overload manager's budgets: memory conduit buffers and file descriptors, with escalating actions
   * (throttle the biggest holders and shorten timeouts, then refuse new requests as busy, then close the
   * biggest holders). Default: {@link OverloadPolicy#defaults()}, budgets derived from the JVM's direct
   * memory limit and {@code ulimit -n}; {@link OverloadPolicy#disabled()} turns it off.
   */
  public ConduitBuilder overload(OverloadPolicy value) {
    this.overload = requireNonNull(value, "overload");
    return this;
  }

  /**
   * Builds the conduit (not started).
   *
   * @throws IllegalStateException when no listener is set or a rule names an unknown outbound
   */
  public Conduit build() {
    if (listeners.isEmpty()) {
      throw new IllegalStateException("no listener (expected: at least one)");
    }
    Conduit.checkOutbounds(router, outbounds);
    if (resources == null) {
      resources = ConduitResources.create();
      ownsResources = true;
    }
    return new Conduit(this);
  }
}
