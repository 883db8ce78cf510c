package dev.conduit.core.internal.transport;

import dev.conduit.core.TcpKeepAlive;
import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.socket.nio.NioChannelOption;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.net.SocketOption;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The socket tuning shared by accepted channels, dialed channels, pooled HTTP/2 connections and tunnel streams, in
 * one place so that both ends of a tunnel are tuned alike.
 */
public final class ChannelTuning {
  private static final Logger log = LoggerFactory.getLogger(ChannelTuning.class);

  /** Relay water marks: a tunnel buffers at most this much per direction before reading pauses. */
  public static final WriteBufferWaterMark WATER_MARK = new WriteBufferWaterMark(128 * 1024, 512 * 1024);

  /**
   * Read sizes: small for handshakes and idle keep-alive traffic, growing to 256 KiB for bulk
   * tunnels, which halves the syscalls per gigabyte compared with Netty's 64 KiB default. Buffers
   * exist only during a read, so idle connections hold none.
   */
  public static final AdaptiveRecvByteBufAllocator READ_SIZES = new AdaptiveRecvByteBufAllocator(512, 16 * 1024, 256 * 1024);

  private ChannelTuning() {}

  /** Applies {@code --tcp-keepalive} to an accepted or dialed socket. */
  public static void applyKeepAlive(Channel ch, TcpKeepAlive keepAlive) {
    if (!keepAlive.enabled()) {
      return; // off is the kernel's default: no syscall for it
    }
    ch.config().setOption(ChannelOption.SO_KEEPALIVE, true);
    if (keepAlive.idleSeconds() <= 0) {
      return;
    }
    if (ch instanceof EpollSocketChannel) {
      ch.config().setOption(EpollChannelOption.TCP_KEEPIDLE, keepAlive.idleSeconds());
      ch.config().setOption(EpollChannelOption.TCP_KEEPINTVL, keepAlive.intervalSeconds());
      ch.config().setOption(EpollChannelOption.TCP_KEEPCNT, keepAlive.count());
    } else if (ch instanceof NioSocketChannel) {
      // the JDK's extended options (Linux, macOS); where they are missing the kernel's timers stay
      setNio(ch, jdk.net.ExtendedSocketOptions.TCP_KEEPIDLE, keepAlive.idleSeconds());
      setNio(ch, jdk.net.ExtendedSocketOptions.TCP_KEEPINTERVAL, keepAlive.intervalSeconds());
      setNio(ch, jdk.net.ExtendedSocketOptions.TCP_KEEPCOUNT, keepAlive.count());
    }
  }

  private static void setNio(Channel ch, SocketOption<Integer> option, int value) {
    if (!ch.config().setOption(NioChannelOption.of(option), value)) {
      log.debug("{}: {} not supported here; the kernel's default applies", ch, option.name());
    }
  }
}
