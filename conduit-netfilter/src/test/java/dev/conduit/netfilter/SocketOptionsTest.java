package dev.conduit.netfilter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.conduit.netfilter.testing.NetNs;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import org.junit.jupiter.api.Test;

/** Socket options on unregistered channels of this JVM (no traffic). */
class SocketOptionsTest {

  @Test
  void nonEpollChannelGetsAClearError() {
    NioSocketChannel nio = new NioSocketChannel();
    try {
      assertThatThrownBy(() -> SocketOptions.setMark(nio, 1))
          .isInstanceOf(SocketOptionException.class)
          .hasMessage("SO_MARK requires the epoll transport (Linux); got NioSocketChannel");
      assertThatThrownBy(() -> SocketOptions.originalDestination(nio))
          .hasMessageContaining("requires the epoll transport");
    } finally {
      nio.unsafe().closeForcibly();
    }
  }

  @Test
  void markAndTransparentRoundTrip() throws Exception {
    NetNs.requireRootAnd(); // SO_MARK and IP_TRANSPARENT need CAP_NET_ADMIN
    Epoll.ensureAvailability();
    EpollSocketChannel client = new EpollSocketChannel();
    EpollServerSocketChannel server = new EpollServerSocketChannel();
    try {
      assertThat(SocketOptions.mark(client)).isZero();
      SocketOptions.setMark(client, 0x5a4);
      assertThat(SocketOptions.mark(client)).isEqualTo(0x5a4);
      assertThat(SocketOptions.isTransparent(server)).isFalse();
      SocketOptions.setTransparent(server);
      assertThat(SocketOptions.isTransparent(server)).isTrue();
    } finally {
      client.unsafe().closeForcibly();
      server.unsafe().closeForcibly();
    }
  }

  @Test
  void closedChannelIsRejected() {
    Epoll.ensureAvailability();
    EpollSocketChannel client = new EpollSocketChannel();
    client.unsafe().closeForcibly();
    assertThatThrownBy(() -> SocketOptions.mark(client))
        .isInstanceOf(SocketOptionException.class)
        .hasMessageContaining("SO_MARK");
  }
}
