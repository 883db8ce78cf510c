package dev.conduit.core.internal.relay;

import dev.conduit.core.ConduitPipeline;
import dev.conduit.core.internal.transport.TrafficCounter;
import dev.conduit.core.observe.Outcome;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.ChannelPromise;
import io.netty.channel.IoEvent;
import io.netty.channel.IoEventLoop;
import io.netty.channel.IoRegistration;
import io.netty.channel.epoll.EpollIoEvent;
import io.netty.channel.epoll.EpollIoHandle;
import io.netty.channel.epoll.EpollIoOps;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.unix.FileDescriptor;
import io.netty.channel.unix.Socket;
import io.netty.util.concurrent.ScheduledFuture;
import java.io.IOException;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Zero-copy relay between two plain TCP sockets on the epoll transport: bytes go socket → pipe →
 * socket with {@code splice(2)} and never enter the JVM.
 *
 * <p>The copying {@link Relay} starts every tunnel (so bytes a protocol's decoders still hold, and
 * replies still queued, go out first); once both outbound buffers are empty and both pipelines hold
 * nothing but conduit's counter and relay handlers (no TLS, no codec, no handler someone added to
 * watch the bytes), both channels leave Netty's I/O and this class drives their file descriptors on
 * the same event loop through its own {@link EpollIoHandle}s, level-triggered.
 *
 * <p>Per direction one non-blocking pipe (64 KiB in the kernel) is the only buffer: the source is
 * read only while its pipe has room, so memory is bounded whatever the peers' speeds, and nothing
 * is allocated in the JVM per byte. Bytes read are counted when spliced into the pipe and bytes
 * written when spliced out to the peer, on each channel's {@link TrafficCounter}, so summaries and
 * live snapshots stay exact. EOF (seen as {@code EPOLLRDHUP}, then a splice of zero bytes with room
 * in the pipe) shuts the peer's output down once the pipe is empty; the tunnel closes when both
 * directions are done, or at once on an error. Idle time is tracked here, since no byte passes the
 * pipelines' idle handler.
 *
 * <p>A socket that wants nothing (its pipe full, or its input at EOF and nothing to write) leaves
 * epoll and registers again when it wants something: an empty interest set would not do, since
 * Netty 4.2.18's epoll registration then removes the descriptor from epoll but believes it still
 * registered (its next change fails with {@code epoll_ctl ... ENOENT}), and a socket shut down both
 * ways reports {@code EPOLLHUP} whatever the set.
 */
final class SpliceRelay {
  private static final Logger log = LoggerFactory.getLogger(SpliceRelay.class);
  /** Attempts to find both outbound buffers empty before giving up and staying with the copying relay. */
  private static final int MAX_SWITCH_ATTEMPTS = 4;
  private static final int IN = EpollIoOps.EPOLLIN.value();
  private static final int OUT = EpollIoOps.EPOLLOUT.value();
  private static final int RDHUP = EpollIoOps.EPOLLRDHUP.value();

  private final Channel downstream;
  private final Channel upstream;
  private final String id;
  private final BiConsumer<Outcome, String> outcome;
  private final long idleNanos;
  private final Runnable onSwitchFailed;
  private End down;
  private End up;
  private SpliceDirection toUpstream;
  private SpliceDirection toDownstream;
  private long lastActivityNanos;
  private ScheduledFuture<?> idleTimer;
  private boolean spliced;
  /** Both channels left Netty's epoll registration: this relay drives them now. */
  private boolean started;
  private boolean torndown;

  private SpliceRelay(Channel downstream, Channel upstream, String id, long idleMillis,
      BiConsumer<Outcome, String> outcome, Runnable onSwitchFailed) {
    this.downstream = downstream;
    this.upstream = upstream;
    this.id = id;
    this.idleNanos = TimeUnit.MILLISECONDS.toNanos(idleMillis);
    this.outcome = outcome;
    this.onSwitchFailed = onSwitchFailed;
  }

