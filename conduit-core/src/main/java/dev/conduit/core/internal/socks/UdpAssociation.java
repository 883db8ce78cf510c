package dev.conduit.core.internal.socks;

import dev.conduit.core.ConnectRequest;
import dev.conduit.core.Destination;
import dev.conduit.core.inbound.InboundContext;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOption;
import io.netty.channel.FixedRecvByteBufAllocator;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.epoll.EpollDatagramChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.socket.DatagramPacket;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.util.concurrent.Future;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One SOCKS5 {@code UDP ASSOCIATE} (RFC 1928 §7): a UDP port facing the client, on the address the client's
 * TCP connection came to, and a second, unconnected UDP socket facing the destinations. It lives as long as
 * the TCP connection and runs on its event loop, so nothing here needs locking.
 *
 * <p>Datagrams are taken only from the client's IP address (and port, once known: the one it declared, or
 * else the first it sends from); replies only from addresses the client has sent to (a bounded set). Each
 * datagram is routed by the rules in force ({@link InboundContext#routeDatagram}); a datagram that cannot be
 * sent now (rejected, unresolvable, a socket send buffer full, too many waiting for DNS) is dropped, as UDP
 * allows, so memory stays bounded whatever the two sides send.
 */
final class UdpAssociation {
  private static final Logger log = LoggerFactory.getLogger(UdpAssociation.class);
  /** The largest UDP payload: a read buffer of this size never truncates a datagram. */
  static final int MAX_DATAGRAM = 65_535;
  /** Destinations remembered for replies; the oldest is forgotten first. */
  private static final int MAX_PEERS = 1024;
  /** Datagrams waiting for their destination's name to resolve. */
  private static final int MAX_WAITING = 32;

  private final InboundContext context;
  private final Channel control;
  private final String principal;
  private final InetAddress clientIp;
  private int clientPort;
  private Channel clientSide;
  private Channel remoteSide;
  private final Map<InetSocketAddress, Boolean> peers = new LinkedHashMap<>(16, 0.75f, true) {
    @Override
    protected boolean removeEldestEntry(Map.Entry<InetSocketAddress, Boolean> eldest) {
      return size() > MAX_PEERS;
    }
  };
  private int waiting;
  private long sent;
  private long received;
  private long dropped;

  /** An association of {@code control} without sockets yet: {@link #open} binds them, a test attaches its own. */
  UdpAssociation(InboundContext context, Channel control, String principal, int declaredPort) {
    this.context = context;
    this.control = control;
    this.principal = principal;
    this.clientIp = ((InetSocketAddress) control.remoteAddress()).getAddress();
    this.clientPort = declaredPort;
  }

  /**
   * Binds the association's two sockets on {@code control}'s event loop; {@code ready} gets the client-facing
   * address (for the reply), or the failure.
   */
  static void open(InboundContext context, Channel control, String principal, int declaredPort,
      Consumer<Future<InetSocketAddress>> ready) {
    UdpAssociation a = new UdpAssociation(context, control, principal, declaredPort);
    InetAddress local = ((InetSocketAddress) control.localAddress()).getAddress();
    a.bind(new InetSocketAddress(local, 0), a.new FromClient()).addListener((ChannelFuture c) -> {
      if (!c.isSuccess()) {
        ready.accept(control.eventLoop().newFailedFuture(c.cause()));
        return;
      }
      a.bind(new InetSocketAddress(0), a.new FromRemote()).addListener((ChannelFuture r) -> {
        if (!r.isSuccess()) {
          c.channel().close();
          ready.accept(control.eventLoop().newFailedFuture(r.cause()));
          return;
        }
        a.attach(c.channel(), r.channel());
        ready.accept(control.eventLoop().newSucceededFuture((InetSocketAddress) c.channel().localAddress()));
      });
    });
  }

  private ChannelFuture bind(InetSocketAddress address, DatagramHandler handler) {
    Bootstrap b = new Bootstrap().group(control.eventLoop())
        .option(ChannelOption.RCVBUF_ALLOCATOR, new FixedRecvByteBufAllocator(MAX_DATAGRAM))
        .handler(handler);
    if (control instanceof EpollSocketChannel) {
      b.channel(EpollDatagramChannel.class);
    } else {
      b.channel(NioDatagramChannel.class);
    }
    return b.bind(address);
  }

  /** The handler of the client-facing socket. */
  ChannelHandler clientHandler() {
    return new FromClient();
  }

  /** The handler of the destination-facing socket. */
  ChannelHandler remoteHandler() {
    return new FromRemote();
  }

  /**
   * Takes over the association's two sockets, their handlers {@link #clientHandler()} and {@link #remoteHandler()}:
   * the association ends with its TCP connection, and the connection with a failed socket.
   */
  void attach(Channel clientSide, Channel remoteSide) {
    this.clientSide = clientSide;
    this.remoteSide = remoteSide;
    control.closeFuture().addListener(f -> {
      clientSide.close();
      remoteSide.close();
      log.debug("[{}] UDP association ended: {} datagrams sent, {} received, {} dropped", id(), sent, received,
          dropped);
    });
    clientSide.closeFuture().addListener(f -> control.close());
    remoteSide.closeFuture().addListener(f -> control.close());
  }

  private String id() {
    return context.connection().id();
  }

  /** Datagrams dropped so far (either way). */
  long dropped() {
    return dropped;
  }

  private void drop(String why, Object about) {
    dropped++;
    if (log.isDebugEnabled()) {
      log.debug("[{}] UDP datagram dropped: {} ({})", id(), why, about);
    }
  }

  /** A socket error loses a datagram at most, never the association. */
  private abstract class DatagramHandler extends SimpleChannelInboundHandler<DatagramPacket> {
    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      drop("socket error: " + cause, ctx.channel().localAddress());
    }
  }

  /** Client → destination: strips the request header, routes, sends. */
  private final class FromClient extends DatagramHandler {
    @Override
    protected void channelRead0(ChannelHandlerContext ctx, DatagramPacket packet) {
      InetSocketAddress from = packet.sender();
      if (!from.getAddress().equals(clientIp) || clientPort != 0 && from.getPort() != clientPort) {
        drop("not from the associated client", from);
        return;
      }
      ByteBuf in = packet.content();
      Destination dst;
      try {
        dst = readHeader(in);
      } catch (IllegalArgumentException | IndexOutOfBoundsException e) {
        drop("malformed request header: " + e.getMessage(), from);
        return;
      }
      if (dst == null) {
        drop("fragment (FRAG is not 0)", from);
        return;
      }
      clientPort = from.getPort();
      ConnectRequest request = ConnectRequest.of(context.connection(), dst).withPrincipal(principal);
      Future<InetSocketAddress> route = context.routeDatagram(request);
      if (route.isDone()) {
        send(route, in.retainedSlice());
        return;
      }
      if (waiting >= MAX_WAITING) {
        drop("too many datagrams waiting for DNS", dst);
        return;
      }
      waiting++;
      ByteBuf copy = ctx.alloc().buffer(in.readableBytes()).writeBytes(in); // not the 64 KiB read buffer
      route.addListener((Future<InetSocketAddress> f) -> {
        waiting--;
        send(f, copy);
      });
    }

    private void send(Future<InetSocketAddress> route, ByteBuf payload) {
      if (!route.isSuccess()) {
        payload.release();
        drop(route.cause().getMessage(), "");
        return;
      }
      if (!remoteSide.isActive() || !remoteSide.isWritable()) {
        payload.release();
        drop("send buffer full", route.getNow());
        return;
      }
      InetSocketAddress to = route.getNow();
      peers.put(to, Boolean.TRUE);
      sent++;
      remoteSide.writeAndFlush(new DatagramPacket(payload, to));
    }
  }

  /** Destination → client: only from a destination the client sent to; prefixed with its address. */
  private final class FromRemote extends DatagramHandler {
    @Override
    protected void channelRead0(ChannelHandlerContext ctx, DatagramPacket packet) {
      // IPv4 senders on the dual-stack socket come as Inet4Address (both transports unmap ::ffff:a.b.c.d),
      // equal to the addresses the client sent to
      InetSocketAddress from = packet.sender();
      if (!peers.containsKey(from)) {
        drop("from an address the client has not sent to", from);
        return;
      }
      if (!clientSide.isWritable()) {
        drop("send buffer full", from);
        return;
      }
      byte[] ip = from.getAddress().getAddress();
      ByteBuf header = ctx.alloc().buffer(6 + ip.length)
          .writeShort(0).writeByte(0).writeByte(ip.length == 4 ? 0x01 : 0x04).writeBytes(ip).writeShort(from.getPort());
      received++;
      clientSide.writeAndFlush(new DatagramPacket(Unpooled.wrappedBuffer(header, packet.content().retain()),
          new InetSocketAddress(clientIp, clientPort)));
    }
  }

  /**
   * Reads {@code RSV RSV FRAG ATYP DST.ADDR DST.PORT}, leaving {@code in} at the data; null for a fragment.
   *
   * @throws IllegalArgumentException or IndexOutOfBoundsException for a malformed header
   */
  static Destination readHeader(ByteBuf in) {
    in.skipBytes(2); // RSV
    if (in.readByte() != 0) {
      return null;
    }
    int atyp = in.readUnsignedByte();
    String host;
    switch (atyp) {
      case 0x01, 0x04 -> {
        byte[] ip = new byte[atyp == 0x01 ? 4 : 16];
        in.readBytes(ip);
        try {
          host = InetAddress.getByAddress(ip).getHostAddress();
        } catch (UnknownHostException e) {
          throw new IllegalArgumentException(e.getMessage());
        }
      }
      case 0x03 -> {
        int len = in.readUnsignedByte();
        host = in.readCharSequence(len, StandardCharsets.US_ASCII).toString();
      }
      default -> throw new IllegalArgumentException("address type " + atyp);
    }
    int port = in.readUnsignedShort();
    return Destination.of(host, port);
  }

}
