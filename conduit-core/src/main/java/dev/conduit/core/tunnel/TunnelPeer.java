package dev.conduit.core.tunnel;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.Destination;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * A tunnel server a {@link MeshPlan}'s client can use: its number (which forward entries name), its addresses,
 * tried in order with failover, its TLS (none: a plain TCP tunnel) and whether the tunnels to it are HTTP/2
 * streams over pooled connections ({@link Tunnel#multiplexedClientHop}).
 *
 * <pre>{@code
 * TunnelPeer peer = TunnelPeer.builder(1).endpoint(Destination.of("198.18.0.11", 5053)).tls(tls).build();
 * }</pre>
 */
public final class TunnelPeer {
  private final int index;
  private final List<Destination> endpoints;
  private final @Nullable TunnelTls tls;
  private final boolean multiplex;

  private TunnelPeer(Builder b) {
    this.index = b.index;
    this.endpoints = List.copyOf(b.endpoints);
    this.tls = b.tls;
    this.multiplex = b.multiplex;
  }

  /** Returns a builder of peer number {@code index}. */
  public static Builder builder(int index) {
    return new Builder(index);
  }

  /** The peer's number, unique in a plan. */
  public int index() {
    return index;
  }

  /** The server's addresses, tried in order. */
  public List<Destination> endpoints() {
    return endpoints;
  }

  /** The tunnel's TLS; empty for plain TCP. */
  public Optional<TunnelTls> tls() {
    return Optional.ofNullable(tls);
  }

  /** Whether tunnels to this peer are multiplexed as HTTP/2 streams. */
  public boolean multiplex() {
    return multiplex;
  }

  @Override
  public String toString() {
    return "TunnelPeer[" + index + " " + endpoints + (tls == null ? " plain" : " " + tls)
        + (multiplex ? " multiplex" : "") + "]";
  }

  /** Builds a {@link TunnelPeer}. */
  public static final class Builder {
    private final int index;
    private final List<Destination> endpoints = new ArrayList<>();
    private @Nullable TunnelTls tls;
    private boolean multiplex;

    private Builder(int index) {
      this.index = index;
    }

    /** Adds an address of the server (tried in the order added). */
    public Builder endpoint(Destination endpoint) {
      endpoints.add(requireNonNull(endpoint, "endpoint"));
      return this;
    }

    /** The tunnel's TLS (default: none, plain TCP). */
    public Builder tls(TunnelTls value) {
      this.tls = requireNonNull(value, "value");
      return this;
    }

    /** Multiplex the tunnels as HTTP/2 streams over pooled connections (default false; needs TLS). */
    public Builder multiplex(boolean value) {
      this.multiplex = value;
      return this;
    }

    /**
     * Builds the peer.
     *
     * @throws IllegalArgumentException without an endpoint, or multiplexed without TLS
     */
    public TunnelPeer build() {
      if (endpoints.isEmpty()) {
        throw new IllegalArgumentException("peer " + index + ": no endpoint (expected: at least one host:port)");
      }
      if (multiplex && tls == null) {
        throw new IllegalArgumentException("peer " + index + ": multiplex without TLS (expected: tls; multiplexed "
            + "tunnels are HTTP/2 negotiated with TLS ALPN)");
      }
      return new TunnelPeer(this);
    }
  }
}