  /** Whether both channels are of a kind this relay can drive (epoll TCP sockets on an epoll loop). */
  static boolean supports(Channel downstream, Channel upstream) {
    return downstream instanceof EpollSocketChannel && upstream instanceof EpollSocketChannel
        && downstream.eventLoop() == upstream.eventLoop()
        && downstream.eventLoop() instanceof IoEventLoop loop && loop.isCompatible(End.class);
  }

  /**
   * Tries to take the tunnel over from the copying relay, after the event loop's pending work (the
   * protocol's handler removal, which hands leftover bytes to the relay). Falls back silently: the
   * copying relay keeps running when a pipeline holds other handlers or buffers never drain.
   *
   * @param onSwitchFailed run when the tunnel stays with the copying relay
   */
  static void trySwitch(Channel downstream, Channel upstream, String id, long idleMillis,
      BiConsumer<Outcome, String> outcome, Runnable onSwitchFailed) {
    SpliceRelay relay = new SpliceRelay(downstream, upstream, id, idleMillis, outcome, onSwitchFailed);
    downstream.eventLoop().execute(() -> relay.attempt(1));
  }

  private void attempt(int attempt) {
    if (!downstream.isActive() || !upstream.isActive()) {
      return;
    }
    if (!plain(downstream) || !plain(upstream) || shut(downstream) || shut(upstream)) {
      log.debug("[{}] relay stays copying: a pipeline holds other handlers or a side is half-closed", id);
      onSwitchFailed.run();
      return;
    }
    boolean downEmpty = isFlushed(downstream);
    boolean upEmpty = isFlushed(upstream);
    if (downEmpty && upEmpty) {
      switchOver();
      return;
    }
    if (attempt >= MAX_SWITCH_ATTEMPTS) {
      log.debug("[{}] relay stays copying: outbound bytes did not drain", id);
      onSwitchFailed.run();
      return;
    }
    // wait for the queued bytes to leave, then look again (a read may have queued more meanwhile)
    Channel busy = downEmpty ? upstream : downstream;
    busy.writeAndFlush(io.netty.buffer.Unpooled.EMPTY_BUFFER).addListener(f -> {
      if (f.isSuccess()) {
        attempt(attempt + 1);
      } else {
        onSwitchFailed.run();
      }
    });
  }

  /** A pipeline with only conduit's counter and relay handlers: no bytes are changed or watched. */
  private static boolean plain(Channel ch) {
    for (Map.Entry<String, ChannelHandler> e : ch.pipeline()) {
      String name = e.getKey();
      if (!name.equals(ConduitPipeline.TRAFFIC) && !name.equals(ConduitPipeline.RELAY)
          && !name.equals(ConduitPipeline.RELAY_IDLE)) {
        return false;
      }
    }
    return ch.pipeline().get(ConduitPipeline.TRAFFIC) instanceof TrafficCounter;
  }

  private static boolean shut(Channel ch) {
    Socket s = (Socket) ((EpollSocketChannel) ch).fd();
    return s.isInputShutdown() || s.isOutputShutdown();
  }

  private static boolean isFlushed(Channel ch) {
    ChannelOutboundBuffer buf = ch.unsafe().outboundBuffer();
    return buf == null || buf.totalPendingWriteBytes() == 0 && buf.isEmpty();
  }

