package dev.conduit.core.internal.relay;

import dev.conduit.core.ConduitPipeline;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.epoll.AbstractEpollStreamChannel;
import io.netty.channel.socket.DuplexChannel;
import io.netty.channel.unix.Socket;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.ReferenceCountUtil;
import dev.conduit.core.internal.multiplex.StreamAdapter;
import dev.conduit.core.observe.Outcome;
import io.netty.channel.ChannelFuture;
import java.io.IOException;
import java.time.Duration;
import java.util.function.BiConsumer;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Moves bytes both ways between a downstream and an upstream channel on the same event loop.
 *
 * <p>Back-pressure: neither side reads while the other side's outbound buffer is above its high
 * water mark, so memory per tunnel is bounded by the water marks plus one read, whatever the
 * peers' speeds. Half-close: when one side finishes sending, the other side's output is shut down
 * after pending bytes are flushed; the tunnel closes when both directions are done, or at once when
 * either side fails.
 */
public final class Relay {
  private static final Logger log = LoggerFactory.getLogger(Relay.class);

  private final Channel downstream;
  private final Channel upstream;
  private final String id;
  private final BiConsumer<Outcome, String> outcome;
  private long idleMillis;
  private boolean downstreamDone;
  private boolean upstreamDone;
  /** Set once either side closes or the relay closes both: later errors are teardown noise. */
  private boolean tearingDown;
  /** Reads are held while the tunnel is handed to the {@link SpliceRelay}, so both outbound buffers drain. */
  private boolean pausedForSplice;
  /** The END_STREAM sent on a side that is an HTTP/2 stream, whose close waits for it (a close resets the stream). */
  private ChannelFuture downstreamEnded;
  private ChannelFuture upstreamEnded;

  private Relay(Channel downstream, Channel upstream, String id, BiConsumer<Outcome, String> outcome) {
    this.downstream = downstream;
    this.upstream = upstream;
    this.id = id;
    this.outcome = outcome;
  }

  /**
   * Starts relaying. Must be called on the shared event loop. Installs the relay handlers at the
   * tail of both pipelines and starts reading both sides.
   *
   * @param idle close after this long without traffic; zero for never
   * @param outcome told why the tunnel ends when it is not a normal close (idle, I/O error)
   */
  public static void start(Channel downstream, Channel upstream, String id, boolean downstreamInputDone,
      Duration idle, BiConsumer<Outcome, String> outcome) {
    start(downstream, upstream, id, downstreamInputDone, idle, outcome, false);
  }

  /**
   * As {@link #start(Channel, Channel, String, boolean, Duration, BiConsumer)}; with {@code splice},
   * a tunnel between two plain epoll TCP sockets is then handed to the zero-copy {@link SpliceRelay}
   * (it stays here when either side has TLS or other handlers, or is not an epoll socket).
   */
  public static void start(Channel downstream, Channel upstream, String id, boolean downstreamInputDone,
      Duration idle, BiConsumer<Outcome, String> outcome, boolean splice) {
    if (downstream.eventLoop() != upstream.eventLoop()) {
      throw new IllegalArgumentException("downstream and upstream must share an event loop");
    }
    Relay relay = new Relay(downstream, upstream, id, outcome);
    relay.idleMillis = idle.toMillis();
    downstream.config().setOption(ChannelOption.ALLOW_HALF_CLOSURE, true);
    upstream.config().setOption(ChannelOption.ALLOW_HALF_CLOSURE, true);
    downstream.config().setAutoRead(false);
    upstream.config().setAutoRead(false);
    ChannelPipeline dp = downstream.pipeline();
    if (!idle.isZero()) {
      dp.addLast(ConduitPipeline.RELAY_IDLE, new IdleStateHandler(0, 0, idle.toMillis(), TimeUnit.MILLISECONDS));
    }
    Side down = relay.new Side(upstream, true);
    dp.addLast(ConduitPipeline.RELAY, down);
    upstream.pipeline().addLast(ConduitPipeline.RELAY, relay.new Side(downstream, false));
    if (!downstream.isActive() || !upstream.isActive()) {
      relay.closeBoth();
      return;
    }
    if (splice && !downstreamInputDone && SpliceRelay.supports(downstream, upstream)) {
      relay.pausedForSplice = true;
      SpliceRelay.trySwitch(downstream, upstream, id, idle.toMillis(), outcome, relay::resume);
    }
    if (downstreamInputDone) {
      // the client half-closed while we dialed: carry it on after the bytes it sent, including those
      // the protocol's decoders still hold and hand over when they are removed (right after this call)
      downstream.eventLoop().execute(down::inputDone);
    } else {
      downstream.read();
    }
    upstream.read();
  }

