package dev.conduit.core;

import io.netty.channel.EventLoopGroup;
import dev.conduit.core.internal.RearmingEpollIoHandler;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollDatagramChannel;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.ServerSocketChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.resolver.AddressResolverGroup;
import io.netty.resolver.dns.DnsAddressResolverGroup;
import io.netty.resolver.dns.DnsNameResolverBuilder;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;

/**
 * The event loops, socket types and DNS resolver that listeners and dialers share. Create one per
 * process and pass it to every {@link Conduit}; closing it stops the event loops.
 *
 * <p>Uses the native epoll transport on Linux when available (needed for splice and for the
 * transparent proxy's socket options), NIO elsewhere.
 */
public final class ConduitResources implements AutoCloseable {

  private final EventLoopGroup group;
  private final boolean epoll;
  private final AddressResolverGroup<InetSocketAddress> resolver;

  private ConduitResources(Builder b) {
    int threads = b.ioThreads > 0 ? b.ioThreads : Runtime.getRuntime().availableProcessors();
    this.epoll = b.preferNative && Epoll.isAvailable();
    DefaultThreadFactory threadFactory = new DefaultThreadFactory("conduit-io", true);
    this.group = new MultiThreadIoEventLoopGroup(
        threads, threadFactory, epoll ? RearmingEpollIoHandler.newFactory() : NioIoHandler.newFactory());
    DnsNameResolverBuilder dns = new DnsNameResolverBuilder()
        .datagramChannelType(datagramChannelType())
        .socketChannelType(socketChannelType())
        .ttl(1, 300)
        .negativeTtl(5);
    this.resolver = new DnsAddressResolverGroup(dns);
  }

  /** Resources with one event loop per core and the native transport when available. */
  public static ConduitResources create() {
    return builder().build();
  }

  /** A builder. */
  public static Builder builder() {
    return new Builder();
  }

  /** The event loops. */
  public EventLoopGroup eventLoopGroup() {
    return group;
  }

  /** Whether the native epoll transport is in use. */
  public boolean isNativeTransport() {
    return epoll;
  }

  /** The socket channel type matching the event loops. */
  public Class<? extends SocketChannel> socketChannelType() {
    return epoll ? EpollSocketChannel.class : NioSocketChannel.class;
  }

  /** The server socket channel type matching the event loops. */
  public Class<? extends ServerSocketChannel> serverSocketChannelType() {
    return epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
  }

  /** The datagram channel type matching the event loops. */
  public Class<? extends DatagramChannel> datagramChannelType() {
    return epoll ? EpollDatagramChannel.class : NioDatagramChannel.class;
  }

  /** The asynchronous DNS resolver (Netty's; honours /etc/hosts and /etc/resolv.conf; a trailing dot skips search domains). */
  public AddressResolverGroup<InetSocketAddress> resolver() {
    return resolver;
  }

  /** Stops the event loops and the resolver, waiting up to five seconds. */
  @Override
  public void close() {
    resolver.close();
    group.shutdownGracefully(0, 5, TimeUnit.SECONDS).syncUninterruptibly();
  }

  @Override
  public String toString() {
    return "ConduitResources[" + (epoll ? "epoll" : "nio") + "]";
  }

  /** Builds {@link ConduitResources}. */
  public static final class Builder {
    private int ioThreads;
    private boolean preferNative = true;

    private Builder() {}

    /** The number of event loop threads (default: the number of cores). */
    public Builder ioThreads(int value) {
      if (value < 0) {
        throw new IllegalArgumentException("ioThreads: " + value + " (expected: >= 0)");
      }
      this.ioThreads = value;
      return this;
    }

    /** Whether to use epoll when available (default: true). */
    public Builder preferNativeTransport(boolean value) {
      this.preferNative = value;
      return this;
    }

    public ConduitResources build() {
      return new ConduitResources(this);
    }
  }
}
