package dev.conduit.netfilter;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.ConnectRequest;
import dev.conduit.core.ConnectionInfo;
import dev.conduit.core.Destination;
import dev.conduit.core.outbound.Hop;
import dev.conduit.core.outbound.Outbound;
import dev.conduit.core.route.RouteDecision;
import dev.conduit.core.route.Router;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOption;
import io.netty.channel.FixedRecvByteBufAllocator;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.epoll.EpollDatagramChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.socket.DatagramPacket;
import io.netty.channel.socket.SocketProtocolFamily;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * UDP through TPROXY: a transparent UDP listener ({@code IP_TRANSPARENT}, {@code IP_RECVORIGDSTADDR}
 * / {@code IPV6_RECVORIGDSTADDR}) on the port a {@link CapturePlan} with {@link
 * CapturePlan#captureUdp()} diverts to. Each flow (client address and port, original destination) is
 * routed once by the rules, and replies are sent from the original destination (a transparent socket
 * bound to it and connected to the client), so the client sees the server it addressed:
 * <ul>
 *   <li>{@link RouteDecision.Direct direct} flows are relayed through a socket carrying the bypass mark;
 *   <li>flows via an outbound of one SOCKS5 hop (no TLS, {@link #carriesUdp}) are relayed through a {@code UDP
 *       ASSOCIATE} of their own (RFC 1928 §7, username/password when the hop has credentials): the flow ends
 *       when the server closes the association's control connection, and fragments are refused;
 *   <li>rejected flows, and flows whose outbound cannot carry UDP (HTTP hops, chains, TLS), are dropped and
 *       counted by reason ({@link #drops()}).
 * </ul>
 *
 * <p>{@link #update} replaces the rules and outbounds for new flows; an open flow keeps the route it was
 * opened with until it ends (idle, or its association closed), as established TCP connections do.
 *
 * <p>Bound to {@code [::]}, it serves both families: IPv4 on an epoll datagram channel, IPv6 on an
 * IPv6-only transparent socket read with {@code recvmsg(2)} on a thread of its own (Netty does not hand
 * over {@code IPV6_ORIGDSTADDR}).
 *
 * <p>Bounded: at most {@code maxFlows} flows (each with at most one association), each closed after {@code
 * idleTimeout} without a datagram either way, and at most {@code maxQueuedBytes} of datagrams waiting, in
 * total, for their flow's sockets or association; beyond that datagrams are dropped and counted. Linux with
 * the epoll transport and CAP_NET_ADMIN only. Runs on an event loop of its own.
 */
public final class TransparentUdpRelay implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(TransparentUdpRelay.class);

  /** Drop reason: a rule rejected the flow. */
  public static final String DROP_REJECTED = "rejected by a rule";
  /** Drop reason: the flow's outbound cannot carry UDP (not direct, nor one SOCKS5 hop), or is unknown. */
  public static final String DROP_NO_UDP_OUTBOUND = "outbound cannot carry UDP";
  /** Drop reason: the SOCKS5 server refused {@code UDP ASSOCIATE}, or could not be reached. */
  public static final String DROP_ASSOCIATION_FAILED = "SOCKS5 association failed";
  /** Drop reason: a fragment from the SOCKS5 relay (FRAG not 0), which conduit does not reassemble. */
  public static final String DROP_FRAGMENT = "SOCKS5 fragment";
  /** Drop reason: a datagram from the SOCKS5 relay without a valid header, or from another source. */
  public static final String DROP_BAD_RELAY_DATAGRAM = "bad SOCKS5 datagram";
  /** Drop reason: the flow table is full. */
  public static final String DROP_TABLE_FULL = "flow table full";
  /** Drop reason: too many bytes wait for their flow's sockets. */
  public static final String DROP_QUEUE_FULL = "queue full";
  /** Drop reason: the kernel gave no original destination (not diverted by TPROXY). */
  public static final String DROP_NO_DESTINATION = "no original destination";
  /** Drop reason: the kernel refused to send a datagram (an ICMP error on the flow's socket). */
  public static final String DROP_SEND_FAILED = "send failed";
  /** Drop reason: the flow's sockets could not be opened. */
  public static final String DROP_SOCKET_FAILED = "flow socket failed";

  /** The largest UDP payload (IPv6 without jumbograms): 65535 - 8 bytes of UDP header. */
  static final int MAX_DATAGRAM = 65527;
  private final Builder config;
  private final EventLoopGroup group;
  private final EventLoop loop;
  private final Channel listener;
  private final UdpFlows flows;
  private final Udp6Listener listener6;

  private TransparentUdpRelay(Builder config, EventLoopGroup group, Channel listener, UdpFlows flows,
      Udp6Listener listener6) {
    this.listener6 = listener6;
    this.config = config;
    this.group = group;
    this.loop = listener.eventLoop();
    this.listener = listener;
    this.flows = flows;
  }

  /** Returns a builder; {@link Builder#bind} and {@link Builder#router} are required. */
  public static Builder builder() {
    return new Builder();
  }

  /** Returns the address the listener is bound to. */
  public InetSocketAddress address() {
    return (InetSocketAddress) listener.localAddress();
  }

  /** Returns the number of open flows. */
  public int flows() {
    return flows.size();
  }

  /** Returns the largest number of flows open at once so far. */
  public int peakFlows() {
    return flows.peak();
  }

  /** Returns the number of flows closed for being idle. */
  public long expiredFlows() {
    return flows.expired.get();
  }

  /** Returns the datagrams relayed from clients to their destinations. */
  public long datagramsFromClients() {
    return flows.fromClients.get();
  }

  /** Returns the datagrams relayed from destinations back to clients. */
  public long datagramsToClients() {
    return flows.toClients.get();
  }

  /** Returns the flows closed because their SOCKS5 association's control connection closed. */
  public long associationsClosed() {
    return flows.associationsClosed.get();
  }

  /**
   * Replaces the rules and outbounds for new flows; open flows keep their route until they end.
   *
   * @param router the rules
   * @param outbounds the outbounds the rules name ({@code direct} needs none)
   */
  public void update(Router router, List<Outbound> outbounds) {
    flows.routing = Routing.of(requireNonNull(router, "router"), outbounds);
  }

  /**
   * Returns whether flows through {@code outbound} are relayed: a direct outbound, or one of a single
   * SOCKS5 hop without TLS or multiplexing ({@code UDP ASSOCIATE}).
   *
   * @param outbound the outbound
   * @return whether it carries UDP
   */
  public static boolean carriesUdp(Outbound outbound) {
    if (outbound.isDirect()) {
      return true;
    }
    Hop hop = outbound.hops().get(0);
    return outbound.hops().size() == 1 && hop.protocol() == Hop.Protocol.SOCKS5 && !hop.tls() && !hop.multiplex();
  }

  /** Returns the datagrams dropped, by reason (the {@code DROP_*} constants). */
  public Map<String, Long> drops() {
    Map<String, Long> out = new TreeMap<>();
    flows.drops.forEach((k, v) -> out.put(k, v.sum()));
    return out;
  }

  /** Closes the listener and every flow, and stops the event loop. */
  @Override
  public void close() {
    if (listener6 != null) {
      listener6.close();
    }
    listener.close().syncUninterruptibly();
    loop.submit(flows::closeAll).syncUninterruptibly();
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
  }

  /** Reads what the TPROXY rules divert to the listener. */
  private static final class ListenerHandler extends SimpleChannelInboundHandler<DatagramPacket> {
    private final UdpFlows flows;

    ListenerHandler(UdpFlows flows) {
      this.flows = flows;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, DatagramPacket packet) {
      InetSocketAddress target = unmap(packet.recipient());
      InetSocketAddress local = (InetSocketAddress) ctx.channel().localAddress();
      if (target == null || target.getPort() == local.getPort() && target.getAddress().isAnyLocalAddress()) {
        flows.drop(DROP_NO_DESTINATION);
        return;
      }
      flows.fromClient(unmap(packet.sender()), target, packet.content());
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      log.debug("transparent UDP listener: {}", cause.toString());
    }
  }

  static InetSocketAddress unmap(InetSocketAddress address) {
    if (address == null) {
      return null;
    }
    InetAddress a = address.getAddress();
    byte[] b = a.getAddress();
    if (b.length == 16 && isMapped(b)) {
      try {
        return new InetSocketAddress(InetAddress.getByAddress(new byte[] {b[12], b[13], b[14], b[15]}),
            address.getPort());
      } catch (java.net.UnknownHostException e) {
        throw new IllegalStateException(e);
      }
    }
    return address;
  }

  private static boolean isMapped(byte[] b) {
    for (int i = 0; i < 10; i++) {
      if (b[i] != 0) {
        return false;
      }
    }
    return b[10] == (byte) 0xff && b[11] == (byte) 0xff;
  }

  static SocketProtocolFamily family(InetAddress address) {
    return address instanceof Inet4Address ? SocketProtocolFamily.INET : SocketProtocolFamily.INET6;
  }

  /** Configures a {@link TransparentUdpRelay}; {@link #build()} binds and starts it. */
  public static final class Builder {
    InetSocketAddress bind;
    Router router;
    final List<Outbound> outbounds = new ArrayList<>();
    int bypassMark = 0x5a4;
    Duration idleTimeout = Duration.ofSeconds(60);
    int maxFlows = 4096;
    long maxQueuedBytes = 4 << 20;
    String listenerName = "tproxy-udp";

    private Builder() {}

    /**
     * Sets the listener address, e.g. {@code [::]:15001} (both families) (required).
     *
     * @param address {@code ip:port} or {@code [ipv6]:port}
     * @return this builder
     */
    public Builder bind(String address) {
      Destination d = Destination.parse(requireNonNull(address, "address"), -1);
      if (!d.isIpLiteral()) {
        throw new IllegalArgumentException("bind: " + address + " (expected: an IP address and port)");
      }
      this.bind = new InetSocketAddress(d.ipAddress(), d.port());
      return this;
    }

    /**
     * Sets the rules every flow is routed by (required): the same router as the TCP listener's.
     *
     * @param router the router
     * @return this builder
     */
    public Builder router(Router router) {
      this.router = requireNonNull(router, "router");
      return this;
    }

    /**
     * Adds an outbound the rules name; flows through it are relayed when it {@linkplain #carriesUdp carries
     * UDP}.
     *
     * @param outbound the outbound
     * @return this builder
     */
    public Builder outbound(Outbound outbound) {
      outbounds.add(requireNonNull(outbound, "outbound"));
      return this;
    }

    /**
     * Sets the mark of the relay's own sockets (default {@code 0x5a4}), the plan's {@link
     * CapturePlan#bypassMark()}.
     *
     * @param mark the mark
     * @return this builder
     */
    public Builder bypassMark(int mark) {
      this.bypassMark = mark;
      return this;
    }

    /**
     * Sets how long a flow lives without a datagram either way (default 60 s).
     *
     * @param timeout a positive duration
     * @return this builder
     */
    public Builder idleTimeout(Duration timeout) {
      requireNonNull(timeout, "timeout");
      if (timeout.isNegative() || timeout.isZero()) {
        throw new IllegalArgumentException("idleTimeout: " + timeout + " (expected: positive)");
      }
      this.idleTimeout = timeout;
      return this;
    }

    /**
     * Sets the most flows open at once (default 4096); datagrams of further flows are dropped.
     *
     * @param max 1 or more
     * @return this builder
     */
    public Builder maxFlows(int max) {
      if (max < 1) {
        throw new IllegalArgumentException("maxFlows: " + max + " (expected: 1 or more)");
      }
      this.maxFlows = max;
      return this;
    }

    /**
     * Sets the most bytes of datagrams waiting for their flows' sockets, in total (default 4 MiB).
     *
     * @param max 65536 or more
     * @return this builder
     */
    public Builder maxQueuedBytes(long max) {
      if (max < 65536) {
        throw new IllegalArgumentException("maxQueuedBytes: " + max + " (expected: 65536 or more)");
      }
      this.maxQueuedBytes = max;
      return this;
    }

    /**
     * Sets the listener name rules see in {@link ConnectionInfo#listener()} (default {@code tproxy-udp}).
     *
     * @param name the name
     * @return this builder
     */
    public Builder listenerName(String name) {
      this.listenerName = requireNonNull(name, "name");
      return this;
    }

    /**
     * Builds the relay: binds the listener and starts relaying (the relay has no separate start; {@link
     * TransparentUdpRelay#close()} stops it).
     *
     * @return the running relay
     * @throws IllegalStateException when the listener cannot be bound (not root, no epoll)
     */
    public TransparentUdpRelay build() {
      if (bind == null || router == null) {
        throw new IllegalArgumentException("bind and router are required");
      }
      EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
      EventLoop loop = group.next();
      UdpFlows flows = new UdpFlows(this, loop, Routing.of(router, outbounds));
      // [::] means both families: IPv4 on Netty's channel, IPv6 on a socket read with recvmsg(2)
      boolean both = bind.getAddress().isAnyLocalAddress() && !(bind.getAddress() instanceof Inet4Address);
      InetSocketAddress netty = both ? new InetSocketAddress("0.0.0.0", bind.getPort()) : bind;
      ChannelFuture bound = new Bootstrap().group(loop)
          .channelFactory(() -> new EpollDatagramChannel(family(netty.getAddress())))
          .option(ChannelOption.SO_REUSEADDR, true)
          .option(EpollChannelOption.IP_TRANSPARENT, true)
          .option(EpollChannelOption.IP_RECVORIGDSTADDR, true)
          .option(ChannelOption.RCVBUF_ALLOCATOR, whole())
          .handler(new ListenerHandler(flows))
          .bind(netty).awaitUninterruptibly();
      if (!bound.isSuccess()) {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        throw new IllegalStateException("transparent UDP listener " + bind + ": " + bound.cause().getMessage()
            + " (needs Linux, the epoll transport and CAP_NET_ADMIN)", bound.cause());
      }
      try {
        SocketOptions.setReceiveOriginalDestination(bound.channel());
      } catch (SocketOptionException e) {
        bound.channel().close();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        throw new IllegalStateException("transparent UDP listener " + bind + ": " + e.getMessage(), e);
      }
      Udp6Listener listener6 = null;
      if (both) {
        try {
          listener6 = new Udp6Listener(((InetSocketAddress) bound.channel().localAddress()).getPort(), loop, flows);
        } catch (SocketOptionException | RuntimeException e) {
          bound.channel().close();
          group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
          throw new IllegalStateException("transparent UDP listener [::]:" + bind.getPort() + ": "
              + e.getMessage(), e);
        }
      }
      long sweep = Math.max(50, idleTimeout.toMillis() / 4);
      loop.scheduleAtFixedRate(flows::expireIdle, sweep, sweep, TimeUnit.MILLISECONDS);
      log.info("transparent UDP listener on {}", bound.channel().localAddress());
      return new TransparentUdpRelay(this, group, bound.channel(), flows, listener6);
    }
  }

  /** Reads whole datagrams: Netty's default 2048-byte buffer truncates larger ones. */
  static FixedRecvByteBufAllocator whole() {
    return new FixedRecvByteBufAllocator(MAX_DATAGRAM);
  }

  /** The rules and outbounds in force, swapped together. */
  record Routing(Router router, Map<String, Outbound> outbounds) {
    static Routing of(Router router, List<Outbound> outbounds) {
      Map<String, Outbound> byName = new HashMap<>();
      for (Outbound o : outbounds) {
        byName.put(o.name(), o);
      }
      return new Routing(router, Map.copyOf(byName));
    }
  }

  /** A new flow's route: a drop reason, or relayed (through {@code socks} when not null). */
  record FlowRoute(String dropReason, Hop socks) {
    static final FlowRoute DIRECT = new FlowRoute(null, null);
  }

  /** Routes a new flow by the rules in force. */
  static FlowRoute route(Routing routing, String listenerName, InetSocketAddress client, InetSocketAddress target,
      AtomicLong ids) {
    ConnectRequest request = ConnectRequest.of(new ConnectionInfo("u" + Long.toString(ids.incrementAndGet(), 36),
        listenerName, "tproxy-udp", client, target, Instant.now()), Destination.of(target));
    RouteDecision decision = routing.router().route(request).decision();
    if (decision instanceof RouteDecision.Reject) {
      return new FlowRoute(DROP_REJECTED, null);
    }
    if (decision instanceof RouteDecision.Via via && !via.outbound().equals(Outbound.DIRECT)) {
      Outbound outbound = routing.outbounds().get(via.outbound());
      if (outbound == null || !carriesUdp(outbound)) {
        return new FlowRoute(DROP_NO_UDP_OUTBOUND, null);
      }
      return outbound.isDirect() ? FlowRoute.DIRECT : new FlowRoute(null, outbound.hops().get(0));
    }
    return FlowRoute.DIRECT;
  }

  static void count(ConcurrentHashMap<String, LongAdder> drops, String reason) {
    drops.computeIfAbsent(reason, r -> new LongAdder()).increment();
  }
}
