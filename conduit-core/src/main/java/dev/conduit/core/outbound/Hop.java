package dev.conduit.core.outbound;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.Credentials;
import dev.conduit.core.Destination;
import dev.conduit.core.pki.PeerGuard;
import io.netty.handler.ssl.SslContext;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * One proxy step of an {@link Outbound}: a group of equivalent proxy endpoints (tried in order,
 * with failover) spoken to with one protocol.
 *
 * <pre>{@code
 * Hop corp = Hop.builder(Hop.Protocol.HTTP)
 *     .endpoint(Destination.of("proxy-a.corp", 3128))
 *     .endpoint(Destination.of("proxy-b.corp", 3128))   // used when proxy-a is down
 *     .credentials(new Credentials("svc", "secret"))
 *     .build();
 * Hop socks = Hop.parse("socks5://user:pass@10.0.0.3:1080");
 * }</pre>
 */
public final class Hop {

  /** How conduit talks to the hop's endpoints. */
  public enum Protocol {
    /** HTTP {@code CONNECT} (RFC 9110 §9.3.6), optionally over TLS. */
    HTTP,
    /** SOCKS5 {@code CONNECT} (RFC 1928), optionally with username/password (RFC 1929). */
    SOCKS5
  }

  private final Protocol protocol;
  private final List<Destination> endpoints;
  private final Credentials credentials;
  private final boolean tls;
  private final Supplier<SslContext> sslContext;
  private final String tlsServerName;
  private final boolean forwardClientAddress;
  private final boolean multiplex;
  private final PeerGuard peerGuard;

  private Hop(Builder b) {
    this.protocol = b.protocol;
    this.endpoints = List.copyOf(b.endpoints);
    this.credentials = b.credentials;
    this.tls = b.tls;
    this.sslContext = b.sslContext;
    this.tlsServerName = b.tlsServerName;
    this.forwardClientAddress = b.forwardClientAddress;
    this.multiplex = b.multiplex;
    this.peerGuard = b.peerGuard;
  }

  /** The guard asked about the server of each TLS connection to this hop ({@link Builder#peerGuard}), if any. */
  public Optional<PeerGuard> peerGuard() {
    return Optional.ofNullable(peerGuard);
  }

  /** A builder for a hop of this protocol. */
  public static Builder builder(Protocol protocol) {
    return new Builder(protocol);
  }

  /**
   * Parses a proxy URL: {@code http://[user:pass@]host[:port]} (default port 80),
   * {@code https://…} (TLS to the proxy, default port 443), {@code socks5://…} or {@code socks5h://…}
   * (default port 1080). Names are always resolved by the proxy.
   *
   * @throws IllegalArgumentException naming what is wrong with the URL
   */
  public static Hop parse(String url) {
    requireNonNull(url, "url");
    URI uri;
    try {
      uri = new URI(url.trim());
    } catch (java.net.URISyntaxException e) {
      throw new IllegalArgumentException("upstream: " + redact(url) + " (expected: scheme://[user:pass@]host:port)");
    }
    String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
    Builder b;
    int defaultPort;
    switch (scheme) {
      case "http" -> {
        b = builder(Protocol.HTTP);
        defaultPort = 80;
      }
      case "https" -> {
        b = builder(Protocol.HTTP).tls(true);
        defaultPort = 443;
      }
      case "socks5", "socks5h" -> {
        b = builder(Protocol.SOCKS5);
        defaultPort = 1080;
      }
      default -> throw new IllegalArgumentException(
          "upstream: " + redact(url) + " (expected scheme: http, https, socks5 or socks5h)");
    }
    if (uri.getHost() == null) {
      throw new IllegalArgumentException("upstream: " + redact(url) + " (expected: a host)");
    }
    if (uri.getRawPath() != null && !uri.getRawPath().isEmpty() && !uri.getRawPath().equals("/")) {
      throw new IllegalArgumentException("upstream: " + redact(url) + " (expected: no path)");
    }
    if (uri.getRawQuery() != null || uri.getRawFragment() != null) {
      throw new IllegalArgumentException("upstream: " + redact(url) + " (expected: no query or fragment)");
    }
    int port = uri.getPort() >= 0 ? uri.getPort() : defaultPort;
    if (port < 1 || port > 65535) {
      throw new IllegalArgumentException("upstream: " + redact(url) + " (expected: port 1-65535)");
    }
    b.endpoint(Destination.of(uri.getHost(), port));
    String userInfo = uri.getRawUserInfo();
    if (userInfo != null) {
      int colon = userInfo.indexOf(':');
      String user = decode(colon < 0 ? userInfo : userInfo.substring(0, colon));
      String pass = colon < 0 ? "" : decode(userInfo.substring(colon + 1));
      b.credentials(new Credentials(user, pass));
    }
    return b.build();
  }

