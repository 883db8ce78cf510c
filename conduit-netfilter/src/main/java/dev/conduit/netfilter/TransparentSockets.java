package dev.conduit.netfilter;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.outbound.SocketCustomizer;
import io.netty.channel.unix.UnixChannel;
import java.io.IOException;

/**
 * Socket customizers for transparent capture: {@link #listener(CaptureMode)} for the transparent
 * listener ({@code Listener.Builder#socketCustomizer}, runs before bind) and {@link
 * #outboundMark(int)} for conduit's own dials ({@code ConduitBuilder#outboundSocketCustomizer}, runs
 * before connect), so they carry the plan's bypass mark and are never captured again.
 *
 * <p>Both need the epoll transport and CAP_NET_ADMIN (for {@code IP_TRANSPARENT} and {@code
 * SO_MARK}); without them they throw an {@link IOException} that says what to change, so a listener
 * fails at {@code Conduit.start()} and a dial fails with that message.
 */
public final class TransparentSockets {

  private static final String EPOLL_FIX = "use the epoll transport: run on Linux with"
      + " netty-transport-native-epoll on the class path and ConduitResources.builder()"
      + ".preferNativeTransport(true)";

  private TransparentSockets() {}

  /**
   * Returns the customizer for a transparent listener socket: checks that it is an epoll socket
   * ({@code SO_ORIGINAL_DST} needs its descriptor) and, for {@link CaptureMode#TPROXY}, sets {@code
   * IP_TRANSPARENT} / {@code IPV6_TRANSPARENT}.
   *
   * @param mode the capture mode
   * @return the customizer
   */
  public static SocketCustomizer listener(CaptureMode mode) {
    requireNonNull(mode, "mode");
    return channel -> {
      if (!(channel instanceof UnixChannel)) {
        throw new IOException("transparent listener (" + mode + ") needs the epoll transport, got "
            + channel.getClass().getSimpleName() + ": " + EPOLL_FIX);
      }
      if (mode == CaptureMode.TPROXY) {
        try {
          SocketOptions.setTransparent(channel);
        } catch (SocketOptionException e) {
          throw new IOException("TPROXY listener: " + e.getMessage(), e);
        }
      }
    };
  }

  /**
   * Returns a customizer that sets {@code SO_MARK} on outbound sockets.
   *
   * @param mark the mark, e.g. {@link CapturePlan#bypassMark()}
   * @return the customizer
   */
  public static SocketCustomizer outboundMark(int mark) {
    return channel -> {
      if (!(channel instanceof UnixChannel)) {
        throw new IOException("SO_MARK " + CapturePlan.hex(mark) + " on outbound sockets needs the"
            + " epoll transport, got " + channel.getClass().getSimpleName() + ": " + EPOLL_FIX);
      }
      try {
        SocketOptions.setMark(channel, mark);
      } catch (SocketOptionException e) {
        throw new IOException("outbound socket mark: " + e.getMessage(), e);
      }
    };
  }

  /**
   * Returns a customizer that puts the plan's {@linkplain CapturePlan#bypassMark() bypass mark} on
   * outbound sockets, so the plan's rules skip conduit's own connections.
   *
   * @param plan the capture plan
   * @return the customizer
   */
  public static SocketCustomizer outboundMark(CapturePlan plan) {
    requireNonNull(plan, "plan");
    return outboundMark(plan.bypassMark());
  }
}
