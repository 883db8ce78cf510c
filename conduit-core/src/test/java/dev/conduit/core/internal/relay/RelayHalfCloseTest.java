package dev.conduit.core.internal.relay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.DuplexChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A half-close that arrives after the other side is gone (reset, or never connected): nothing to shut
 * down, so the channel is closed quietly, with no exception for a client to fill conduit's logs with.
 */
class RelayHalfCloseTest {

  @Test
  void shutdownOutputOfANotConnectedEpollSocketClosesItQuietly() throws Exception {
    assumeTrue(Epoll.isAvailable() || "true".equals(System.getenv("CI")), "no native epoll here");
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
    try {
      assertClosedQuietly(group, new EpollSocketChannel());
    } finally {
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }
  }

  @Test
  void shutdownOutputOfANotConnectedNioSocketClosesIt() throws Exception {
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    try {
      assertClosedQuietly(group, new NioSocketChannel());
    } finally {
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }
  }

  private static void assertClosedQuietly(EventLoopGroup group, DuplexChannel ch) throws Exception {
    group.register(ch).sync();
    // ENOTCONN: what shutdown(2) answers on a socket whose peer reset it, as on one never connected
    assertThatCode(() -> ch.eventLoop().submit(() -> Relay.shutdownOutput(ch)).sync()).doesNotThrowAnyException();
    assertThat(ch.closeFuture().await(10, TimeUnit.SECONDS)).as("closed").isTrue();
  }
}
