package dev.conduit.core.control.push;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.ConduitResources;
import dev.conduit.core.control.push.internal.AuthHandler;
import dev.conduit.core.control.push.internal.PushHub;
import dev.conduit.core.control.push.internal.ServerConnection;
import dev.conduit.core.control.push.internal.TlsContexts;
import dev.conduit.core.pki.ReloadingTlsMaterial;
import dev.conduit.core.pki.TlsMaterial;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.websocketx.WebSocketDecoderConfig;
import io.netty.handler.codec.http.websocketx.WebSocketFrameAggregator;
import io.netty.handler.codec.http.websocketx.WebSocketServerProtocolConfig;
import io.netty.handler.codec.http.websocketx.WebSocketServerProtocolHandler;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The server end of conduit's push channel: pushes versioned state to agents over WebSocket with TLS, and keeps
 * what each agent acknowledged. The mesh manager pushes the membership with it, the egress server its allowlist.
 *
 * <p>Protocol (JSON text frames, each with a {@code type} and a {@code version}): the agent opens with
 * {@code hello} (its name, role, installed version and state hash); unless that is the current state, the server
 * answers with a {@code snapshot} of the current one. Each later change reaches it as a {@code delta} (upserts
 * and removals from version N-1 to N). The agent answers every update with an {@code ack} (the version and the
 * hash of what it installed) or a NACK (the version it still has and an {@code error_detail}; as in xDS, a
 * response with an {@code error_detail} is a NACK). It may send {@code report}s, handed to the
 * {@link PushReportListener}. Before the first {@link #publish} the server sends nothing, so agents keep the state
 * they saved. Violations close the connection with a WebSocket close code and reason: 1003 binary frame, 1007
 * malformed JSON, 1008 out of order, 1009 too big, 1001 idle or server closing, 4000 replaced by a newer
 * connection of the same agent.
 *
 * <p>Agents authenticate with a client certificate issued under the trust roots of the server's
 * {@link TlsMaterial} (mutual TLS), or, when {@link Builder#allowBearerTokens allowed}, a bearer token; the
 * {@link PushAuthorizer} admits them under an identity.
 *
 * <p>Runs on the event loops of a caller-supplied {@link ConduitResources}; {@link #close()} closes the server,
 * not the resources. Thread-safe.
 */
public final class PushServer implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger("dev.conduit.core.control.push");

  /** The default URL path of the channel. */
  public static final String DEFAULT_PATH = "/v1/push";

  private final Builder config;
  private final PushHub hub;
  private final TlsContexts tls;
  private final ExecutorService ownedReportExecutor;
  private volatile Channel serverChannel;

  private PushServer(Builder b) {
    this.config = b;
    java.util.concurrent.Executor reportExecutor = b.reportExecutor;
    if (reportExecutor == null && b.reportListener != null) {
      ownedReportExecutor = Executors.newSingleThreadExecutor(new DefaultThreadFactory("conduit-push-report", true));
      reportExecutor = ownedReportExecutor;
    } else {
      ownedReportExecutor = null;
    }
    this.hub = new PushHub(b.maxMessageBytes, Math.max(64, 4 * b.window), b.reportListener, reportExecutor);
    this.tls = TlsContexts.server(b.tls, !b.allowBearerTokens);
  }

  /** Returns a builder of a server running on {@code resources}' event loops. */
  public static Builder builder(ConduitResources resources) {
    return new Builder(resources);
  }

  /**
   * Binds the listening socket and returns its address (with the actual port when 0 was asked). Blocks until
   * bound: not on an event loop.
   *
   * @throws IllegalStateException if already started
   */
  public synchronized InetSocketAddress start() throws InterruptedException {
    if (serverChannel != null) {
      throw new IllegalStateException("already started");
    }
    tls.get(); // fail here, not on the first connection, when the material is unusable
    ServerBootstrap bootstrap = new ServerBootstrap()
        .group(config.resources.eventLoopGroup())
        .channel(config.resources.serverSocketChannelType())
        .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(64 * 1024, 256 * 1024))
        .childHandler(new ChannelInitializer<SocketChannel>() {
          @Override
          protected void initChannel(SocketChannel ch) {
            initConnection(ch);
          }
        });
    serverChannel = bootstrap.bind(config.bind).sync().channel();
    log.info("push: serving {} on {}", config.path, serverChannel.localAddress());
    return (InetSocketAddress) serverChannel.localAddress();
  }

  private void initConnection(SocketChannel ch) {
    WebSocketServerProtocolConfig ws = WebSocketServerProtocolConfig.newBuilder()
        .websocketPath(config.path)
        .checkStartsWith(false)
        .handshakeTimeoutMillis(config.idleTimeout.toMillis())
        .decoderConfig(WebSocketDecoderConfig.newBuilder()
            .maxFramePayloadLength(config.maxMessageBytes)
            .allowExtensions(false)
            .closeOnProtocolViolation(false) // ServerConnection closes with a code and a reason, once
            .build())
        .build();
    ch.pipeline().addLast(
        tls.get().newHandler(ch.alloc()),
        new IdleStateHandler(config.idleTimeout.toMillis(), config.pingInterval.toMillis(), 0, TimeUnit.MILLISECONDS),
        new HttpServerCodec(4096, 8192, 8192),
        new HttpObjectAggregator(8192),
        new AuthHandler(config.path, config.authorizer, config.allowBearerTokens),
        new WebSocketServerProtocolHandler(ws),
        new WebSocketFrameAggregator(config.maxMessageBytes),
        new ServerConnection(hub, config.window));
  }

  /** Returns the address the server listens on, if started. */
  public Optional<InetSocketAddress> address() {
    Channel channel = serverChannel;
    return channel == null ? Optional.empty() : Optional.of((InetSocketAddress) channel.localAddress());
  }

  /**
   * Makes {@code state} the current state and pushes it to every connected agent: a delta from the previous
   * version, or a snapshot to agents that are too far behind. The version comes from the caller (e.g. the store's
   * counter) and must grow.
   *
   * @throws IllegalArgumentException if the version is not more than the current one, or the state does not fit
   *     in a {@linkplain Builder#maxMessageBytes message}
   */
  public void publish(PushState state) {
    hub.publish(state);
  }

  /**
   * Applies a precomputed {@code delta} to the current state and pushes it.
   *
   * @throws IllegalStateException if the delta does not start at the current version
   * @throws IllegalArgumentException if the resulting state does not fit in a message
   */
  public void publish(PushDelta delta) {
    hub.publish(delta);
  }

  /** Returns the current state, if one was published. */
  public Optional<PushState> state() {
    return hub.state();
  }

  /** Returns the status of every agent seen since the server started (or {@link #forget forgotten}), by id. */
  public List<PushAgentStatus> agents() {
    return hub.agents();
  }

  /** Returns the status of one agent. */
  public Optional<PushAgentStatus> agent(String agentId) {
    return hub.agent(requireNonNull(agentId, "agentId"));
  }

  /** Drops the status of a disconnected agent; returns false if it is unknown or connected. */
  public boolean forget(String agentId) {
    return hub.forget(requireNonNull(agentId, "agentId"));
  }

  /**
   * Closes an agent's connection with a policy-violation close, e.g. when its node was revoked; whether it may
   * connect again is the {@link PushAuthorizer}'s decision.
   *
   * @param agentId the agent
   * @param reason the close reason the agent sees
   * @return whether the agent was connected
   */
  public boolean disconnect(String agentId, String reason) {
    return hub.disconnect(requireNonNull(agentId, "agentId"), requireNonNull(reason, "reason"));
  }

  /** Stops listening and closes every agent's connection ("going away"). Agents keep their state. */
  @Override
  public synchronized void close() {
    hub.close();
    Channel channel = serverChannel;
    if (channel != null) {
      channel.close().syncUninterruptibly();
    }
    if (ownedReportExecutor != null) {
      ownedReportExecutor.shutdown();
    }
  }

  @Override
  public String toString() {
    return "PushServer{address=" + address().map(Object::toString).orElse("not started") + ", path=" + config.path
        + ", version=" + state().map(PushState::version).orElse(0L) + "}";
  }

  /** Builds a {@link PushServer}. */
  public static final class Builder {
    private final ConduitResources resources;
    private InetSocketAddress bind = new InetSocketAddress("127.0.0.1", 0);
    private String path = DEFAULT_PATH;
    private Supplier<TlsMaterial> tls;
    private PushAuthorizer authorizer = PushAuthorizer.certificateIdentity();
    private boolean allowBearerTokens;
    private int maxMessageBytes = 8 * 1024 * 1024;
    private int window = 16;
    private Duration pingInterval = Duration.ofSeconds(15);
    private Duration idleTimeout = Duration.ofSeconds(45);
    private PushReportListener reportListener;
    private java.util.concurrent.Executor reportExecutor;

    private Builder(ConduitResources resources) {
      this.resources = requireNonNull(resources, "resources");
    }

    /** The address to listen on (default: 127.0.0.1, any free port). */
    public Builder bind(InetSocketAddress bind) {
      this.bind = requireNonNull(bind, "bind");
      return this;
    }

    /** The URL path agents connect to (default: {@value #DEFAULT_PATH}). */
    public Builder path(String path) {
      requireNonNull(path, "path");
      if (!path.startsWith("/")) {
        throw new IllegalArgumentException("path: " + path + " (expected: starting with /)");
      }
      this.path = path;
      return this;
    }

    /** The server's certificate and the trust roots client certificates are verified against (required). */
    public Builder tls(TlsMaterial material) {
      requireNonNull(material, "material");
      this.tls = () -> material;
      return this;
    }

    /** As {@link #tls(TlsMaterial)}, following renewals on disk: new connections use the newest material. */
    public Builder tls(ReloadingTlsMaterial material) {
      requireNonNull(material, "material");
      this.tls = material::material;
      return this;
    }

    /**
     * As {@link #tls(TlsMaterial)}, from a supplier asked at every new connection (e.g. a
     * {@link dev.conduit.core.pki.RenewingTlsMaterial}): a renewed certificate serves new handshakes, while agents
     * already connected keep their connection.
     */
    public Builder tls(java.util.function.Supplier<TlsMaterial> material) {
      this.tls = requireNonNull(material, "material");
      return this;
    }

    /** Decides which agents may connect (default: {@link PushAuthorizer#certificateIdentity()}). */
    public Builder authorizer(PushAuthorizer authorizer) {
      this.authorizer = requireNonNull(authorizer, "authorizer");
      return this;
    }

    /**
     * Whether agents may authenticate with an {@code Authorization: Bearer} token instead of a client certificate
     * (default: false, a client certificate is required by the TLS handshake). The authorizer sees the token.
     */
    public Builder allowBearerTokens(boolean allow) {
      this.allowBearerTokens = allow;
      return this;
    }

    /**
     * The largest message either way, in bytes (default: 8 MiB). A bigger message from an agent closes its
     * connection with 1009; a state whose snapshot is bigger is refused by {@link #publish}.
     */
    public Builder maxMessageBytes(int maxMessageBytes) {
      if (maxMessageBytes < 1024) {
        throw new IllegalArgumentException("maxMessageBytes: " + maxMessageBytes + " (expected: 1024 or more)");
      }
      this.maxMessageBytes = maxMessageBytes;
      return this;
    }

    /**
     * How many updates may await an agent's answer (default: 16). An agent that falls further behind gets one
     * snapshot when it has answered, instead of a backlog of deltas.
     */
    public Builder window(int window) {
      if (window < 1 || window > 1024) {
        throw new IllegalArgumentException("window: " + window + " (expected: 1-1024)");
      }
      this.window = window;
      return this;
    }

    /**
     * How often to ping an agent the server has not written to (default: 15 s), and after how long without a
     * message or heartbeat from it to close its connection (default: 45 s).
     */
    public Builder heartbeat(Duration pingInterval, Duration idleTimeout) {
      requireNonNull(pingInterval, "pingInterval");
      requireNonNull(idleTimeout, "idleTimeout");
      if (pingInterval.isNegative() || pingInterval.isZero() || idleTimeout.compareTo(pingInterval) <= 0) {
        throw new IllegalArgumentException("heartbeat: ping " + pingInterval + ", idle " + idleTimeout
            + " (expected: 0 < ping interval < idle timeout)");
      }
      this.pingInterval = pingInterval;
      this.idleTimeout = idleTimeout;
      return this;
    }

    /** Receives agents' reports (default: none; reports are dropped). */
    public Builder reportListener(PushReportListener listener) {
      this.reportListener = requireNonNull(listener, "listener");
      return this;
    }

    /** Where the report listener runs (default: a thread of the server's own). */
    public Builder reportExecutor(java.util.concurrent.Executor executor) {
      this.reportExecutor = requireNonNull(executor, "executor");
      return this;
    }

    /**
     * Returns the server.
     *
     * @throws IllegalStateException if no TLS material was given
     */
    public PushServer build() {
      if (tls == null) {
        throw new IllegalStateException("tls: not set (expected: the server's certificate and trust roots)");
      }
      return new PushServer(this);
    }
  }
}
