package dev.conduit.core;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.inbound.InboundProtocol;
import dev.conduit.core.internal.route.CidrSet;
import dev.conduit.core.outbound.SocketCustomizer;
import dev.conduit.core.pki.PeerGuard;
import io.netty.handler.ssl.SslContext;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * A named bind address and the protocol spoken on it.
 *
 * <pre>{@code
 * Listener http = Listener.builder("http")
 *     .bind(new InetSocketAddress("127.0.0.1", 8080))
 *     .protocol(InboundProtocols.http(HttpInboundOptions.defaults()))
 *     .allowSource("127.0.0.0/8")                // refuse other clients before reading a byte
 *     .build();
 *
 * // a tunnel server: TLS requiring client certificates, the peer identity becomes the principal
 * Listener tunnel = Listener.builder("tunnel")
 *     .bind("0.0.0.0:5053")
 *     .protocol(Tunnel.serverProtocol())
 *     .tls(reloadingMaterial::serverContext)   // each handshake takes the current certificate
 *     .build();
 * }</pre>
 */
public final class Listener {

  private final String name;
  private final InetSocketAddress bindAddress;
  private final InboundProtocol protocol;
  private final SocketCustomizer socketCustomizer;
  private final List<String> allowedSources;
  private final CidrSet allowed;
  private final Supplier<SslContext> tls;
  private final boolean acceptOnEveryLoop;
  private final PeerGuard peerGuard;

  private Listener(Builder b) {
    this.name = b.name;
    this.bindAddress = requireNonNull(b.bindAddress, "bind");
    this.protocol = requireNonNull(b.protocol, "protocol");
    this.socketCustomizer = b.socketCustomizer;
    this.allowedSources = List.copyOf(b.allowedSources);
    CidrSet.Builder cidrs = CidrSet.builder();
    allowedSources.forEach(cidrs::add);
    this.allowed = cidrs.build();
    this.tls = b.tls;
    this.acceptOnEveryLoop = b.acceptOnEveryLoop;
    this.peerGuard = b.peerGuard;
  }

  /** A builder for a listener with this name. */
  public static Builder builder(String name) {
    return new Builder(name);
  }

  /** The listener's name, used in rules, logs and metrics. */
  public String name() {
    return name;
  }

  /** The address to bind; port 0 picks a free port (see {@link Conduit#address(String)}). */
  public InetSocketAddress bindAddress() {
    return bindAddress;
  }

  /** The inbound protocol. */
  public InboundProtocol protocol() {
    return protocol;
  }

  /** Socket options applied to the listening socket before it binds. */
  public SocketCustomizer socketCustomizer() {
    return socketCustomizer;
  }

  /** The client CIDRs allowed to connect; empty allows everyone. */
  public List<String> allowedSources() {
    return allowedSources;
  }

  /**
   * The server TLS context supplier when connections are wrapped in TLS: asked once per accepted
   * connection, so a reloaded certificate is used by new handshakes while established connections keep
   * theirs. With a context that requires client certificates, the verified peer identity
   * ({@link dev.conduit.core.pki.PeerIdentity}) becomes each request's principal unless the protocol
   * sets one.
   */
  public Optional<Supplier<SslContext>> tls() {
    return Optional.ofNullable(tls);
  }

  /** The guard asked about each TLS peer after its handshake ({@link Builder#peerGuard}), if any. */
  public Optional<PeerGuard> peerGuard() {
    return Optional.ofNullable(peerGuard);
  }

  /**
   * Whether every event loop gets its own listening socket ({@code SO_REUSEPORT}, native transport
   * only), so each loop accepts and serves its own connections with no hand-off between threads.
   */
  public boolean acceptOnEveryLoop() {
    return acceptOnEveryLoop;
  }

  /** Whether a client at {@code address} may connect. */
  public boolean admits(InetAddress address) {
    return allowed.isEmpty() || (address != null && allowed.contains(address));
  }

  @Override
  public String toString() {
    return "Listener[" + name + " " + bindAddress + " " + protocol.name() + (tls != null ? "+tls" : "") + "]";
  }

  /** Builds a {@link Listener}. */
  public static final class Builder {
    private final String name;
    private InetSocketAddress bindAddress;
    private InboundProtocol protocol;
    private SocketCustomizer socketCustomizer = SocketCustomizer.NONE;
    private final List<String> allowedSources = new ArrayList<>();
    private Supplier<SslContext> tls;
    private boolean acceptOnEveryLoop = true;
    private PeerGuard peerGuard;

    private Builder(String name) {
      requireNonNull(name, "name");
      if (name.isBlank()) {
        throw new IllegalArgumentException("name: blank (expected: a listener name)");
      }
      this.name = name;
    }

    /** The address to bind. */
    public Builder bind(InetSocketAddress value) {
      this.bindAddress = requireNonNull(value, "bind");
      return this;
    }

    /** Parses {@code ip:port} or {@code [v6]:port} and binds it. */
    public Builder bind(String hostPort) {
      return bind(Destination.parseBindAddress(hostPort));
    }

    /** The protocol spoken on the listener. */
    public Builder protocol(InboundProtocol value) {
      this.protocol = requireNonNull(value, "protocol");
      return this;
    }

    /** Socket options for the listening socket (e.g. {@code IP_TRANSPARENT} for TPROXY). */
    public Builder socketCustomizer(SocketCustomizer value) {
      this.socketCustomizer = requireNonNull(value, "socketCustomizer");
      return this;
    }

    /** Allows clients from this CIDR; once any is given, others are closed on accept. */
    public Builder allowSource(String cidr) {
      CidrSet.builder().add(cidr); // validates
      allowedSources.add(cidr);
      return this;
    }

    /**
     * Wraps every accepted connection in TLS with the context {@code serverContext} returns at accept
     * time (e.g. {@code ReloadingTlsMaterial::serverContext}); the protocol starts after the handshake,
     * which the negotiation timeout bounds.
     */
    public Builder tls(Supplier<SslContext> serverContext) {
      this.tls = requireNonNull(serverContext, "tls");
      return this;
    }

    /**
     * Asks {@code guard} about every TLS peer once its certificate is verified, before the protocol reads a
     * byte: a refused peer's connection is closed, and the guard may close admitted ones later (e.g. a
     * {@link dev.conduit.core.pki.PeerDenyList} fed with the mesh's revoked certificates). Needs {@link #tls}.
     */
    public Builder peerGuard(PeerGuard guard) {
      this.peerGuard = requireNonNull(guard, "guard");
      return this;
    }

    /**
     * With the native (epoll) transport and several event loops, binds one listening socket per loop
     * with {@code SO_REUSEPORT} (default: true): the kernel spreads new connections over the loops, and
     * each connection stays on the loop that accepted it, which saves a cross-thread hand-off and wake-up
     * per connection. The port is checked to be free first, so a second process cannot silently share
     * it. Turn off to keep one listening socket whose loop hands connections round-robin to the others
     * (the only mode with NIO).
     */
    public Builder acceptOnEveryLoop(boolean value) {
      this.acceptOnEveryLoop = value;
      return this;
    }

    /** The listener; the bind address and protocol are required. */
    public Listener build() {
      if (bindAddress == null) {
        throw new IllegalStateException("listener " + name + ": no bind address");
      }
      if (protocol == null) {
        throw new IllegalStateException("listener " + name + ": no protocol");
      }
      if (peerGuard != null && tls == null) {
        throw new IllegalStateException("listener " + name + ": a peer guard without TLS (expected: tls(...) too)");
      }
      return new Listener(this);
    }
  }
}