  private void switchOver() {
    FileDescriptor[] pipeUp;
    FileDescriptor[] pipeDown;
    try {
      pipeUp = FileDescriptor.pipe();
    } catch (IOException e) {
      log.debug("[{}] relay stays copying: no pipe: {}", id, e.toString());
      onSwitchFailed.run();
      return;
    }
    try {
      pipeDown = FileDescriptor.pipe();
    } catch (IOException e) {
      SpliceDirection.closeQuietly(pipeUp[0]);
      SpliceDirection.closeQuietly(pipeUp[1]);
      log.debug("[{}] relay stays copying: no pipe: {}", id, e.toString());
      onSwitchFailed.run();
      return;
    }
    spliced = true;
    down = new End(downstream, "client");
    up = new End(upstream, "upstream");
    toUpstream = new SpliceDirection(downstream, down.fd, down.side, upstream, up.socket(), up.side, pipeUp);
    toDownstream = new SpliceDirection(upstream, up.fd, up.side, downstream, down.socket(), down.side, pipeDown);
    down.out = toUpstream;
    down.in = toDownstream;
    up.out = toDownstream;
    up.in = toUpstream;
    for (Channel ch : new Channel[] {downstream, upstream}) {
      ChannelPipeline p = ch.pipeline();
      if (p.get(ConduitPipeline.RELAY_IDLE) != null) {
        p.remove(ConduitPipeline.RELAY_IDLE); // no byte passes it any more; the idle timer is here now
      }
      p.addLast(ConduitPipeline.RELAY_SPLICE, new CloseGuard());
      // whoever closes the channel (the peer's teardown, stop, the admin API) ends the splicing first
      ch.closeFuture().addListener(f -> closeBoth());
    }
    lastActivityNanos = System.nanoTime();
    if (idleNanos > 0) {
      idleTimer = downstream.eventLoop().schedule(this::checkIdle, idleNanos, TimeUnit.NANOSECONDS);
    }
    // leave Netty's I/O; the registrations are cancelled by a task, so take over once both are done
    int[] pending = {2};
    for (Channel ch : new Channel[] {downstream, upstream}) {
      ch.deregister().addListener(f -> {
        if (!f.isSuccess()) {
          fail("client", f.cause());
          return;
        }
        if (--pending[0] == 0 && !torndown) {
          started = true;
          pumpAll(); // bytes may already wait in the sockets; this also sets the interest
        }
      });
    }
    log.debug("[{}] relay spliced", id);
  }

  private void checkIdle() {
    if (torndown) {
      return;
    }
    long quiet = System.nanoTime() - lastActivityNanos;
    if (quiet >= idleNanos) {
      log.debug("[{}] relay idle, closing", id);
      outcome.accept(Outcome.IDLE_TIMEOUT, "no traffic for " + TimeUnit.NANOSECONDS.toMillis(idleNanos) + " ms");
      closeBoth();
    } else {
      idleTimer = downstream.eventLoop().schedule(this::checkIdle, idleNanos - quiet, TimeUnit.NANOSECONDS);
    }
  }

  private void fail(String side, Throwable cause) {
    if (torndown) {
      return;
    }
    log.debug("[{}] spliced relay {} error: {}", id, side, cause.toString());
    if (!(toUpstream != null && toUpstream.finished && toDownstream.finished)) {
      outcome.accept(Outcome.ERROR, side + " connection: " + cause.getMessage());
    }
    if (Relay.isReset(cause)) {
      // pass the reset on: the other side must not take a truncated stream for a complete one
      Channel other = side.equals("client") ? upstream : downstream;
      if (other instanceof EpollSocketChannel epoll && epoll.isOpen()) {
        try {
          ((Socket) epoll.fd()).setSoLinger(0);
        } catch (IOException | RuntimeException e) {
          log.debug("[{}] SO_LINGER: {}", id, e.toString());
        }
      }
    }
    closeBoth();
  }

  /** Stops splicing and closes both channels. Idempotent. */
  private void closeBoth() {
    if (torndown) {
      return;
    }
    torndown = true;
    if (idleTimer != null) {
      idleTimer.cancel(false);
    }
    if (spliced) {
      down.cancel();
      up.cancel();
      toUpstream.closePipe();
      toDownstream.closePipe();
    }
    downstream.close();
    upstream.close();
  }

