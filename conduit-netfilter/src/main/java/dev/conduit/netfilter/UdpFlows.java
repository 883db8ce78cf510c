package dev.conduit.netfilter;

import dev.conduit.core.outbound.Hop;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.epoll.EpollDatagramChannel;
import io.netty.channel.socket.DatagramPacket;
import java.net.InetSocketAddress;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The flow table of a {@link TransparentUdpRelay}. Every method runs on the relay's one event loop,
 * so the table needs no locks; the counters are read from other threads.
 */
final class UdpFlows {
  private static final Logger log = LoggerFactory.getLogger(UdpFlows.class);
  /** How long a flow waits for its SOCKS5 association. */
  static final java.time.Duration ASSOCIATION_TIMEOUT = java.time.Duration.ofSeconds(10);

  private record Key(InetSocketAddress client, InetSocketAddress target) {}

  /** One client's flow to one destination: the upstream socket and the reply socket. */
  private final class Flow {
    final Key key;
    final ArrayDeque<ByteBuf> pending = new ArrayDeque<>();
    Channel upstream;
    Channel reply;
    Socks5UdpAssociation socks;
    int opened;
    boolean closed;
    long lastActive = System.nanoTime();

    Flow(Key key) {
      this.key = key;
    }

    void send(ByteBuf payload) {
      lastActive = System.nanoTime();
      if (closed) {
        drop(TransparentUdpRelay.DROP_SOCKET_FAILED);
      } else if (opened == 2) {
        fromClients.incrementAndGet();
        upstream.writeAndFlush(outgoing(payload, true)).addListener(sent);
      } else if (queuedBytes + payload.readableBytes() > config.maxQueuedBytes) {
        drop(TransparentUdpRelay.DROP_QUEUE_FULL);
      } else {
        queuedBytes += payload.readableBytes();
        pending.add(payload.copy()); // sized to the datagram, not to the 64 KiB read buffer
      }
    }

    void opened() {
      if (++opened < 2 || closed) {
        return;
      }
      ByteBuf b;
      while ((b = pending.poll()) != null) {
        queuedBytes -= b.readableBytes();
        fromClients.incrementAndGet();
        upstream.write(outgoing(b, false)).addListener(sent);
      }
      upstream.flush();
    }

    /** The datagram to send upstream: as is, or after a SOCKS5 UDP header (a copy). */
    private ByteBuf outgoing(ByteBuf payload, boolean borrowed) {
      if (socks == null) {
        return borrowed ? payload.retainedDuplicate() : payload;
      }
      ByteBuf out = Socks5UdpAssociation.encode(upstream.alloc(), key.target(), payload);
      if (!borrowed) {
        payload.release();
      }
      return out;
    }

    void close() {
      if (closed) {
        return;
      }
      closed = true;
      flows.remove(key);
      ByteBuf b;
      while ((b = pending.poll()) != null) {
        queuedBytes -= b.readableBytes();
        b.release();
      }
      if (socks != null) {
        socks.close();
      }
      if (upstream != null) {
        upstream.close();
      }
      if (reply != null) {
        reply.close();
      }
    }
  }

  /** Counts a datagram the kernel refused to send (e.g. an ICMP error on a connected socket). */
  private final io.netty.channel.ChannelFutureListener sent = f -> {
    if (!f.isSuccess()) {
      drop(TransparentUdpRelay.DROP_SEND_FAILED);
      log.debug("UDP send failed on {}: {}", f.channel(), f.cause().toString());
    }
  };

  final TransparentUdpRelay.Builder config;
  private final EventLoop loop;
  private final Map<Key, Flow> flows = new HashMap<>();
  private final AtomicInteger size = new AtomicInteger();
  private final AtomicInteger peak = new AtomicInteger();
  private final AtomicLong ids = new AtomicLong();
  private long queuedBytes;
  final AtomicLong expired = new AtomicLong();
  final AtomicLong fromClients = new AtomicLong();
  final AtomicLong toClients = new AtomicLong();
  final AtomicLong associationsClosed = new AtomicLong();
  volatile TransparentUdpRelay.Routing routing;
  final ConcurrentHashMap<String, LongAdder> drops = new ConcurrentHashMap<>();

  UdpFlows(TransparentUdpRelay.Builder config, EventLoop loop, TransparentUdpRelay.Routing routing) {
    this.config = config;
    this.routing = routing;
    this.loop = loop;
  }

  int size() {
    return size.get();
  }

  int peak() {
    return peak.get();
  }

  void drop(String reason) {
    TransparentUdpRelay.count(drops, reason);
  }

  /** A datagram from a client to its original destination (on the listener or the flow's reply socket). */
  void fromClient(InetSocketAddress client, InetSocketAddress target, ByteBuf payload) {
    Key key = new Key(client, target);
    Flow flow = flows.get(key);
    if (flow == null) {
      if (flows.size() >= config.maxFlows) {
        drop(TransparentUdpRelay.DROP_TABLE_FULL);
        return;
      }
      TransparentUdpRelay.FlowRoute route = TransparentUdpRelay.route(routing, config.listenerName, client, target, ids);
      if (route.dropReason() != null) {
        drop(route.dropReason());
        return;
      }
      flow = open(key, route.socks());
    }
    flow.send(payload);
  }