  private static String decode(String s) {
    return URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8);
  }

  private static String redact(String url) {
    return url.replaceAll("//[^@/]*@", "//****@");
  }

  /** The protocol spoken to the endpoints. */
  public Protocol protocol() {
    return protocol;
  }

  /** The endpoints, in order of preference. */
  public List<Destination> endpoints() {
    return endpoints;
  }

  /** Credentials for the proxy, if any. */
  public Optional<Credentials> credentials() {
    return Optional.ofNullable(credentials);
  }

  /** Whether the connection to the endpoint is wrapped in TLS. */
  public boolean tls() {
    return tls;
  }

  /**
   * The TLS client context for a new connection (asked on every dial, so a reloaded certificate is
   * used by new tunnels); empty means the JDK's default trust store.
   */
  public Optional<SslContext> sslContext() {
    return sslContext == null ? Optional.empty() : Optional.of(sslContext.get());
  }

  /** The name sent in SNI and verified in the proxy's certificate; empty means the endpoint's host. */
  public Optional<String> tlsServerName() {
    return Optional.ofNullable(tlsServerName);
  }

  /** Whether an HTTP hop sends the client's address in a {@code Forwarded} header (RFC 7239). */
  public boolean forwardClientAddress() {
    return forwardClientAddress;
  }

  /**
   * Whether tunnels through this hop are HTTP/2 {@code CONNECT} streams multiplexed over pooled TLS connections
   * (one per event loop and endpoint) instead of one HTTP/1.1 connection each; see {@link Builder#multiplex}.
   */
  public boolean multiplex() {
    return multiplex;
  }

  @Override
  public String toString() {
    String scheme = protocol == Protocol.HTTP ? (tls ? (multiplex ? "https+h2" : "https") : "http") : "socks5";
    return scheme + "://" + (credentials != null ? credentials.username() + ":****@" : "") + endpoints;
  }

  /** Builds a {@link Hop}. */
  public static final class Builder {
    private final Protocol protocol;
    private final List<Destination> endpoints = new ArrayList<>();
    private Credentials credentials;
    private boolean tls;
    private Supplier<SslContext> sslContext;
    private String tlsServerName;
    private boolean forwardClientAddress;
    private boolean multiplex;
    private PeerGuard peerGuard;

    private Builder(Protocol protocol) {
      this.protocol = requireNonNull(protocol, "protocol");
    }

    /** Adds an endpoint; endpoints are tried in order and a failed one is skipped for a while. */
    public Builder endpoint(Destination endpoint) {
      endpoints.add(requireNonNull(endpoint, "endpoint"));
      return this;
    }

    /** Credentials sent to the proxy (HTTP Basic or SOCKS5 username/password). */
    public Builder credentials(Credentials value) {
      this.credentials = requireNonNull(value, "credentials");
      return this;
    }

    /** Wraps the connection to the endpoint in TLS (an {@code https://} proxy, or an mTLS tunnel). */
    public Builder tls(boolean value) {
      this.tls = value;
      return this;
    }

    /** The TLS client context (trust roots, client certificate); implies {@code tls(true)}. */
    public Builder sslContext(SslContext value) {
      requireNonNull(value, "sslContext");
      return sslContext(() -> value);
    }

    /**
     * The TLS client context, asked for on every dial (e.g. {@code ReloadingTlsMaterial::clientContext},
     * so renewed certificates are used by new connections); implies {@code tls(true)}.
     */
    public Builder sslContext(Supplier<SslContext> value) {
      requireNonNull(value, "sslContext");
      SslContext now = requireNonNull(value.get(), "sslContext.get()");
      if (!now.isClient()) {
        throw new IllegalArgumentException("sslContext: a server context (expected: a client context)");
      }
      this.sslContext = value;
      this.tls = true;
      return this;
    }

    /** The TLS server name, when it differs from the endpoint's host. */
    public Builder tlsServerName(String value) {
      this.tlsServerName = requireNonNull(value, "tlsServerName");
      return this;
    }

    /** Sends {@code Forwarded: for=<client>} on HTTP CONNECT (used by conduit-to-conduit tunnels). */
    public Builder forwardClientAddress(boolean value) {
      this.forwardClientAddress = value;
      return this;
    }

    /**
     * Carries each tunnel as an HTTP/2 {@code CONNECT} stream over a pooled TLS connection per event loop and
     * endpoint (a new connection when the server's stream limit is reached or it sent GOAWAY; an idle one
     * closes after a minute), so a new tunnel costs no TCP or TLS handshake. Needs an {@link Protocol#HTTP}
     * hop with an {@link #sslContext(Supplier) sslContext} that offers ALPN {@code h2} (e.g.
     * {@link dev.conduit.core.pki.TlsMaterial#multiplexClientContext()}), a server that selects it (a conduit
     * tunnel listener with {@link dev.conduit.core.pki.TlsMaterial#tunnelServerContext()}), and must be its
     * outbound's only hop. Trade-off: the tunnels share one TCP connection's congestion window and a lost
     * packet stalls all of them (head-of-line blocking).
     */
    public Builder multiplex(boolean value) {
      this.multiplex = value;
      return this;
    }

    /**
     * Asks {@code guard} about the server of every TLS connection to this hop once its certificate is verified,
     * before the {@code CONNECT} is answered: a refused server fails the dial, and the guard may close admitted
     * connections later (e.g. a {@link dev.conduit.core.pki.PeerDenyList} fed with the mesh's revoked
     * certificates), ending their tunnels. Needs TLS.
     */
    public Builder peerGuard(PeerGuard guard) {
      this.peerGuard = requireNonNull(guard, "guard");
      return this;
    }

    /**
     * Builds the hop.
     *
     * @throws IllegalStateException if no endpoint was given, SOCKS5 is combined with TLS, or a multiplexed hop
     *     is not HTTP over TLS
     * @throws IllegalArgumentException if a multiplexed hop's TLS context does not offer ALPN {@code h2}
     */
    public Hop build() {
      if (endpoints.isEmpty()) {
        throw new IllegalStateException("hop: no endpoint (expected: at least one)");
      }
      if (multiplex) {
        if (protocol != Protocol.HTTP || sslContext == null) {
          throw new IllegalStateException("hop: multiplex needs an HTTP hop with an sslContext (expected: "
              + "HTTP/2 over TLS with ALPN h2)");
        }
        SslContext now = sslContext.get();
        if (now.applicationProtocolNegotiator() == null
            || !now.applicationProtocolNegotiator().protocols().contains("h2")) {
          throw new IllegalArgumentException("sslContext: offers no ALPN h2 (expected for multiplex: a context "
              + "such as TlsMaterial.multiplexClientContext())");
        }
      }
      if (peerGuard != null && !tls) {
        throw new IllegalStateException("hop: a peer guard without TLS (expected: an sslContext too)");
      }
      if (protocol == Protocol.SOCKS5 && tls) {
        throw new IllegalStateException("hop: SOCKS5 over TLS is not supported (expected: http or https)");
      }
      return new Hop(this);
    }
  }
}