  /** The tunnel stays with this relay: read again where reads were held. */
  private void resume() {
    if (!pausedForSplice) {
      return;
    }
    pausedForSplice = false;
    for (Channel ch : new Channel[] {downstream, upstream}) {
      if (ch.pipeline().get(ConduitPipeline.RELAY) instanceof Side side && side.readPending && side.peer.isWritable()) {
        side.readPending = false;
        ch.read();
      }
    }
  }

  private void closeBoth() {
    closeBoth(true);
  }

  /** @param graceful false for idle and error closes: an HTTP/2 stream is then reset, not ended */
  private void closeBoth(boolean graceful) {
    tearingDown = true;
    flushAndClose(downstream, graceful);
    flushAndClose(upstream, graceful);
  }

  private void flushAndClose(Channel ch, boolean graceful) {
    if (!ch.isOpen()) {
      return; // closed already (each close or write on a closed channel costs Netty an exception)
    }
    if (StreamAdapter.isStream(ch)) {
      closeStream(ch, graceful);
      return;
    }
    if (ch.isActive() && ch.unsafe().outboundBuffer() != null) {
      ch.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
    } else {
      ch.close();
    }
  }

  /**
   * Closes an HTTP/2 stream as a socket close would end a TCP connection: when the stream's own input ended,
   * with END_STREAM after the bytes still queued (it may wait for flow-control window), after which the stream
   * is closed on both sides; otherwise (the peer is still sending, or an error) with a reset. Closing a stream
   * whose input ended without END_STREAM would reset it, drop what is queued and, many times over, make the
   * server take it for a rapid-reset attack.
   */
  private void closeStream(Channel ch, boolean graceful) {
    boolean inputEnded = ch == downstream ? downstreamDone : upstreamDone;
    if (graceful && inputEnded && ch.isActive()) {
      ChannelFuture ended = ch == downstream ? downstreamEnded : upstreamEnded;
      if (ended == null) {
        ended = endOutput(ch);
      }
      ended.addListener(f -> ch.close());
      return;
    }
    ch.close();
  }

  /** Ends an HTTP/2 stream's output (END_STREAM, its {@code shutdownOutput}). */
  private ChannelFuture endOutput(Channel stream) {
    ChannelFuture ended = StreamAdapter.endOutput(stream);
    if (stream == downstream) {
      downstreamEnded = ended;
    } else {
      upstreamEnded = ended;
    }
    return ended;
  }

  /**
   * Half-closes {@code ch}, whose writes are all flushed. On epoll it shuts the socket down directly:
   * Netty's {@code shutdownOutput()} builds an exception with a stack trace every time, to fail pending
   * writes there are none of here (a few per cent of a short tunnel's CPU).
   */
  static void shutdownOutput(DuplexChannel ch) {
    if (ch instanceof AbstractEpollStreamChannel epoll && epoll.fd() instanceof Socket socket) {
      try {
        socket.shutdown(false, true);
      } catch (IOException | RuntimeException e) {
        // ENOTCONN comes as NotYetConnectedException: the peer reset or left first; nothing to half-close
        log.debug("half-close of {} failed: {}", ch, e.toString());
        ch.close();
      }
      return;
    }
    ch.shutdownOutput().addListener(f -> {
      if (!f.isSuccess()) {
        ch.close();
      }
    });
  }

  /** Whether {@code cause} is the peer's TCP reset. */
  static boolean isReset(Throwable cause) {
    return cause instanceof IOException && String.valueOf(cause.getMessage()).contains("reset");
  }