  private Flow open(Key key, Hop socks) {
    Flow flow = new Flow(key);
    flows.put(key, flow);
    size.set(flows.size());
    peak.accumulateAndGet(flows.size(), Math::max);
    if (socks != null) {
      flow.socks = Socks5UdpAssociation.open(loop, socks, config.bypassMark, ASSOCIATION_TIMEOUT,
          new Reader(flow, true), new Socks5UdpAssociation.Events() {
            @Override
            public void ready(Channel udp) {
              flow.upstream = udp;
              opened(flow, true, null);
            }

            @Override
            public void failed(String why) {
              log.info("UDP flow {} -> {} via {}: {}", key.client(), key.target(), socks, why);
              flow.socks = null; // already closed
              if (!flow.closed) {
                drop(TransparentUdpRelay.DROP_ASSOCIATION_FAILED);
                flow.close();
                size.set(flows.size());
              }
            }

            @Override
            public void closed() {
              if (!flow.closed) {
                associationsClosed.incrementAndGet();
                flow.close();
                size.set(flows.size());
              }
            }
          });
      openReply(flow);
      return flow;
    }
    boolean v4 = key.target().getAddress() instanceof java.net.Inet4Address;
    InetSocketAddress any = new InetSocketAddress(v4 ? "0.0.0.0" : "::", 0);
    ChannelFuture up = new Bootstrap().group(loop)
        .channelFactory(() -> new EpollDatagramChannel(TransparentUdpRelay.family(key.target().getAddress())))
        .option(ChannelOption.RCVBUF_ALLOCATOR, TransparentUdpRelay.whole())
        .handler(new Reader(flow, true))
        .bind(any);
    flow.upstream = up.channel();
    try {
      SocketOptions.setMark(up.channel(), config.bypassMark);
    } catch (SocketOptionException e) {
      log.debug("UDP flow {} -> {}: {}", key.client(), key.target(), e.getMessage());
      drop(TransparentUdpRelay.DROP_SOCKET_FAILED);
      flow.close();
      return flow;
    }
    up.addListener(f -> {
      if (f.isSuccess()) {
        flow.upstream.connect(key.target()).addListener(c -> opened(flow, c.isSuccess(), c.cause()));
      } else {
        opened(flow, false, f.cause());
      }
    });
    openReply(flow);
    return flow;
  }

  /** Replies leave from the original destination: a transparent socket bound to it, connected to the client. */
  private void openReply(Flow flow) {
    Key key = flow.key;
    ChannelFuture reply = new Bootstrap().group(loop)
        .channelFactory(() -> new EpollDatagramChannel(TransparentUdpRelay.family(key.target().getAddress())))
        .option(ChannelOption.SO_REUSEADDR, true)
        .option(EpollChannelOption.IP_TRANSPARENT, true)
        .option(ChannelOption.RCVBUF_ALLOCATOR, TransparentUdpRelay.whole())
        .handler(new Reader(flow, false))
        .connect(key.client(), key.target());
    flow.reply = reply.channel();
    reply.addListener(f -> opened(flow, f.isSuccess(), f.cause()));
  }

  private void opened(Flow flow, boolean success, Throwable cause) {
    if (success) {
      flow.opened();
      return;
    }
    if (!flow.closed) {
      log.debug("UDP flow {} -> {}: {}", flow.key.client(), flow.key.target(), cause == null ? "" : cause.toString());
      drop(TransparentUdpRelay.DROP_SOCKET_FAILED);
      flow.close();
      size.set(flows.size());
    }
  }

  /** Reads one of a flow's sockets: replies from the destination, or the client's next datagrams. */
  private final class Reader extends SimpleChannelInboundHandler<DatagramPacket> {
    private final Flow flow;
    private final boolean upstream;

    Reader(Flow flow, boolean upstream) {
      this.flow = flow;
      this.upstream = upstream;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, DatagramPacket packet) {
      if (flow.closed) {
        return;
      }
      if (!upstream) {
        flow.send(packet.content());
        return;
      }
      flow.lastActive = System.nanoTime();
      if (flow.opened < 2) {
        return;
      }
      ByteBuf payload = packet.content();
      if (flow.socks != null) { // from the SOCKS5 relay: its header names the source, which must be the target
        InetSocketAddress[] source = new InetSocketAddress[1];
        int header = Socks5UdpAssociation.decode(payload, source);
        if (header == Socks5UdpAssociation.FRAGMENT) {
          drop(TransparentUdpRelay.DROP_FRAGMENT);
          return;
        }
        if (header < 0 || !flow.key.target().equals(TransparentUdpRelay.unmap(source[0]))) {
          drop(TransparentUdpRelay.DROP_BAD_RELAY_DATAGRAM);
          return;
        }
        payload = payload.slice(payload.readerIndex() + header, payload.readableBytes() - header);
      }
      toClients.incrementAndGet();
      flow.reply.writeAndFlush(payload.retainedDuplicate()).addListener(sent);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      // an ICMP error (port unreachable) on a connected socket: the flow ends as the client's would
      log.debug("UDP flow {} -> {}: {}", flow.key.client(), flow.key.target(), cause.toString());
    }
  }

  /** Closes the flows idle longer than the timeout. */
  void expireIdle() {
    long limit = System.nanoTime() - config.idleTimeout.toNanos();
    List<Flow> idle = new ArrayList<>();
    for (Flow f : flows.values()) {
      if (f.lastActive - limit < 0) {
        idle.add(f);
      }
    }
    for (Flow f : idle) {
      f.close();
      expired.incrementAndGet();
    }
    size.set(flows.size());
  }

  void closeAll() {
    new ArrayList<>(flows.values()).forEach(Flow::close);
    size.set(0);
  }
}
