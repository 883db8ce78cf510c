package dev.conduit.core.internal.dial;

import dev.conduit.core.ConduitPipeline;
import dev.conduit.core.ConduitResources;
import dev.conduit.core.TcpKeepAlive;
import dev.conduit.core.internal.transport.ChannelTuning;
import dev.conduit.core.internal.transport.TrafficCounter;
import dev.conduit.core.outbound.SocketCustomizer;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelConfig;
import io.netty.channel.ChannelFactory;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.ChannelPromise;
import io.netty.channel.DefaultChannelPromise;
import io.netty.channel.EventLoop;
import io.netty.channel.ReflectiveChannelFactory;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.socket.SocketProtocolFamily;
import io.netty.resolver.NoopAddressResolverGroup;
import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.function.LongSupplier;

/**
 * The dialer's sockets: created, tuned ({@link ChannelTuning}, the outbound {@link SocketCustomizer}) and given
 * a byte counter and a {@link DialGuard}, for a direct connection or a chain of hops.
 */
final class DialSockets {
  private final ConduitResources resources;
  private final TcpKeepAlive keepAlive;
  private final SocketCustomizer customizer;
  private final ChannelFactory<? extends Channel> socketChannels;

  DialSockets(ConduitResources resources, TcpKeepAlive keepAlive, SocketCustomizer customizer) {
    this.resources = resources;
    this.keepAlive = keepAlive;
    this.customizer = customizer;
    this.socketChannels = new ReflectiveChannelFactory<>(resources.socketChannelType());
  }

  /**
   * Opens a plain TCP connection without a {@link Bootstrap}. Direct dials are the common case, and a
   * bootstrap per dial costs its option maps, an initializer added and removed, and a task for the
   * connect: about 1 KiB of garbage per dial, which shows in the memory of many tunnels opened at once.
   * Same socket options and handlers as {@link #chain}.
   *
   * @param remainingMillis what is left of the dial's deadline (the connect timeout)
   */
  ChannelFuture connectDirect(InetSocketAddress address, EventLoop loop, String connectionId,
      LongSupplier remainingMillis) {
    Channel ch = newSocketChannel(address);
    ChannelPromise connected = new DefaultChannelPromise(ch, loop);
    try {
      applyOptions(ch, remainingMillis);
    } catch (RuntimeException e) {
      ch.unsafe().closeForcibly();
      return connected.setFailure(e);
    }
    loop.register(ch).addListener((ChannelFuture registered) -> {
      if (!registered.isSuccess()) {
        ch.unsafe().closeForcibly();
        connected.tryFailure(registered.cause());
        return;
      }
      try {
        customizer.customize(ch);
      } catch (Exception | LinkageError e) {
        ch.close();
        connected.tryFailure(e);
        return;
      }
      ch.pipeline().addLast(ConduitPipeline.TRAFFIC, new TrafficCounter())
          .addLast(ConduitPipeline.DIAL_GUARD, new DialGuard(connectionId));
      ch.connect(address, connected);
    });
    return connected;
  }

  /**
   * A bootstrap for a chain of hops: TCP to the first hop, then each hop's TLS and proxy handshake.
   *
   * @param firstAddress where the socket connects (see {@link #newSocketChannel})
   * @param remainingMillis what is left of the dial's deadline (the connect timeout)
   */
  Bootstrap chain(EventLoop loop, List<HopHandlers> hops, InetSocketAddress firstAddress, String connectionId,
      LongSupplier remainingMillis) {
    return new Bootstrap()
        .group(loop)
        .channelFactory(() -> newSocketChannel(firstAddress))
        .resolver(NoopAddressResolverGroup.INSTANCE)
        .handler(new ChannelInitializer<Channel>() {
          @Override
          protected void initChannel(Channel ch) throws Exception {
            applyOptions(ch, remainingMillis);
            customizer.customize(ch);
            ChannelPipeline p = ch.pipeline();
            p.addLast(ConduitPipeline.TRAFFIC, new TrafficCounter());
            for (HopHandlers h : hops) {
              if (h.tls != null) {
                p.addLast(ConduitPipeline.HOP_TLS_PREFIX + h.index, h.tls);
              }
              p.addLast(ConduitPipeline.HOP_PROXY_PREFIX + h.index, h.proxy);
            }
            p.addLast(ConduitPipeline.DIAL_GUARD, new DialGuard(connectionId));
          }
        });
  }

  /** An IPv4 address gets an IPv4 socket on epoll (no dual-stack socket's extra syscalls). */
  private Channel newSocketChannel(InetSocketAddress address) {
    if (resources.isNativeTransport() && address != null && !address.isUnresolved()
        && address.getAddress() instanceof Inet4Address) {
      return new EpollSocketChannel(SocketProtocolFamily.INET);
    }
    return socketChannels.newChannel();
  }

  private void applyOptions(Channel ch, LongSupplier remainingMillis) {
    ChannelConfig c = ch.config();
    c.setConnectTimeoutMillis((int) Math.min(Integer.MAX_VALUE, remainingMillis.getAsLong()));
    c.setAutoRead(false);
    // TCP_NODELAY: Netty's socket channels set it by default (one setsockopt saved per dial)
    c.setWriteBufferWaterMark(ChannelTuning.WATER_MARK);
    c.setRecvByteBufAllocator(ChannelTuning.READ_SIZES);
    ChannelTuning.applyKeepAlive(ch, keepAlive);
  }
}
