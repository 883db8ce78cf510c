package dev.conduit.core.tunnel;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.Destination;
import dev.conduit.core.inbound.InboundProtocol;
import dev.conduit.core.inbound.OriginalDestinationResolver;
import dev.conduit.core.internal.tunnel.ForwardInbound;
import dev.conduit.core.internal.tunnel.TunnelServerProtocol;
import dev.conduit.core.outbound.Hop;
import dev.conduit.core.pki.PeerGuard;
import io.netty.handler.ssl.SslContext;
import java.util.List;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * The parts of a conduit-to-conduit tunnel: HTTP/1.1 {@code CONNECT} over mutually authenticated TLS.
 *
 * <p>Wire format, client to server, after the TLS 1.3 handshake in which both sides present certificates
 * issued under the mesh's trust roots:
 * <pre>
 * CONNECT 127.0.0.1:80 HTTP/1.1
 * Host: 127.0.0.1:80
 * Forwarded: for="10.0.0.5:41000"          (the original client, RFC 7239)
 *
 * HTTP/1.1 200 Connection Established      (then raw bytes both ways, half-close carried through)
 *
 * HTTP/1.1 403 Forbidden                   (or 502 / 504; then the server closes)
 * Proxy-Status: conduit; error=destination_ip_prohibited; details="..."   (RFC 9209)
 * </pre>
 * The request head is limited to 8 KiB; anything but {@code CONNECT} gets {@code 405}.
 *
 * <p>Multiplexed mode ({@link #multiplexedClientHop}): when the client asks for ALPN {@code h2} and the
 * server's context offers it ({@link dev.conduit.core.pki.TlsMaterial#tunnelServerContext()}), the connection
 * is HTTP/2 and each tunnel is one stream on it, so a new tunnel costs no TCP or TLS handshake:
 * <pre>
 * HEADERS  :method CONNECT  :authority 127.0.0.1:80  forwarded for="10.0.0.5:41000"
 * HEADERS  :status 200                              (then DATA both ways; END_STREAM is the half-close)
 * HEADERS  :status 403  proxy-status conduit; error=destination_ip_prohibited; details="..."  END_STREAM
 * </pre>
 * Refusals end only their stream. The server allows 1000 concurrent streams per connection, 8 KiB of
 * headers, 1 MiB of receive window per stream and 16 MiB per connection; clients without ALPN {@code h2} get
 * HTTP/1.1 from the same listener. The trade-off: the tunnels to one peer share one TCP connection, its
 * congestion window and its head-of-line blocking (a lost packet stalls every stream behind it).
 *
 * <p>The server's
 * principal for routing is the client certificate's identity ({@link dev.conduit.core.pki.PeerIdentity}),
 * so which destinations each peer may reach is a set of router rules on the tunnel listener.
 *
 * <pre>{@code
 * // host B
 * Listener.builder("tunnel").bind("0.0.0.0:5053").protocol(Tunnel.serverProtocol()).tls(material::serverContext)
 * Rule.builder("peer-a-db").listener("tunnel").principal("spiffe://mesh/a").destinationCidr("127.0.0.1/32")
 *     .port(3306).decision(RouteDecision.direct())
 * Rule.builder("tunnel-deny").listener("tunnel").decision(RouteDecision.reject("not allowed for this peer"))
 * // host A
 * Outbound.builder("to-b").hop(Tunnel.clientHop(List.of(Destination.of("10.0.0.2", 5053)), material::clientContext))
 * // or multiplexed (B's listener then uses material::tunnelServerContext)
 * Outbound.builder("to-b").hop(Tunnel.multiplexedClientHop(List.of(Destination.of("10.0.0.2", 5053)),
 *     material::multiplexClientContext))
 * }</pre>
 */
public final class Tunnel {
  private Tunnel() {}

  /**
   * The tunnel server protocol: one {@code CONNECT} per connection, answered with {@code 200} and relayed,
   * or refused with the status and {@code Proxy-Status} error of the routing or dial failure. Give the
   * listener {@code tls(...)} with a context that requires client certificates.
   */
  public static InboundProtocol serverProtocol() {
    return new TunnelServerProtocol();
  }

  /**
   * The tunnel client's plain TCP listener protocol: the destination comes from {@code entries} (the
   * forward table), by the original destination when {@code resolver} reports a redirection, else
   * by the listener's own port (or the only entry). Route the resulting destinations to a tunnel
   * outbound with rules on this listener.
   */
  public static InboundProtocol forwardProtocol(List<ForwardEntry> entries, OriginalDestinationResolver resolver) {
    requireNonNull(entries, "entries");
    requireNonNull(resolver, "resolver");
    if (entries.isEmpty()) {
      throw new IllegalArgumentException("entries: empty (expected: at least one forward_table entry)");
    }
    return new ForwardInbound(entries, resolver);
  }

  /**
   * A hop to tunnel servers: {@code CONNECT} over TLS with the client context {@code tls} returns at each
   * dial ({@code null}: plain TCP, readable and alterable by anyone on the path), sending the original
   * client in {@code Forwarded}. The endpoints are tried in order with failover.
   */
  public static Hop clientHop(List<Destination> endpoints, @Nullable Supplier<SslContext> tls) {
    return clientHop(endpoints, tls, null);
  }

  /**
   * {@link #clientHop(List, Supplier)} whose servers {@code guard} judges after each handshake (null: none; needs
   * {@code tls}): a refused server fails the dial, and tunnels to a server denied later are closed.
   */
  public static Hop clientHop(List<Destination> endpoints, @Nullable Supplier<SslContext> tls,
      @Nullable PeerGuard guard) {
    requireNonNull(endpoints, "endpoints");
    Hop.Builder b = Hop.builder(Hop.Protocol.HTTP).forwardClientAddress(true);
    endpoints.forEach(b::endpoint);
    if (tls != null) {
      b.sslContext(tls);
    }
    if (guard != null) {
      b.peerGuard(guard);
    }
    return b.build();
  }

  /**
   * A hop to tunnel servers that carries each tunnel as an HTTP/2 {@code CONNECT} stream over TLS connections
   * pooled per event loop and endpoint ({@link Hop.Builder#multiplex}), sending the original client in
   * {@code forwarded}. {@code tls} must offer ALPN {@code h2} (e.g.
   * {@link dev.conduit.core.pki.TlsMaterial#multiplexClientContext()}) and the servers must select it (a tunnel
   * listener with {@link dev.conduit.core.pki.TlsMaterial#tunnelServerContext()}); a server that does not fails
   * the dial with a message saying so. Endpoints are tried in order with failover. The hop must be its
   * outbound's only hop.
   *
   * @throws IllegalArgumentException if {@code tls} offers no ALPN {@code h2}
   */
  public static Hop multiplexedClientHop(List<Destination> endpoints, Supplier<SslContext> tls) {
    return multiplexedClientHop(endpoints, tls, null);
  }

  /**
   * {@link #multiplexedClientHop(List, Supplier)} whose servers {@code guard} judges after each handshake (null:
   * none): a refused server fails the dial, and the pooled connection to a server denied later is closed with
   * all its streams.
   *
   * @throws IllegalArgumentException if {@code tls} offers no ALPN {@code h2}
   */
  public static Hop multiplexedClientHop(List<Destination> endpoints, Supplier<SslContext> tls, PeerGuard guard) {
    requireNonNull(endpoints, "endpoints");
    requireNonNull(tls, "tls");
    Hop.Builder b = Hop.builder(Hop.Protocol.HTTP).forwardClientAddress(true).multiplex(true).sslContext(tls);
    endpoints.forEach(b::endpoint);
    if (guard != null) {
      b.peerGuard(guard);
    }
    return b.build();
  }
}
