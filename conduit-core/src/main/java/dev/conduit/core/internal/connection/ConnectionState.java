package dev.conduit.core.internal.connection;

import dev.conduit.core.ConduitPipeline;
import dev.conduit.core.internal.relay.Relay;
import dev.conduit.core.internal.transport.TrafficCounter;
import dev.conduit.core.ConnectRequest;
import dev.conduit.core.ConnectionInfo;
import dev.conduit.core.Destination;
import dev.conduit.core.Timeouts;
import dev.conduit.core.inbound.InboundContext;
import dev.conduit.core.inbound.Upstream;
import dev.conduit.core.observe.ConnectionSummary;
import dev.conduit.core.observe.Outcome;
import dev.conduit.core.route.Router;
import dev.conduit.core.internal.overload.BufferHolder;
import io.netty.channel.Channel;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.GenericFutureListener;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One downstream connection: the {@link InboundContext} given to its protocol, and what the access
 * log needs when it closes. Touched only on the connection's event loop (fields need no volatile),
 * except for the read-only snapshot the admin API takes.
 */
public final class ConnectionState implements InboundContext, BufferHolder {
  private static final Logger log = LoggerFactory.getLogger(ConnectionState.class);

  private final Engine engine;
  private final Channel channel;
  // replaced once when a mixed listener has detected the protocol; read by the admin endpoint's threads
  private volatile ConnectionInfo info;
  private final TrafficCounter traffic;
  private final long acceptedNanos = System.nanoTime();
  private ScheduledFuture<?> negotiationTimer;
  /** The upstream opened last and the routing it was chosen under (HTTP keep-alive reuses it). */
  private Upstream lastUpstream;
  private Engine.Routing lastRoutedUnder;
  private long negotiatedNanos;
  private long dialNanos;
  private volatile String principal;
  private String tlsPeer;
  private volatile ConnectRequest lastRequest;
  private volatile String rule;
  private volatile String outbound;
  private volatile InetSocketAddress dialed;
  /** Read by {@link #bufferedBytes()} from any thread. */
  private volatile Channel upstream;
  /** Dials asked for; the request count of protocols that do not count requests themselves. */
  private int dials;
  /** Requests the protocol reported ({@link #requestReceived}); -1 until it reports one. */
  private int requests = -1;
  private Outcome outcome = Outcome.OK;
  private String detail = "";
  private boolean relaying;
  private boolean inputShutdown;

  ConnectionState(Engine engine, Channel channel, ConnectionInfo info, TrafficCounter traffic) {
    this.engine = engine;
    this.channel = channel;
    this.info = info;
    this.traffic = traffic;
  }

  void start() {
    engine.register(this);
    engine.observer().accepted(info);
    Duration negotiation = engine.timeouts().negotiation();
    negotiationTimer = channel.eventLoop().schedule(() -> {
      if (negotiatedNanos == 0 && channel.isActive()) {
        log.debug("[{}] negotiation timed out after {} ms", info.id(), negotiation.toMillis());
        // the protocol may answer first (HTTP: 408 to a client that began a request); what it writes and
        // flushes now is in the socket before the close
        channel.pipeline().fireUserEventTriggered(dev.conduit.core.inbound.NegotiationTimeoutEvent.INSTANCE);
        outcome(Outcome.NEGOTIATION_TIMEOUT, "no complete request within " + negotiation.toMillis() + " ms");
        channel.close();
      }
    }, negotiation.toNanos(), TimeUnit.NANOSECONDS);
    channel.closeFuture().addListener(f -> closed());
    channel.pipeline().addLast(ConduitPipeline.NEGOTIATION_TIMEOUT, new InputShutdownGuard());
  }

  /**
   * Notes a client's half-close before the relay exists: with no request yet the client is gone, so
   * close; with a request under way the relay carries the half-close on once it starts.
   */
  private final class InputShutdownGuard extends io.netty.channel.ChannelInboundHandlerAdapter {
    @Override
    public void userEventTriggered(io.netty.channel.ChannelHandlerContext ctx, Object evt) {
      if (evt instanceof io.netty.channel.socket.ChannelInputShutdownEvent) {
        inputShutdown = true;
        if (requestCount() == 0) {
          noRequest("client closed before a complete request");
          ctx.close();
          return;
        }
      }
      ctx.fireUserEventTriggered(evt);
    }
  }

  @Override
  public ConnectionInfo connection() {
    return info;
  }

