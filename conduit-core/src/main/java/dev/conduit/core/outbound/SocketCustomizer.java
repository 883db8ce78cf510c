package dev.conduit.core.outbound;

import io.netty.channel.Channel;
import java.io.IOException;

/**
 * Sets socket options on a channel before it connects or binds: {@code SO_MARK} on conduit's own
 * outbound sockets, {@code IP_TRANSPARENT} on TPROXY listeners. Runs on the channel's event loop
 * and must not block.
 */
@FunctionalInterface
public interface SocketCustomizer {

  /** Does nothing. */
  SocketCustomizer NONE = channel -> { };

  /**
   * Customizes the channel's socket.
   *
   * @throws IOException when the option cannot be set; the connect or bind then fails with it
   */
  void customize(Channel channel) throws IOException;

  /** This customizer, then {@code next}. */
  default SocketCustomizer andThen(SocketCustomizer next) {
    return channel -> {
      customize(channel);
      next.customize(channel);
    };
  }
}