  /**
   * Closes {@code ch} with a TCP reset (SO_LINGER 0) rather than a FIN: a peer that reset is passed on
   * as a reset, so a protocol that ends at the close cannot take a truncated stream for a complete one.
   */
  public static void resetAndClose(Channel ch) {
    if (ch.isActive() && !StreamAdapter.isStream(ch)) {
      try {
        ch.config().setOption(ChannelOption.SO_LINGER, 0);
      } catch (RuntimeException e) {
        log.debug("SO_LINGER on {}: {}", ch, e.toString());
      }
    }
    ch.close();
  }

  /** The relay handler on one side; {@code peer} is where this side's bytes go. */
  private final class Side extends ChannelInboundHandlerAdapter {
    private final Channel peer;
    private final boolean isDownstream;
    private boolean readPending;

    Side(Channel peer, boolean isDownstream) {
      this.peer = peer;
      this.isDownstream = isDownstream;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      if (!peer.isActive()) {
        ReferenceCountUtil.release(msg);
        return;
      }
      peer.write(msg, peer.voidPromise());
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
      peer.flush();
      if (inputEnded()) {
        return; // nothing more will come: asking for more would only re-arm epoll for EOF
      }
      if (peer.isWritable() && !pausedForSplice) {
        ctx.read();
      } else {
        readPending = true; // resumed when the peer drains (its Side sees channelWritabilityChanged)
      }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
      // this channel drained: let the peer read again
      if (ctx.channel().isWritable()) {
        Side peerSide = (Side) peer.pipeline().get(ConduitPipeline.RELAY);
        if (peerSide != null && peerSide.readPending && !pausedForSplice) {
          peerSide.readPending = false;
          if (!peerSide.inputEnded()) {
            peer.read();
          }
        }
      }
      ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
      if (evt instanceof ChannelInputShutdownEvent) {
        inputDone();
      } else if (evt instanceof IdleStateEvent) {
        log.debug("[{}] relay idle, closing", id);
        outcome.accept(Outcome.IDLE_TIMEOUT, "no traffic for " + idleMillis + " ms");
        closeBoth(false);
      } else {
        ctx.fireUserEventTriggered(evt);
      }
    }

    private boolean inputEnded() {
      return isDownstream ? downstreamDone : upstreamDone;
    }

    private void inputDone() {
      if (isDownstream) {
        downstreamDone = true;
      } else {
        upstreamDone = true;
      }
      if (downstreamDone && upstreamDone) {
        closeBoth();
        return;
      }
      if (peer instanceof DuplexChannel duplex && peer.isActive()) {
        peer.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(f -> {
          if (f.isSuccess()) {
            // the peer's EOF will end the tunnel: let Netty close the peer then, rather than shut its
            // input down first (a shutdown(SHUT_RD) that fails with ENOTCONN on a finished socket)
            peer.config().setOption(ChannelOption.ALLOW_HALF_CLOSURE, false);
            shutdownOutput(duplex);
          } else {
            closeBoth();
          }
        });
      } else if (StreamAdapter.isStream(peer) && peer.isActive()) {
        endOutput(peer).addListener(f -> {
          if (!f.isSuccess()) {
            closeBoth();
          }
        });
      } else {
        closeBoth();
      }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      tearingDown = true;
      flushAndClose(peer, true);
      ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      log.debug("[{}] relay {} error: {}", id, isDownstream ? "downstream" : "upstream", cause.toString());
      if ((downstreamDone && upstreamDone) || tearingDown) {
        // both directions finished, or one side already closed: an error while the sockets are torn
        // down (epoll_ctl on a deregistered fd, a reset after the last byte) does not make the tunnel
        // a failed one
        ctx.close();
        flushAndClose(peer, true);
        return;
      }
      outcome.accept(Outcome.ERROR, (isDownstream ? "client" : "upstream") + " connection: " + cause.getMessage());
      ctx.close();
      if (isReset(cause)) {
        tearingDown = true;
        resetAndClose(peer);
      } else {
        flushAndClose(peer, false);
      }
    }
  }
}