  /**
   * The protocol a mixed listener detected ({@code http} or {@code socks}): from now on the connection's
   * info, its access-log line and its closing meters carry it instead of the listener's {@code mixed}.
   */
  public void protocolDetected(String protocol) {
    ConnectionInfo i = info;
    info = new ConnectionInfo(i.id(), i.listener(), protocol, i.client(), i.local(), i.accepted());
  }

  @Override
  public Timeouts timeouts() {
    return engine.timeouts();
  }

  @Override
  public boolean overloaded() {
    return engine.overload().level().refusesNewWork();
  }

  @Override
  public Future<Upstream> connect(ConnectRequest request) {
    return connect(request, false);
  }

  @Override
  public Future<Upstream> connectDetached(ConnectRequest request) {
    return connect(request, true);
  }

  @Override
  public void negotiated() {
    if (negotiatedNanos == 0) {
      negotiatedNanos = System.nanoTime();
      negotiationTimer.cancel(false);
    }
  }

  private Future<Upstream> connect(ConnectRequest request, boolean detached) {
    negotiated();
    dials++;
    request = withTlsPeer(request);
    lastRequest = request;
    if (request.principal().isPresent()) {
      principal = request.principal().get();
    }
    return engine.connect(request, channel.eventLoop(), this, detached);
  }

  @Override
  public Future<InetSocketAddress> routeDatagram(ConnectRequest request) {
    return engine.routeDatagram(withTlsPeer(request), channel.eventLoop());
  }

  /** Authorization by certificate: a request without a principal of its own is the verified TLS peer's. */
  private ConnectRequest withTlsPeer(ConnectRequest request) {
    return request.principal().isEmpty() && tlsPeer != null ? request.withPrincipal(tlsPeer) : request;
  }

  @Override
  public boolean isRoutedUnderCurrentRules(Upstream up) {
    if (up == lastUpstream) {
      return lastRoutedUnder == engine.routing();
    }
    // a detached upstream may serve other connections (a pool): it carries the routing it was dialed under
    Engine.Routing under = up.channel().hasAttr(Engine.ROUTED_UNDER) ? up.channel().attr(Engine.ROUTED_UNDER).get() : null;
    return under == null || under == engine.routing();
  }

  @Override
  public void relay(Upstream up) {
    relaying = true;
    if (channel.pipeline().get(ConduitPipeline.NEGOTIATION_TIMEOUT) != null) {
      channel.pipeline().remove(ConduitPipeline.NEGOTIATION_TIMEOUT);
    }
    // the relay handles its own errors (and closes both sides)
    if (channel.pipeline().get(ConduitPipeline.LAST_RESORT) != null) {
      channel.pipeline().remove(ConduitPipeline.LAST_RESORT);
    }
    Relay.start(channel, up.channel(), info.id(), inputShutdown, engine.timeouts().relayIdle(), this::outcome,
        engine.splice());
  }

  @Override
  public void outcome(Outcome value, String text) {
    // the first non-OK outcome is the one that explains the close
    if (outcome == Outcome.OK || value == Outcome.CLOSED_BY_CONDUIT) {
      outcome = value;
      detail = text == null ? "" : text;
    }
  }

  @Override
  public void requestReceived() {
    requests = requests < 0 ? 1 : requests + 1;
  }

  private int requestCount() {
    return requests < 0 ? dials : requests;
  }

  @Override
  public void principal(String value) {
    principal = value;
  }

  /**
   * The state of one stream of this multiplexed (HTTP/2) connection, a connection of its own for routing,
   * observers and the access log: id {@code <this id>.<stream id>}, the same listener, client and verified TLS
   * peer, its own byte counts and negotiation deadline. Adds {@code frames} (which turns frames into bytes) and
   * the byte counter to the stream's pipeline; the caller adds the protocol handlers. Counts as a request of
   * this connection.
   */
  public ConnectionState openStream(Channel stream, int streamId, String framesName, io.netty.channel.ChannelHandler frames) {
    negotiated();
    requestReceived();
    ConnectionInfo streamInfo = new ConnectionInfo(info.id() + "." + streamId, info.listener(), info.protocol(),
        info.client(), info.local(), java.time.Instant.now());
    stream.pipeline().addLast(framesName, frames);
    TrafficCounter streamTraffic = new TrafficCounter();
    stream.pipeline().addLast(ConduitPipeline.TRAFFIC, streamTraffic);
    ConnectionState s = new ConnectionState(engine, stream, streamInfo, streamTraffic);
    if (tlsPeer != null) {
      s.tlsPeer(tlsPeer);
    }
    s.start();
    return s;
  }

