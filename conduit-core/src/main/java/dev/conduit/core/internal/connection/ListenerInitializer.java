package dev.conduit.core.internal.connection;

import dev.conduit.core.ConduitPipeline;
import dev.conduit.core.internal.transport.ChannelTuning;
import dev.conduit.core.internal.transport.TrafficCounter;
import dev.conduit.core.ConnectionInfo;
import dev.conduit.core.Listener;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.group.ChannelGroup;
import java.net.InetSocketAddress;
import java.time.Instant;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Sets up each accepted channel of a listener: admission, counters, state, then the protocol. */
@ChannelHandler.Sharable
public final class ListenerInitializer extends ChannelInboundHandlerAdapter {
  private static final Logger log = LoggerFactory.getLogger(ListenerInitializer.class);

  private final Engine engine;
  private final Listener listener;
  private final ChannelGroup group;

  public ListenerInitializer(Engine engine, Listener listener, ChannelGroup group) {
    this.engine = engine;
    this.listener = listener;
    this.group = group;
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    Channel ch = ctx.channel();
    ctx.pipeline().remove(this);
    InetSocketAddress client = (InetSocketAddress) ch.remoteAddress();
    InetSocketAddress local = (InetSocketAddress) ch.localAddress();
    if (client == null || local == null) {
      ch.close();
      return;
    }
    if (!listener.admits(client.getAddress())) {
      log.debug("listener {}: client {} not admitted", listener.name(), client);
      ch.close();
      return;
    }
    ChannelTuning.applyKeepAlive(ch, engine.keepAlive());
    group.add(ch);
    ConnectionInfo info = new ConnectionInfo(Engine.nextId(), listener.name(), listener.protocol().name(), client,
        local, Instant.now());
    TrafficCounter traffic = new TrafficCounter();
    ch.pipeline().addLast(ConduitPipeline.TRAFFIC, traffic);
    ConnectionState state = new ConnectionState(engine, ch, info, traffic);
    state.start();
    if (listener.tls().isPresent()) {
      // the protocol starts once the handshake succeeds; the negotiation timer bounds the handshake
      if (TlsGate.install(ch, listener, state, engine.timeouts().negotiation().toMillis())) {
        ch.read();
      }
      return;
    }
    initProtocol(ch, listener, state);
  }

  static void initProtocol(Channel ch, Listener listener, ConnectionState state) {
    try {
      listener.protocol().init(ch, state);
    } catch (RuntimeException e) {
      log.warn("[{}] protocol {} failed to initialise the connection", state.connection().id(), listener.protocol().name(), e);
      state.outcome(dev.conduit.core.observe.Outcome.ERROR, "protocol " + listener.protocol().name()
          + " failed: " + e);
      ch.close();
      return;
    }
    addLastResort(ch, state);
    ch.read();
  }

  /** Appends (or moves to the tail) the handler that closes on exceptions no protocol handler caught. */
  public static void addLastResort(Channel ch, ConnectionState state) {
    if (ch.pipeline().get(ConduitPipeline.LAST_RESORT) != null) {
      ch.pipeline().remove(ConduitPipeline.LAST_RESORT);
    }
    ch.pipeline().addLast(ConduitPipeline.LAST_RESORT, new LastResort(state));
  }

  /**
   * A protocol handler that throws must cost one connection, not leave it open until a timeout nor
   * reach the pipeline's tail as an unhandled exception.
   */
  private static final class LastResort extends ChannelInboundHandlerAdapter {
    private final ConnectionState state;

    LastResort(ConnectionState state) {
      this.state = state;
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      Throwable c = cause instanceof io.netty.handler.codec.DecoderException && cause.getCause() != null
          ? cause.getCause() : cause;
      log.debug("[{}] unhandled error, closing: {}", state.connection().id(), c.toString());
      state.outcome(c instanceof java.io.IOException ? dev.conduit.core.observe.Outcome.ERROR
          : dev.conduit.core.observe.Outcome.PROTOCOL_ERROR, String.valueOf(c.getMessage()));
      ctx.close();
    }
  }
}
