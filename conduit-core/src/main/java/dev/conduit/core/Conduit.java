package dev.conduit.core;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.inbound.DrainEvent;
import dev.conduit.core.internal.transport.ChannelTuning;
import dev.conduit.core.internal.connection.ConnectionState;
import dev.conduit.core.internal.connection.Engine;
import dev.conduit.core.internal.connection.ListenerInitializer;
import dev.conduit.core.internal.overload.OverloadManager;
import dev.conduit.core.observe.ConnectionObserver;
import dev.conduit.core.overload.OverloadStatus;
import dev.conduit.core.observe.ConnectionSummary;
import dev.conduit.core.outbound.Dialer;
import dev.conduit.core.outbound.EndpointHealth;
import dev.conduit.core.outbound.Outbound;
import dev.conduit.core.route.RouteDecision;
import dev.conduit.core.route.Router;
import dev.conduit.core.route.Rule;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.io.IOException;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A running proxy: listeners, a router and outbounds, built with {@link #builder()}.
 *
 * <p>{@link #start()} binds every listener or fails without leaving any bound. {@link #stop()}
 * stops accepting, lets open connections finish until the drain deadline, then closes the rest.
 * Rules and outbounds can be replaced while running with {@link #update}; established connections
 * are not touched.
 */
public final class Conduit implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Conduit.class);

  private final ConduitResources resources;
  private final boolean ownsResources;
  private final List<Listener> listeners;
  private final Engine engine;
  private final dev.conduit.core.outbound.SocketCustomizer outboundSocketCustomizer;
  private final ConnectionObserver observer;
  private final ChannelGroup connections = new DefaultChannelGroup("conduit-connections", GlobalEventExecutor.INSTANCE);
  private final Map<String, List<Channel>> serverChannels = new LinkedHashMap<>();
  private CompletableFuture<Void> stopFuture;
  private volatile boolean started;
  private volatile boolean stopping;

  Conduit(ConduitBuilder b) {
    this.resources = b.resources;
    this.ownsResources = b.ownsResources;
    this.listeners = List.copyOf(b.listeners);
    this.observer = ConnectionObserver.composite(b.observers);
    this.outboundSocketCustomizer = b.outboundSocketCustomizer;
    this.engine = new Engine(resources, b.timeouts, b.keepAlive, observer,
        b.outboundSocketCustomizer, b.router, b.outbounds);
    engine.splice(b.splice);
    ConnectionObserver safeObserver = engine.observer();
    engine.overload(new OverloadManager(b.overload, b.timeouts, () -> engine.connections().values(),
        safeObserver::overload));
  }

  /** The engine, for tests in this package. */
  Engine engine() {
    return engine;
  }

  /** A builder. */
  public static ConduitBuilder builder() {
    return new ConduitBuilder();
  }

  static void checkOutbounds(Router router, Map<String, Outbound> outbounds) {
    List<RouteDecision> decisions = new ArrayList<>();
    decisions.add(router.defaultDecision());
    for (Rule r : router.rules()) {
      decisions.add(r.decision());
    }
    for (RouteDecision d : decisions) {
      if (d instanceof RouteDecision.Via via && !outbounds.containsKey(via.outbound())
          && !via.outbound().equals(Outbound.DIRECT)) {
        throw new IllegalStateException("route via " + via.outbound() + ": no such outbound (expected one of "
            + outbounds.keySet() + ")");
      }
    }
  }

  /**
   * Binds every listener.
   *
   * @return this
   * @throws IOException when a listener cannot bind; none stays bound then
   */
  public synchronized Conduit start() throws IOException {
    if (!serverChannels.isEmpty()) {
      throw new IllegalStateException("already started");
    }
    try {
      for (Listener l : listeners) {
        List<Channel> channels = bind(l);
        serverChannels.put(l.name(), channels);
        InetSocketAddress bound = (InetSocketAddress) channels.get(0).localAddress();
        engine.addOwnAddress(bound);
        log.info("listener {} ({}) on {}{}", l.name(), l.protocol().name(), bound,
            channels.size() > 1 ? " (" + channels.size() + " sockets, SO_REUSEPORT)" : "");
      }
    } catch (IOException | RuntimeException e) {
      serverChannels.values().forEach(chs -> chs.forEach(Channel::close));
      serverChannels.clear();
      if (ownsResources) {
        resources.close();
      }
      throw e;
    }
    engine.overload().start();
    started = true;
    observer.conduitStarted(resources, this::isStopping);
    return this;
  }

  /** The listener's sockets: one per event loop with SO_REUSEPORT when it can, else one. */
  private List<Channel> bind(Listener l) throws IOException {
    List<EventLoop> loops = new ArrayList<>();
    resources.eventLoopGroup().forEach(e -> loops.add((EventLoop) e));
    if (!l.acceptOnEveryLoop() || !resources.isNativeTransport() || loops.size() < 2) {
      return List.of(bindOne(l, l.bindAddress(), resources.eventLoopGroup(), false));
    }
    requireFree(l);
    List<Channel> bound = new ArrayList<>();
    try {
      InetSocketAddress address = l.bindAddress();
      for (EventLoop loop : loops) {
        Channel ch = bindOne(l, address, loop, true);
        bound.add(ch);
        // port 0: the other sockets join the port the first one got
        address = new InetSocketAddress(l.bindAddress().getAddress(), ((InetSocketAddress) ch.localAddress()).getPort());
      }
    } catch (IOException | RuntimeException e) {
      bound.forEach(Channel::close);
      throw e;
    }
    return bound;
  }

  /**
   * SO_REUSEPORT lets another process of the same user bind the port too and silently take a share of the
   * connections; a plain bind first makes a taken port fail as it would without it.
   */
  private static void requireFree(Listener l) throws BindException {
    if (l.bindAddress().getPort() == 0) {
      return;
    }
    try (Socket probe = new Socket()) {
      probe.setReuseAddress(true); // TIME_WAIT leftovers do not count; a listening socket does
      probe.bind(l.bindAddress());
    } catch (BindException e) {
      if (String.valueOf(e.getMessage()).contains("in use")) {
        throw new BindException("listener " + l.name() + ": cannot bind " + l.bindAddress() + ": " + e.getMessage());
      }
      // e.g. a non-local address that only the listener's own socket options (IP_TRANSPARENT) allow
    } catch (IOException e) {
      // the real bind reports anything that matters
    }
  }

  private Channel bindOne(Listener l, InetSocketAddress address, EventLoopGroup group, boolean reusePort)
      throws IOException {
    // a customizer failure closes the channel, and bind then only says "closed": keep the cause
    AtomicReference<Throwable> customizerFailure = new AtomicReference<>();
    ServerBootstrap sb = new ServerBootstrap()
        .group(group, group)
        .channel(resources.serverSocketChannelType())
        .option(ChannelOption.SO_BACKLOG, 4096)
        .option(ChannelOption.SO_REUSEADDR, true)
        .handler(new ChannelInitializer<Channel>() {
          @Override
          protected void initChannel(Channel ch) throws Exception {
            try {
              l.socketCustomizer().customize(ch);
            } catch (Exception | LinkageError e) {
              customizerFailure.set(e);
              throw e;
            }
          }
        })
        .childOption(ChannelOption.AUTO_READ, false)
        // TCP_NODELAY: Netty's accepted channels set it by default (one setsockopt saved per connection)
        .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
        .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, ChannelTuning.WATER_MARK)
        .childOption(ChannelOption.RCVBUF_ALLOCATOR, ChannelTuning.READ_SIZES)
        .childHandler(new ListenerInitializer(engine, l, connections));
    if (reusePort) {
      sb.option(EpollChannelOption.SO_REUSEPORT, true);
    }
    ChannelFuture f = sb.bind(address).awaitUninterruptibly();
    if (!f.isSuccess()) {
      Throwable c = customizerFailure.get() != null ? customizerFailure.get() : f.cause();
      if (customizerFailure.get() != null) {
        throw new IOException("listener " + l.name() + ": cannot set socket options on " + address
            + ": " + c.getMessage(), c);
      }
      String msg = "listener " + l.name() + ": cannot bind " + address + ": " + c.getMessage();
      if (c instanceof IOException io && !(c instanceof BindException)) {
        throw new IOException(msg, io);
      }
      throw new BindException(msg);
    }
    return f.channel();
  }

  /** Whether {@link #start()} succeeded and {@link #stop()} has not been called: ready for traffic. */
  public boolean isRunning() {
    return started && !stopping;
  }

  /** Whether {@link #stop()} has been called (draining, or stopped). */
  public boolean isStopping() {
    return stopping;
  }

  /** The bound address of a listener (useful with port 0). */
  public InetSocketAddress address(String listenerName) {
    List<Channel> chs = serverChannels.get(requireNonNull(listenerName, "listenerName"));
    if (chs == null) {
      throw new IllegalArgumentException("listener: " + listenerName + " (expected one of " + serverChannels.keySet()
          + ", after start())");
    }
    return (InetSocketAddress) chs.get(0).localAddress();
  }

  /** The listeners. */
  public List<Listener> listeners() {
    return listeners;
  }

  /** The number of open downstream connections. */
  public int activeConnections() {
    return engine.connections().size();
  }

  /**
   * The bytes this conduit holds now for its connections: written to a client or an upstream and not yet
   * taken by the socket. Each connection's share is bounded by its write water mark plus one read.
   */
  public long bufferedBytes() {
    long sum = 0;
    for (ConnectionState s : engine.connections().values()) {
      sum += s.bufferedBytes();
    }
    return sum;
  }

  /**
   * The overload manager's last reading: the level in force (also in {@code /readyz}), memory and descriptors
   * against their budgets, and what it did. {@link OverloadStatus#NONE} when it is disabled.
   */
  public OverloadStatus overloadStatus() {
    return engine.overload().status();
  }

  /** Live connections, as snapshots. */
  public List<ConnectionSummary> connections() {
    List<ConnectionSummary> out = new ArrayList<>();
    for (ConnectionState s : engine.connections().values()) {
      out.add(s.snapshot());
    }
    return out;
  }

  /** Closes one live connection by id; returns whether it existed. */
  public boolean closeConnection(String id) {
    ConnectionState s = engine.connections().get(id);
    if (s == null) {
      return false;
    }
    s.closeByConduit("closed by request");
    return true;
  }

  /**
   * Marks another socket of this process as conduit's own (its admin endpoint, a MITM server): like its
   * listeners, it is never a destination, whatever the rules allow.
   */
  public void addOwnAddress(InetSocketAddress address) {
    engine.addOwnAddress(requireNonNull(address, "address"));
  }

  /** Undoes {@link #addOwnAddress} when that socket is closed. */
  public void removeOwnAddress(InetSocketAddress address) {
    engine.removeOwnAddress(requireNonNull(address, "address"));
  }

  /**
   * The health of hop endpoints as this conduit's dialer sees it; active checkers report to it too.
   */
  public EndpointHealth endpointHealth() {
    return engine.dialer().health();
  }

  /**
   * What this conduit sets on its own outbound sockets (e.g. the capture rules' bypass mark); services that dial on
   * its behalf (health checks) set it too, so that the capture never takes their connections back to conduit.
   */
  public dev.conduit.core.outbound.SocketCustomizer outboundSocketCustomizer() {
    return outboundSocketCustomizer;
  }

  /** The dialer this conduit uses, for services that reach destinations the same way. */
  public Dialer dialer() {
    return engine.dialer();
  }

  /** The shared resources. */
  public ConduitResources resources() {
    return resources;
  }

  /**
   * Replaces the router and outbounds for new requests, including the next request on a kept-alive HTTP
   * connection (it dials anew if it had reused an upstream chosen under the old rules); established tunnels
   * keep theirs.
   *
   * @throws IllegalStateException when a rule names an unknown outbound
   */
  public void update(Router router, List<Outbound> outbounds) {
    Map<String, Outbound> byName = new LinkedHashMap<>();
    for (Outbound o : outbounds) {
      if (byName.putIfAbsent(o.name(), o) != null) {
        throw new IllegalArgumentException("outbound: " + o.name() + " defined twice (expected: unique names)");
      }
    }
    checkOutbounds(router, byName);
    engine.update(router, byName);
  }

  /**
   * Stops gracefully: stops accepting, waits for open connections up to the drain timeout, then
   * closes the rest. Idempotent.
   */
  public synchronized CompletableFuture<Void> stop() {
    if (stopFuture != null) {
      return stopFuture;
    }
    stopFuture = new CompletableFuture<>();
    stopping = true;
    for (List<Channel> chs : serverChannels.values()) {
      chs.forEach(ch -> ch.close().awaitUninterruptibly());
    }
    Duration drain = engine.timeouts().drain();
    long deadline = System.nanoTime() + drain.toNanos();
    for (ConnectionState s : engine.connections().values()) {
      Channel ch = s.channel();
      ch.eventLoop().execute(() -> ch.pipeline().fireUserEventTriggered(DrainEvent.INSTANCE));
    }
    log.info("stopping: {} open connection(s), drain up to {} ms", activeConnections(), drain.toMillis());
    waitForDrain(deadline);
    return stopFuture;
  }

  private void waitForDrain(long deadline) {
    if (activeConnections() == 0 || System.nanoTime() - deadline >= 0) {
      for (ConnectionState s : engine.connections().values()) {
        s.closeByConduit("drain deadline passed");
      }
      connections.close().addListener(f -> finishStop());
      return;
    }
    GlobalEventExecutor.INSTANCE.schedule(() -> waitForDrain(deadline), 50, TimeUnit.MILLISECONDS);
  }

  private void finishStop() {
    engine.overload().close();
    engine.dialer().close(); // pooled tunnel connections
    if (ownsResources) {
      // closing waits for the event loops, which no Netty executor thread may do
      Thread closer = new Thread(() -> {
        try {
          resources.close();
        } finally {
          stopFuture.complete(null);
        }
      }, "conduit-stop");
      closer.setDaemon(true);
      closer.start();
    } else {
      stopFuture.complete(null);
    }
  }

  /** {@link #stop()} and wait. */
  @Override
  public void close() {
    stop().join();
  }
}
