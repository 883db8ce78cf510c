package dev.conduit.core.testing;

import io.netty.channel.ChannelHandler;
import io.netty.channel.embedded.EmbeddedChannel;
import java.net.InetSocketAddress;
import java.net.SocketAddress;

/** {@link EmbeddedChannel}s with socket addresses, for handlers that read them (as accepted TCP channels have). */
public final class AddressedChannel {
  private AddressedChannel() {}

  /** An active embedded channel with these addresses and handlers. */
  public static EmbeddedChannel of(InetSocketAddress local, InetSocketAddress remote, ChannelHandler... handlers) {
    EmbeddedChannel ch = new EmbeddedChannel() {
      @Override
      protected SocketAddress localAddress0() {
        return local;
      }

      @Override
      protected SocketAddress remoteAddress0() {
        return remote;
      }
    };
    ch.pipeline().addLast(handlers);
    return ch;
  }
}
