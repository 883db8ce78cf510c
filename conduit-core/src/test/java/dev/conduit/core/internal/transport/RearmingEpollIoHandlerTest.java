package dev.conduit.core.internal.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.spi.ILoggingEvent;
import dev.conduit.core.testing.CapturedLog;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.unix.UnixChannel;
import io.netty.util.ReferenceCountUtil;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class RearmingEpollIoHandlerTest {
  private EventLoopGroup group;
  private ServerSocket origin;

  @BeforeEach
  void setUp() throws Exception {
    assumeTrue(Epoll.isAvailable(), "epoll is not available here");
    group = new MultiThreadIoEventLoopGroup(1, RearmingEpollIoHandler.newFactory());
    origin = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
  }

  @AfterEach
  void tearDown() throws Exception {
    if (origin != null) {
      origin.close();
    }
    if (group != null) {
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }
  }

  /**
   * The HTTP/2 tunnel server's pattern: one read (here P's) closes a socket (X) whose event waits later in the
   * same epoll batch and dials a new socket (Y), which gets X's fd number. X's event must not reach Y: a read
   * of a socket not yet connected fails and closes it, and Y's dial failed with a ClosedChannelException.
   */
  @Test
  void aSocketOpenedDuringABatchDoesNotGetTheEventOfTheClosedSocketWhoseFdItReuses() throws Exception {
    InetSocketAddress originAddress = (InetSocketAddress) origin.getLocalSocketAddress();
    Channel x = connect(new Discard()).sync().channel();
    try (Socket xPeer = origin.accept()) {
      CompletableFuture<ChannelFuture> dial = new CompletableFuture<>();
      int[] fds = new int[2];
      Channel p = connect(new ChannelInboundHandlerAdapter() {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
          ReferenceCountUtil.release(msg);
          if (dial.isDone()) {
            return;
          }
          fds[0] = ((UnixChannel) x).fd().intValue();
          x.close(); // frees its fd number now; its readable event is still in the batch
          ChannelFuture y = bootstrap(new Discard()).connect(originAddress);
          fds[1] = ((UnixChannel) y.channel()).fd().intValue();
          dial.complete(y);
        }
      }).sync().channel();
      try (Socket pPeer = origin.accept()) {
        // hold the loop until both writes are done, so that P's and then X's readiness land in one batch, in that
        // order
        CompletableFuture<Void> held = new CompletableFuture<>();
        CountDownLatch release = new CountDownLatch(1);
        group.next().execute(() -> {
          held.complete(null);
          try {
            release.await(30, TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        });
        held.get(5, TimeUnit.SECONDS);
        try {
          pPeer.getOutputStream().write(1);
          pPeer.getOutputStream().flush();
          sleep(50); // P's data first: its readiness comes before X's in the batch
          xPeer.getOutputStream().write(1);
          xPeer.getOutputStream().flush();
        } finally {
          release.countDown();
        }

        ChannelFuture y = dial.get(5, TimeUnit.SECONDS);
        assertThat(fds[1]).as("the new socket reuses the closed one's fd number").isEqualTo(fds[0]);
        assertThat(y.await(5, TimeUnit.SECONDS)).isTrue();
        assertThat(y.cause()).as("the dial's failure").isNull();
        assertThat(y.channel().isActive()).isTrue();
        y.channel().close().sync();
      } finally {
        p.close().sync();
      }
    }
  }

  /**
   * A socket whose input ended has no interest left, and Netty takes it out of epoll. Closing it must not run a
   * second EPOLL_CTL_DEL, which fails with ENOENT (Netty builds an exception for it and logs it at debug), and
   * must still leave Netty's table of registrations: the next socket is served.
   */
  @Test
  void closingASocketThatLeftEpollSkipsTheRemovalThatWouldFail() throws Exception {
    try (CapturedLog logged = CapturedLog.of("io.netty.channel.epoll.EpollIoHandler", Level.DEBUG)) {
      CompletableFuture<Void> inputEnded = new CompletableFuture<>();
      Channel c = bootstrap(new Discard() {
        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
          if (evt instanceof ChannelInputShutdownEvent) {
            inputEnded.complete(null);
          }
        }
      }).option(ChannelOption.ALLOW_HALF_CLOSURE, true).connect(origin.getLocalSocketAddress()).sync().channel();
      try (Socket peer = origin.accept()) {
        peer.shutdownOutput();
        inputEnded.get(5, TimeUnit.SECONDS);
        c.close().sync();
      }

      CompletableFuture<Integer> read = new CompletableFuture<>();
      Channel next = connect(new ChannelInboundHandlerAdapter() {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
          read.complete(((ByteBuf) msg).readableBytes());
          ReferenceCountUtil.release(msg);
        }
      }).sync().channel();
      try (Socket peer = origin.accept()) {
        peer.getOutputStream().write(new byte[] {1, 2, 3});
        peer.getOutputStream().flush();
        assertThat(read.get(5, TimeUnit.SECONDS)).isEqualTo(3);
      } finally {
        next.close().sync();
      }
      assertThat(logged.events()).extracting(ILoggingEvent::getFormattedMessage)
          .noneMatch(m -> m.startsWith("Unable to remove fd"));
    }
  }

  private ChannelFuture connect(ChannelInboundHandlerAdapter handler) {
    return bootstrap(handler).connect(origin.getLocalSocketAddress());
  }

  private Bootstrap bootstrap(ChannelInboundHandlerAdapter handler) {
    return new Bootstrap().group(group).channel(EpollSocketChannel.class).handler(handler);
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Drops what it reads, and the errors the test provokes. */
  private static class Discard extends ChannelInboundHandlerAdapter {
    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      ReferenceCountUtil.release(msg);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      ctx.close();
    }
  }
}
