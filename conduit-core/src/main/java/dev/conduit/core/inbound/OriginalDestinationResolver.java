package dev.conduit.core.inbound;

import io.netty.channel.Channel;
import java.net.InetSocketAddress;
import java.util.Optional;

/**
 * Tells where a client originally wanted to go when the kernel redirected its connection to a conduit
 * listener (netfilter {@code REDIRECT}/{@code DNAT} read with {@code SO_ORIGINAL_DST}, or a TPROXY
 * socket's local address). conduit-netfilter implements it; core ships only {@link #NONE}.
 */
@FunctionalInterface
public interface OriginalDestinationResolver {

  /** Knows of no redirection: every connection is treated as addressed to the listener itself. */
  OriginalDestinationResolver NONE = channel -> Optional.empty();

  /**
   * The original destination of an accepted connection, or empty when it was not redirected (or
   * that cannot be told). Called on the channel's event loop: it may make a system call on the
   * socket but must not block otherwise. An answer equal to the channel's local address means "not
   * redirected".
   */
  Optional<InetSocketAddress> originalDestination(Channel channel);
}
