package dev.conduit.core;

import io.netty.channel.EventLoopGroup;
import dev.conduit.core.internal.transport.NativeTransports;
import dev.conduit.core.internal.transport.NettyVersions;
import dev.conduit.core.internal.transport.RearmingEpollIoHandler;
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
import io.netty.resolver.dns.SequentialDnsServerAddressStreamProvider;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * The event loops, socket types and DNS resolver that listeners and dialers share. Create one per
 * process and pass it to every {@link Conduit}; closing it stops the event loops.
 *
 * <p>Uses the native epoll transport on Linux when available (needed for splice and for the
 * transparent proxy's socket options), NIO elsewhere.
 *
 * <p>Names are resolved with Netty's asynchronous DNS resolver. By default it reads its name
 * servers, search domains and {@code ndots} from {@code /etc/resolv.conf}; the builder can override
 * each ({@link Builder#nameServers}, {@link Builder#searchDomains}, {@link Builder#ndots}).
 * {@code /etc/hosts} is always honoured, and a name with a trailing dot skips the search domains.
 */
public final class ConduitResources implements AutoCloseable {

  private final EventLoopGroup group;
  private final boolean epoll;
  private final AddressResolverGroup<InetSocketAddress> resolver;

  private ConduitResources(Builder b) {
    // before any 4.2-only class: Netty 4.1 on the class path fails here, naming both versions
    NettyVersions.requireCompatible();
    int threads = b.ioThreads > 0 ? b.ioThreads : Runtime.getRuntime().availableProcessors();
    this.epoll = b.preferNative && Epoll.isAvailable();
    if (b.preferNative && !epoll) {
      NativeTransports.warnIfEpollUnavailable();
    }
    DefaultThreadFactory threadFactory = new DefaultThreadFactory("conduit-io", true);
    this.group = new MultiThreadIoEventLoopGroup(
        threads, threadFactory, epoll ? RearmingEpollIoHandler.newFactory() : NioIoHandler.newFactory());
    DnsNameResolverBuilder dns = new DnsNameResolverBuilder()
        .datagramChannelType(datagramChannelType())
        .socketChannelType(socketChannelType())
        .ttl(1, 300)
        .negativeTtl(5);
    if (b.nameServers != null) {
      dns.nameServerProvider(new SequentialDnsServerAddressStreamProvider(b.nameServers));
    }
    if (b.searchDomains != null) {
      dns.searchDomains(b.searchDomains);
    }
    if (b.ndots >= 0) {
      dns.ndots(b.ndots);
    }
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
    private List<InetSocketAddress> nameServers;
    private List<String> searchDomains;
    private int ndots = -1;

    private Builder() {}

    /**
     * The DNS servers to query, tried in this order, instead of those in {@code /etc/resolv.conf}
     * (default: resolv.conf's). Each must be a resolved address with a port, e.g. {@code
     * new InetSocketAddress("127.0.0.1", 5353)}.
     *
     * @throws IllegalArgumentException if the list is empty or holds a null, unresolved or port-0 address
     */
    public Builder nameServers(List<InetSocketAddress> servers) {
      Objects.requireNonNull(servers, "nameServers");
      if (servers.isEmpty()) {
        throw new IllegalArgumentException("nameServers: empty (expected: at least one server)");
      }
      for (InetSocketAddress a : servers) {
        if (a == null) {
          throw new IllegalArgumentException("nameServers: null entry in " + servers);
        }
        if (a.isUnresolved()) {
          throw new IllegalArgumentException("nameServers: " + a.getHostString()
              + " is not an IP address (expected: a resolved address such as 127.0.0.1:53)");
        }
        if (a.getPort() == 0) {
          throw new IllegalArgumentException("nameServers: " + a + " has port 0 (expected: 1-65535)");
        }
      }
      this.nameServers = List.copyOf(servers);
      return this;
    }

    /**
     * The search domains appended to names with fewer than {@link #ndots} dots, in this order, instead
     * of those in {@code /etc/resolv.conf} (default: resolv.conf's). An empty list disables them. A name
     * with a trailing dot never gets a search domain.
     *
     * @throws IllegalArgumentException if a domain is null, blank, has whitespace, a leading dot or an empty label
     */
    public Builder searchDomains(List<String> domains) {
      Objects.requireNonNull(domains, "searchDomains");
      List<String> copy = new ArrayList<>(domains.size());
      for (String d : domains) {
        if (d == null || d.isBlank()) {
          throw new IllegalArgumentException("searchDomains: null or blank entry in " + domains);
        }
        String name = d.endsWith(".") ? d.substring(0, d.length() - 1) : d;
        if (name.isEmpty() || name.startsWith(".") || name.contains("..") || name.chars().anyMatch(Character::isWhitespace)
            || name.length() > 253) {
          throw new IllegalArgumentException("searchDomains: '" + d
              + "' is not a domain name (expected e.g. corp.example: no whitespace, no empty labels)");
        }
        copy.add(name);
      }
      this.searchDomains = List.copyOf(copy);
      return this;
    }

    /**
     * How many dots a name needs to be tried as-is before the search domains, instead of resolv.conf's
     * {@code options ndots} (default: resolv.conf's, 1 if unset).
     *
     * @throws IllegalArgumentException unless {@code 0 <= value <= 15} (resolv.conf's range)
     */
    public Builder ndots(int value) {
      if (value < 0 || value > 15) {
        throw new IllegalArgumentException("ndots: " + value + " (expected: 0-15)");
      }
      this.ndots = value;
      return this;
    }

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

    /** Builds the immutable {@code ConduitResources}. */
    public ConduitResources build() {
      return new ConduitResources(this);
    }
  }
}