  /** Records the verified TLS peer identity, the principal of requests whose protocol sets none. */
  void tlsPeer(String identity) {
    tlsPeer = identity;
    principal = identity;
  }

  void routed(ConnectRequest request, Router.Match match) {
    rule = match.rule();
  }

  void dialed(Duration elapsed) {
    dialNanos += elapsed.toNanos();
  }

  void upstreamOpened(Upstream up, boolean detached, Engine.Routing routedUnder) {
    this.lastUpstream = up;
    this.lastRoutedUnder = routedUnder;
    this.outbound = up.outbound();
    this.dialed = up.remote();
    if (!detached) {
      // an upstream outlives nothing (unless detached, then its owner closes it): it closes with its downstream
      Channel upCh = up.channel();
      this.upstream = upCh;
      // keep-alive connections dial many upstreams: the listener goes when its upstream closes, so
      // listeners do not pile up on the downstream's close future
      GenericFutureListener<Future<Void>> closeWithDownstream = f -> {
        if (upCh.isOpen()) {
          upCh.close();
        }
      };
      channel.closeFuture().addListener(closeWithDownstream);
      upCh.closeFuture().addListener(f -> channel.closeFuture().removeListener(closeWithDownstream));
    }
  }

  /**
   * The bytes conduit holds for this connection: written to either side and not yet taken by its socket
   * (Netty's outbound buffers). Safe from any thread (the counts are volatile); a moment's value.
   */
  @Override
  public long bufferedBytes() {
    return BufferHolder.pendingBytes(channel) + BufferHolder.pendingBytes(upstream);
  }

  @Override
  public String holderId() {
    return info.id();
  }

  /** The upstream channel of the exchange or tunnel under way, if any. */
  @Override
  public Channel upstreamChannel() {
    return upstream;
  }

  /** Whether the connection is tunnelling bytes. */
  public boolean isRelaying() {
    return relaying;
  }

  /** The downstream channel. */
  @Override
  public Channel channel() {
    return channel;
  }

  /** A snapshot for live connection lists (safe from any thread; counts may lag). */
  public ConnectionSummary snapshot() {
    return summary(Duration.ofNanos(System.nanoTime() - acceptedNanos));
  }

  /** Closes the connection on behalf of conduit (stop after drain, admin API). */
  @Override
  public void closeByConduit(String why) {
    channel.eventLoop().execute(() -> {
      outcome(Outcome.CLOSED_BY_CONDUIT, why);
      channel.close();
    });
  }

  /** A close with no request: silent clients (spare browser connections, port probes) are no protocol error. */
  private void noRequest(String why) {
    if (traffic.read() == 0) {
      outcome(Outcome.CLOSED_BEFORE_REQUEST, "client closed without sending a byte");
    } else {
      outcome(Outcome.PROTOCOL_ERROR, why);
    }
  }

  private void closed() {
    negotiationTimer.cancel(false);
    if (requestCount() == 0 && outcome == Outcome.OK) {
      // a client that leaves (or is dropped) without one complete request was not served
      noRequest("closed before a complete request");
    }
    engine.unregister(this);
    if (upstream != null && upstream.isOpen()) {
      upstream.close();
    }
    ConnectionSummary s = summary(Duration.ofNanos(System.nanoTime() - acceptedNanos));
    log.debug("[{}] closed: {} {} in={} out={}", info.id(), s.outcome().label(), s.detail(), s.bytesFromClient(),
        s.bytesToClient());
    engine.observer().closed(s);
  }

  private ConnectionSummary summary(Duration total) {
    ConnectRequest req = lastRequest;
    Optional<Destination> dst = req == null ? Optional.empty() : Optional.of(req.destination());
    Duration negotiation = negotiatedNanos == 0 ? total : Duration.ofNanos(negotiatedNanos - acceptedNanos);
    return new ConnectionSummary(info, Optional.ofNullable(principal), dst, Optional.ofNullable(rule),
        Optional.ofNullable(outbound), Optional.ofNullable(dialed), traffic.read(), traffic.written(), requestCount(),
        negotiation, Duration.ofNanos(dialNanos), total, outcome, detail);
  }
}
