package dev.conduit.mitm;

import dev.conduit.core.ConduitPipeline;
import dev.conduit.core.inbound.Upstream;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoop;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetAddress;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;

/**
 * Idle upstream HTTP/1.1 connections (TLS already established for https) kept for the next request to
 * the same origin. One pool per event loop: a connection is only ever used from the loop it was dialed
 * on, the same loop as the client connections it serves, so no locking is needed.
 *
 * <p>A connection is shared only between clients that conduit would route the same way: the key holds
 * the origin, the listener and the client's address (rules match on destination, listener and source).
 * Rules may change while a connection waits (a reload): {@link #poll} takes only connections the caller's
 * rules still route the same way.
 */
final class UpstreamPool {

  static final String IDLE_HANDLER = ConduitPipeline.MITM_POOL_IDLE;

  /** Who may reuse a connection. */
  record Key(String scheme, String host, int port, String listener, InetAddress client) {
  }

  private final Duration idleTimeout;
  private final int maxIdlePerKey;
  private final Map<EventLoop, Map<Key, ArrayDeque<Upstream>>> loops = new ConcurrentHashMap<>();
  private final AtomicInteger idle = new AtomicInteger();

  UpstreamPool(Duration idleTimeout, int maxIdlePerKey) {
    this.idleTimeout = idleTimeout;
    this.maxIdlePerKey = maxIdlePerKey;
  }

  boolean enabled() {
    return maxIdlePerKey > 0 && !idleTimeout.isZero();
  }

  /**
   * An idle connection for {@code key} dialed on {@code loop} (called on that loop) and still {@code routed},
   * or null. Connections that are not are closed.
   */
  Upstream poll(EventLoop loop, Key key, Predicate<Upstream> routed) {
    Map<Key, ArrayDeque<Upstream>> byKey = loops.get(loop);
    ArrayDeque<Upstream> q = byKey == null ? null : byKey.get(key);
    if (q == null) {
      return null;
    }
    for (Upstream up; (up = q.pollLast()) != null; ) { // the most recently used: least likely closed by the origin
      idle.decrementAndGet();
      Channel ch = up.channel();
      IdleGuard guard = (IdleGuard) ch.pipeline().get(IDLE_HANDLER);
      if (guard != null) {
        guard.expiry.cancel(false);
        ch.pipeline().remove(guard);
      }
      if (ch.isActive() && routed.test(up)) {
        return up;
      }
      ch.close();
    }
    return null;
  }

  /** Keeps {@code up} (between responses, on its loop) for {@code key}, or closes it when the pool is full. */
  void offer(Key key, Upstream up) {
    Channel ch = up.channel();
    if (!enabled() || !ch.isActive()) {
      ch.close();
      return;
    }
    ArrayDeque<Upstream> q = loops.computeIfAbsent(ch.eventLoop(), l -> new HashMap<>())
        .computeIfAbsent(key, k -> new ArrayDeque<>());
    if (q.size() >= maxIdlePerKey) {
      ch.close();
      return;
    }
    IdleGuard guard = new IdleGuard(q);
    guard.expiry = ch.eventLoop().schedule(() -> {
      ch.close();
    }, idleTimeout.toMillis(), TimeUnit.MILLISECONDS);
    ch.pipeline().addLast(IDLE_HANDLER, guard);
    q.addLast(up);
    idle.incrementAndGet();
    ch.read(); // notice the origin closing an idle connection
  }

  /** Idle connections across all loops (may lag). */
  int idleConnections() {
    return idle.get();
  }

  /** Closes every idle connection. */
  void closeAll() {
    for (Map.Entry<EventLoop, Map<Key, ArrayDeque<Upstream>>> e : loops.entrySet()) {
      Map<Key, ArrayDeque<Upstream>> byKey = e.getValue();
      if (e.getKey().isShuttingDown()) {
        continue; // its channels close with it
      }
      try {
        e.getKey().execute(() -> {
          for (ArrayDeque<Upstream> q : byKey.values()) {
            for (Upstream up : q) {
              up.channel().close();
            }
          }
        });
      } catch (java.util.concurrent.RejectedExecutionException ignored) {
        // the loop terminated meanwhile, closing its channels
      }
    }
  }

  /** Drops a parked connection that the origin closed, that sent data unasked or that idled too long. */
  private final class IdleGuard extends ChannelInboundHandlerAdapter {
    private final ArrayDeque<Upstream> queue;
    ScheduledFuture<?> expiry;

    IdleGuard(ArrayDeque<Upstream> queue) {
      this.queue = queue;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      ReferenceCountUtil.release(msg);
      ctx.close();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      expiry.cancel(false);
      for (Iterator<Upstream> it = queue.iterator(); it.hasNext(); ) {
        if (it.next().channel() == ctx.channel()) {
          it.remove();
          idle.decrementAndGet();
          break;
        }
      }
      ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      ctx.close();
    }
  }
}
