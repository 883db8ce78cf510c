package dev.conduit.core.admin;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.ConduitPipeline;
import dev.conduit.core.Conduit;
import dev.conduit.core.pki.TlsMaterial;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpServerKeepAliveHandler;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.OpenSslContextOption;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.util.NetUtil;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.IOException;
import java.net.BindException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A small HTTP/1.1 admin endpoint for a running {@link Conduit}.
 *
 * <table>
 * <caption>Endpoints</caption>
 * <tr><td>{@code GET /metrics}</td><td>the text of the {@linkplain Builder#metrics metrics supplier}
 *     (for Prometheus: {@code registry::scrape}); 404 without one</td></tr>
 * <tr><td>{@code GET /healthz}</td><td>200 when every event loop of the conduit runs a task within
 *     {@value #HEALTH_TIMEOUT_MS} ms, 503 otherwise</td></tr>
 * <tr><td>{@code GET /readyz}</td><td>200 when {@linkplain Builder#readiness ready} (by default:
 *     started and not draining) and the conduit's overload level does not refuse new requests, 503 otherwise;
 *     the body's second line names the overload level</td></tr>
 * <tr><td>{@code GET /connections}</td><td>the live connections as a JSON array (fields as the
 *     {@link dev.conduit.core.observe.AccessLog access log}; {@code total_ms} is the age and
 *     {@code outcome} the outcome so far)</td></tr>
 * <tr><td>{@code GET /connections/{id}}</td><td>one connection, or 404</td></tr>
 * <tr><td>{@code DELETE /connections/{id}}</td><td>closes it: 204, or 404 when there is none</td></tr>
 * <tr><td>{@code GET /config}</td><td>the text of the {@linkplain Builder#config config supplier}
 *     (which must mask secrets); 404 without one</td></tr>
 * </table>
 *
 * <p>Roles add their own endpoints by {@linkplain Builder#route mounting routes} under a path prefix.
 * Other paths answer 404, other methods 405. With a {@linkplain Builder#token token}, every
 * request needs {@code Authorization: Bearer <token>} or gets 401. Binds 127.0.0.1:9090 by default.
 *
 * <p>With {@linkplain Builder#tls TLS} the endpoint serves HTTPS only (TLS 1.3 and 1.2). It may ask clients for
 * a certificate issued under the material's trust roots ({@link ClientCertificates#OPTIONAL}) or refuse
 * handshakes without one ({@link ClientCertificates#REQUIRED}). A verified client certificate is a credential of
 * its own: a request that carries one needs no token, and routes see its identity
 * ({@link AdminRequest#clientCertificate()}, the first URI, else DNS name, else common name).
 *
 * <p>The server runs on its own single event-loop thread, never on the conduit's: the suppliers
 * (a Prometheus scrape, a config dump) run there and may take a few milliseconds without delaying
 * traffic, but must not block for long.
 */
public final class AdminServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(AdminServer.class);

  /** How long {@code /healthz} waits for each event loop. */
  public static final long HEALTH_TIMEOUT_MS = 2000;

  /** The Prometheus text exposition format's content type. */
  public static final String PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8";

  private static final int DEFAULT_MAX_REQUEST_BYTES = 8192;
  private static final int ROUTE_THREADS = 4;
  private static final int ROUTE_QUEUE = 64;
  private static final String JSON = "application/json";
  private static final String TEXT = "text/plain; charset=utf-8";

  private final InetSocketAddress bindAddress;
  final byte[] expectedAuthorization;
  final Conduit conduit;
  final Supplier<String> metrics;
  final String metricsContentType;
  final Supplier<String> config;
  final String configContentType;
  final BooleanSupplier readiness;
  final Map<String, AdminRoute> routes;
  private final int maxRequestBytes;
  private final TlsMaterial tls;
  private final ClientCertificates clientCertificates;
  private SslContext sslContext;
  private EventLoopGroup group;
  volatile ThreadPoolExecutor routeExecutor;
  private Channel serverChannel;

  private AdminServer(Builder b) {
    this.bindAddress = b.bindAddress;
    this.expectedAuthorization = b.token == null ? null : ("Bearer " + b.token).getBytes(StandardCharsets.UTF_8);
    this.conduit = b.conduit;
    this.metrics = b.metrics;
    this.metricsContentType = b.metricsContentType;
    this.config = b.config;
    this.configContentType = b.configContentType;
    this.routes = Map.copyOf(b.routes);
    this.maxRequestBytes = b.maxRequestBytes;
    this.tls = b.tls;
    this.clientCertificates = b.clientCertificates;
    if (b.readiness != null) {
      this.readiness = b.readiness;
    } else if (conduit != null) {
      this.readiness = conduit::isRunning;
    } else {
      this.readiness = () -> true;
    }
  }

  /** Whether and how the endpoint asks HTTPS clients for a certificate. */
  public enum ClientCertificates {
    /** Clients are not asked for a certificate. */
    NONE,
    /** Clients may present a certificate issued under the trust roots; a request with one needs no token. */
    OPTIONAL,
    /** Handshakes without a certificate issued under the trust roots fail. */
    REQUIRED
  }

  /** A builder. */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Binds and starts serving.
   *
   * @return this
   * @throws IOException when the address cannot be bound
   */
  public synchronized AdminServer start() throws IOException {
    if (group != null) {
      throw new IllegalStateException("already started");
    }
    if (tls != null && sslContext == null) {
      sslContext = sslContext(tls, clientCertificates); // fails here, not on the first connection
    }
    group = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("conduit-admin", true),
        NioIoHandler.newFactory());
    // routes may read files or a database: they run here, never on the admin event loop
    routeExecutor = new ThreadPoolExecutor(ROUTE_THREADS, ROUTE_THREADS, 30, TimeUnit.SECONDS,
        new ArrayBlockingQueue<>(ROUTE_QUEUE), new DefaultThreadFactory("conduit-admin-route", true));
    routeExecutor.allowCoreThreadTimeOut(true);
    ChannelFuture f = new ServerBootstrap()
        .group(group)
        .channel(NioServerSocketChannel.class)
        .childHandler(new ChannelInitializer<SocketChannel>() {
          @Override
          protected void initChannel(SocketChannel ch) {
            if (sslContext != null) {
              ch.pipeline().addLast(ConduitPipeline.ADMIN_TLS, sslContext.newHandler(ch.alloc()));
            }
            ch.pipeline()
                .addLast(ConduitPipeline.ADMIN_CODEC, new HttpServerCodec(4096, 8192, 8192))
                .addLast(ConduitPipeline.ADMIN_KEEP_ALIVE, new HttpServerKeepAliveHandler())
                .addLast(ConduitPipeline.ADMIN_AGGREGATOR, new AdminAggregator(maxRequestBytes))
                .addLast(ConduitPipeline.ADMIN, new AdminHandler(AdminServer.this));
          }
        })
        .bind(bindAddress).awaitUninterruptibly();
    if (!f.isSuccess()) {
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
      group = null;
      routeExecutor.shutdownNow();
      routeExecutor = null;
      throw new BindException("admin: cannot bind " + bindAddress + ": " + f.cause().getMessage());
    }
    serverChannel = f.channel();
    if (conduit != null) { // the admin port is never a tunnel destination
      InetSocketAddress own = (InetSocketAddress) serverChannel.localAddress();
      conduit.addOwnAddress(own);
      serverChannel.closeFuture().addListener(closed -> conduit.removeOwnAddress(own));
    }
    log.info("admin endpoint on {}{}{}", serverChannel.localAddress(), tls == null ? "" : " (HTTPS, client"
        + " certificates " + clientCertificates.name().toLowerCase(java.util.Locale.ROOT) + ")",
        expectedAuthorization == null ? "" : " (token required)");
    return this;
  }

  /** Whether the endpoint serves HTTPS. */
  public boolean isTls() {
    return tls != null;
  }

  /** Whether a verified client certificate stands for a token (the endpoint asks for client certificates). */
  boolean acceptsClientCertificates() {
    return tls != null && clientCertificates != ClientCertificates.NONE;
  }

  private static SslContext sslContext(TlsMaterial material, ClientCertificates clientCertificates) {
    SslProvider provider = TlsMaterial.preferredProvider();
    try {
      SslContextBuilder b = SslContextBuilder.forServer(material.privateKey(), material.certificateChain())
          .sslProvider(provider)
          .protocols(TlsMaterial.PROTOCOLS)
          .clientAuth(switch (clientCertificates) {
            case NONE -> ClientAuth.NONE;
            case OPTIONAL -> ClientAuth.OPTIONAL;
            case REQUIRED -> ClientAuth.REQUIRE;
          });
      if (clientCertificates != ClientCertificates.NONE) {
        b.trustManager(material.trustedCertificates());
      }
      if (provider != SslProvider.JDK) {
        b.option(OpenSslContextOption.GROUPS, TlsMaterial.KEY_EXCHANGE_GROUPS.toArray(String[]::new));
      }
      return b.build();
    } catch (SSLException e) {
      throw new IllegalStateException("admin TLS: " + e.getMessage(), e);
    }
  }

  /** The bound address (useful with port 0). */
  public InetSocketAddress address() {
    Channel ch = serverChannel;
    if (ch == null) {
      throw new IllegalStateException("not started");
    }
    return (InetSocketAddress) ch.localAddress();
  }

  /** Stops serving and closes open admin connections. */
  @Override
  public synchronized void close() {
    if (group != null) {
      serverChannel.close().awaitUninterruptibly();
      group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
      group = null;
      routeExecutor.shutdownNow();
      routeExecutor = null;
    }
  }

  @Override
  public String toString() {
    return "AdminServer[" + bindAddress + (tls == null ? "" : ", https " + tls.certificate().getSubjectX500Principal()
        + ", client certificates " + clientCertificates) + (expectedAuthorization == null ? "" : ", token ****") + "]";
  }

  /** Builds an {@link AdminServer}. */
  public static final class Builder {
    private InetSocketAddress bindAddress = new InetSocketAddress("127.0.0.1", 9090);
    private String token;
    private Conduit conduit;
    private Supplier<String> metrics;
    private String metricsContentType = PROMETHEUS_TEXT;
    private Supplier<String> config;
    private String configContentType = JSON;
    private BooleanSupplier readiness;
    private final Map<String, AdminRoute> routes = new LinkedHashMap<>();
    private int maxRequestBytes = DEFAULT_MAX_REQUEST_BYTES;
    private TlsMaterial tls;
    private ClientCertificates clientCertificates = ClientCertificates.NONE;

    private Builder() {}

    /**
     * Serves HTTPS with the certificate of {@code material} (default: plain HTTP). With
     * {@code clientCertificates} other than {@link ClientCertificates#NONE}, client certificates are verified
     * against the material's trust roots (the admins' CA): a request over a connection with a verified one needs
     * no token, and routes see its identity.
     *
     * @param material the endpoint's key, certificate chain and the roots client certificates are checked against
     * @param clientCertificates whether clients are asked for a certificate
     * @return this
     */
    public Builder tls(TlsMaterial material, ClientCertificates clientCertificates) {
      this.tls = requireNonNull(material, "material");
      this.clientCertificates = requireNonNull(clientCertificates, "clientCertificates");
      return this;
    }

    /**
     * Mounts a route: requests whose path is {@code prefix} or lies below it ({@code prefix + "/…"})
     * go to {@code route}, after the token check. Built-in paths ({@code /metrics}, {@code /healthz},
     * {@code /readyz}, {@code /config}, {@code /connections}) cannot be mounted over.
     *
     * @param prefix a path such as {@code /cache}: starts with {@code /}, no query, not {@code /}
     * @param route the route
     * @return this
     */
    public Builder route(String prefix, AdminRoute route) {
      requireNonNull(prefix, "prefix");
      requireNonNull(route, "route");
      if (!prefix.startsWith("/") || prefix.length() < 2 || prefix.endsWith("/") || prefix.contains("?")) {
        throw new IllegalArgumentException("prefix: " + prefix + " (expected: a path such as /cache)");
      }
      for (String builtIn : List.of("/metrics", "/healthz", "/readyz", "/config", "/connections")) {
        if (prefix.equals(builtIn) || prefix.startsWith(builtIn + "/")) {
          throw new IllegalArgumentException("prefix: " + prefix + " is a built-in admin path");
        }
      }
      if (routes.putIfAbsent(prefix, route) != null) {
        throw new IllegalArgumentException("prefix: " + prefix + " is mounted already");
      }
      return this;
    }

    /** The largest request (head and body) the endpoint reads; larger ones get 413 (default: 8 KiB). */
    public Builder maxRequestBytes(int value) {
      if (value < 1024 || value > 16 << 20) {
        throw new IllegalArgumentException("maxRequestBytes: " + value + " (expected: 1024-16777216)");
      }
      this.maxRequestBytes = value;
      return this;
    }

    /** The address to bind (default: 127.0.0.1:9090, loopback only). */
    public Builder bind(InetSocketAddress value) {
      this.bindAddress = requireNonNull(value, "bind");
      return this;
    }

    /** Parses {@code ip:port} or {@code [v6]:port} and binds it. */
    public Builder bind(String hostPort) {
      requireNonNull(hostPort, "bind");
      String text = hostPort.trim();
      int colon = text.lastIndexOf(':');
      String host = colon < 0 ? "" : text.substring(0, colon);
      if (host.startsWith("[") && host.endsWith("]")) {
        host = host.substring(1, host.length() - 1);
      }
      byte[] ip = NetUtil.createByteArrayFromIpAddressString(host);
      int port = -1;
      try {
        port = Integer.parseInt(text.substring(colon + 1));
      } catch (NumberFormatException e) {
        // reported below
      }
      if (ip == null || port < 0 || port > 65535) {
        throw new IllegalArgumentException("bind: " + hostPort + " (expected: ip:port or [v6]:port, such as 127.0.0.1:9090)");
      }
      try {
        return bind(new InetSocketAddress(InetAddress.getByAddress(ip), port));
      } catch (UnknownHostException e) {
        throw new IllegalArgumentException("bind: " + hostPort, e);
      }
    }

    /** Requires {@code Authorization: Bearer <value>} on every request (default: none). */
    public Builder token(String value) {
      requireNonNull(value, "token");
      if (value.isBlank() || !value.chars().allMatch(c -> c > ' ' && c < 0x7f)) {
        throw new IllegalArgumentException("token: blank or with spaces/control characters (expected: printable ASCII)");
      }
      this.token = value;
      return this;
    }

    /** The conduit behind {@code /connections}, {@code /healthz} and the default readiness. */
    public Builder conduit(Conduit value) {
      this.conduit = requireNonNull(value, "conduit");
      return this;
    }

    /** The text of {@code /metrics} in the Prometheus text format (for example {@code registry::scrape}). */
    public Builder metrics(Supplier<String> value) {
      return metrics(value, PROMETHEUS_TEXT);
    }

    /** The text of {@code /metrics} and its content type. */
    public Builder metrics(Supplier<String> value, String contentType) {
      this.metrics = requireNonNull(value, "metrics");
      this.metricsContentType = requireNonNull(contentType, "contentType");
      return this;
    }

    /** The text of {@code /config}, with secrets already masked, and its content type. */
    public Builder config(Supplier<String> value, String contentType) {
      this.config = requireNonNull(value, "config");
      this.configContentType = requireNonNull(contentType, "contentType");
      return this;
    }

    /** When {@code /readyz} answers 200 (default: the conduit is {@linkplain Conduit#isRunning() running}). */
    public Builder readiness(BooleanSupplier value) {
      this.readiness = requireNonNull(value, "readiness");
      return this;
    }

    /** Builds the immutable {@code AdminServer}. */
    public AdminServer build() {
      return new AdminServer(this);
    }
  }
}