  /** Runs before a channel closes (through its pipeline): splicing stops while the descriptor is still open. */
  private final class CloseGuard extends ChannelOutboundHandlerAdapter {
    @Override
    public void close(ChannelHandlerContext ctx, ChannelPromise promise) {
      if (!torndown) {
        torndown = true;
        if (idleTimer != null) {
          idleTimer.cancel(false);
        }
        down.cancel();
        up.cancel();
        toUpstream.closePipe();
        toDownstream.closePipe();
        Channel other = ctx.channel() == downstream ? upstream : downstream;
        ctx.close(promise);
        other.close();
        return;
      }
      ctx.close(promise);
    }
  }

  /** One socket, registered with the event loop's epoll in place of its channel. */
  private final class End implements EpollIoHandle {
    final Channel channel;
    final FileDescriptor fd;
    final String side;
    /** The direction this socket feeds, and the one that feeds it. */
    SpliceDirection out;
    SpliceDirection in;
    IoRegistration registration;
    boolean registering;
    /** The interest wanted; 0 means none, and then the socket is out of epoll altogether. */
    int ops;

    End(Channel channel, String side) {
      this.channel = channel;
      this.fd = ((EpollSocketChannel) channel).fd();
      this.side = side;
    }

    Socket socket() {
      return (Socket) fd;
    }

    /** Sets the interest: submitted, or the socket leaves epoll (none) or joins it again. */
    void want(int value) {
      if (value == ops && (value == 0 || registration != null || registering)) {
        return;
      }
      ops = value;
      if (value == 0) {
        // out of epoll rather than an empty set: Netty would leave it registered in name only, and a
        // socket shut down both ways reports EPOLLHUP whatever the set (a busy loop while the last
        // bytes drain to a slow peer)
        cancel();
        return;
      }
      if (registration != null) {
        try {
          registration.submit(EpollIoOps.valueOf(value));
        } catch (RuntimeException e) {
          fail(side, e);
        }
        return;
      }
      if (registering) {
        return; // submitted when the registration completes
      }
      registering = true;
      ((IoEventLoop) channel.eventLoop()).register(this).addListener(f -> {
        registering = false;
        if (!f.isSuccess()) {
          fail(side, f.cause());
          return;
        }
        IoRegistration reg = (IoRegistration) f.getNow();
        if (torndown || ops == 0) {
          reg.cancel();
          return;
        }
        registration = reg;
        try {
          reg.submit(EpollIoOps.valueOf(ops));
        } catch (RuntimeException e) {
          fail(side, e);
        }
      });
    }

    void cancel() {
      if (registration != null) {
        registration.cancel();
        registration = null;
      }
    }

    @Override
    public FileDescriptor fd() {
      return fd;
    }

    @Override
    public void handle(IoRegistration reg, IoEvent event) {
      if (torndown) {
        return;
      }
      int ready = ((EpollIoEvent) event).ops().value();
      if ((ready & RDHUP) != 0) {
        out.rdHup = true;
      }
      pumpAll();
    }

    @Override
    public void close() {
      // the event loop is shutting down
      closeBoth();
    }
  }

  private void pumpAll() {
    if (torndown || !started) {
      return;
    }
    try {
      // both directions pump, whatever the first moved
      boolean moved = toUpstream.pump() | toDownstream.pump();
      if (moved) {
        lastActivityNanos = System.nanoTime();
      }
    } catch (SpliceDirection.SideException e) {
      fail(e.side, e.getCause());
      return;
    }
    if (toUpstream.finished && toDownstream.finished) {
      log.debug("[{}] spliced relay done: {} bytes up, {} bytes down", id, toUpstream.srcCounter.read(),
          toDownstream.srcCounter.read());
      closeBoth();
      return;
    }
    interest(down);
    interest(up);
  }

  /** Level-triggered interest: read while the pipe has room, write while it holds bytes. */
  private void interest(End end) {
    int want = 0;
    if (end.out.wantsRead()) {
      want |= IN | RDHUP;
    }
    if (end.in.inPipe > 0) {
      want |= OUT;
    }
    end.want(want);
  }
}
