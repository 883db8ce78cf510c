package dev.conduit.netfilter;

import dev.conduit.core.Credentials;
import dev.conduit.core.Destination;
import dev.conduit.core.outbound.Hop;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.epoll.EpollDatagramChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * One UDP flow's association with a SOCKS5 server (RFC 1928 §7): a TCP control connection that asks
 * for {@code UDP ASSOCIATE} (with username/password, RFC 1929, when the hop has credentials), then a UDP
 * socket connected to the relay address the server answered. Datagrams carry the SOCKS5 UDP header
 * ({@link #encode}, {@link #decode}); fragments are refused. The association lives as long as its control
 * connection: when the server closes it, {@link Events#closed} ends the flow. Runs on the flow's event loop.
 */
final class Socks5UdpAssociation {
  /** What happens to an association, called on its event loop. */
  interface Events {
    /** The UDP socket is connected to the server's relay address. */
    void ready(Channel udp);

    /** The association could not be made (connect, refusal, timeout). */
    void failed(String why);

    /** The control connection closed after the association was made. */
    void closed();
  }

  /** {@link #decode} of a datagram that is not a whole SOCKS5 UDP header. */
  static final int MALFORMED = -1;
  /** {@link #decode} of a fragment (FRAG not 0), which conduit does not reassemble. */
  static final int FRAGMENT = -2;

  private final EventLoop loop;
  private final Hop hop;
  private final int mark;
  private final ChannelHandler udpHandler;
  private final Events events;
  private Channel control;
  private Channel udp;
  private boolean done;
  private boolean ended;

  private Socks5UdpAssociation(EventLoop loop, Hop hop, int mark, ChannelHandler udpHandler, Events events) {
    this.loop = loop;
    this.hop = hop;
    this.mark = mark;
    this.udpHandler = udpHandler;
    this.events = events;
  }

  /**
   * Opens an association through {@code hop}'s first endpoint; {@code udpHandler} reads the UDP socket.
   * Call on {@code loop}.
   */
  static Socks5UdpAssociation open(EventLoop loop, Hop hop, int mark, Duration timeout, ChannelHandler udpHandler,
      Events events) {
    Socks5UdpAssociation a = new Socks5UdpAssociation(loop, hop, mark, udpHandler, events);
    Destination endpoint = hop.endpoints().get(0);
    if (endpoint.isIpLiteral()) {
      a.connect(new InetSocketAddress(endpoint.ipAddress(), endpoint.port()), timeout);
    } else { // resolved off the event loop
      CompletableFuture.supplyAsync(() -> {
        try {
          return new InetSocketAddress(InetAddress.getByName(endpoint.host()), endpoint.port());
        } catch (UnknownHostException e) {
          return null;
        }
      }).thenAccept(address -> loop.execute(() -> {
        if (address == null) {
          a.fail("cannot resolve " + endpoint.host());
        } else {
          a.connect(address, timeout);
        }
      }));
    }
    return a;
  }

  private void connect(InetSocketAddress server, Duration timeout) {
    if (ended) {
      return;
    }
    Channel c = new Bootstrap().group(loop)
        .channelFactory(() -> new EpollSocketChannel(TransparentUdpRelay.family(server.getAddress())))
        .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(Integer.MAX_VALUE, timeout.toMillis()))
        .handler(new Handshake()).register().channel();
    control = c;
    try {
      SocketOptions.setMark(c, mark); // before the SYN: the server's replies are never diverted back to conduit
    } catch (SocketOptionException e) {
      fail(e.getMessage());
      return;
    }
    ScheduledFuture<?> deadline = loop.schedule(() -> {
      if (!done) {
        fail("no UDP ASSOCIATE within " + timeout.toMillis() + " ms");
      }
    }, timeout.toMillis(), TimeUnit.MILLISECONDS);
    c.closeFuture().addListener(f -> deadline.cancel(false));
    c.connect(server).addListener(f -> {
      if (!f.isSuccess()) {
        fail("connect to " + server + ": " + f.cause().getMessage());
        return;
      }
      Credentials credentials = hop.credentials().orElse(null);
      byte[] greeting = credentials == null ? new byte[] {5, 1, 0} : new byte[] {5, 2, 0, 2};
      c.writeAndFlush(c.alloc().buffer(greeting.length).writeBytes(greeting));
    });
  }

  /** Closes the control connection and the UDP socket; no event follows. */
  void close() {
    ended = true;
    if (control != null) {
      control.close();
    }
    if (udp != null) {
      udp.close();
    }
  }

  private void fail(String why) {
    if (ended) {
      return;
    }
    ended = true;
    close();
    events.failed(why);
  }

  private void associated(InetSocketAddress relay) {
    Channel u = new Bootstrap().group(loop)
        .channelFactory(() -> new EpollDatagramChannel(TransparentUdpRelay.family(relay.getAddress())))
        .option(ChannelOption.RCVBUF_ALLOCATOR, TransparentUdpRelay.whole())
        .handler(udpHandler).register().channel();
    udp = u;
    try {
      SocketOptions.setMark(u, mark);
    } catch (SocketOptionException e) {
      fail(e.getMessage());
      return;
    }
    // connected: only the server's relay address is read
    u.connect(relay).addListener(f -> {
      if (ended) {
        return;
      }
      if (f.isSuccess()) {
        done = true;
        events.ready(u);
      } else {
        fail("UDP to the relay " + relay + ": " + f.cause().getMessage());
      }
    });
  }

  /** The control connection's handshake; after it, its bytes are ignored and its end ends the flow. */
  private final class Handshake extends ChannelInboundHandlerAdapter {
    private int state; // 0 method, 1 auth, 2 reply, 3 associated
    private ByteBuf in; // the handshake's bytes not read yet (a reply may come in pieces)

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      ByteBuf b = (ByteBuf) msg;
      try {
        if (state == 3 || ended) {
          return;
        }
        if (in == null) {
          in = ctx.alloc().heapBuffer(64);
        }
        if (in.readableBytes() + b.readableBytes() > 512) { // no SOCKS5 reply is longer
          fail("SOCKS5 server sent " + (in.readableBytes() + b.readableBytes()) + " bytes of handshake");
          return;
        }
        in.writeBytes(b);
        decode(ctx);
      } finally {
        b.release();
      }
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
      if (in != null) {
        in.release();
        in = null;
      }
    }

    private void decode(ChannelHandlerContext ctx) {
      if (state == 0 && in.readableBytes() >= 2) {
        int version = in.readByte();
        int method = in.readUnsignedByte();
        Credentials credentials = hop.credentials().orElse(null);
        if (version != 5 || method == 0xff || method == 2 && credentials == null || method != 0 && method != 2) {
          fail("SOCKS5 server accepts none of our methods (version " + version + ", method " + method + ")");
        } else if (method == 2) {
          byte[] user = credentials.username().getBytes(StandardCharsets.UTF_8);
          byte[] pass = credentials.password().getBytes(StandardCharsets.UTF_8);
          ctx.writeAndFlush(ctx.alloc().buffer(3 + user.length + pass.length).writeByte(1).writeByte(user.length)
              .writeBytes(user).writeByte(pass.length).writeBytes(pass));
          state = 1;
        } else {
          request(ctx);
        }
      }
      if (state == 1 && in.readableBytes() >= 2) {
        in.skipBytes(1);
        if (in.readByte() != 0) {
          fail("SOCKS5 server refused the username and password");
          return;
        }
        request(ctx);
      }
      if (state == 2 && in.readableBytes() >= 5) {
        int atyp = in.getUnsignedByte(in.readerIndex() + 3);
        int length = atyp == 1 ? 10 : atyp == 4 ? 22 : atyp == 3 ? 7 + in.getUnsignedByte(in.readerIndex() + 4) : -1;
        if (length < 0) {
          fail("SOCKS5 reply with address type " + atyp);
          return;
        }
        if (in.readableBytes() < length) {
          return;
        }
        int reply = in.getUnsignedByte(in.readerIndex() + 1);
        if (reply != 0) {
          fail("SOCKS5 server refused UDP ASSOCIATE: reply " + reply + " (" + replyText(reply) + ")");
          return;
        }
        InetSocketAddress relay = address(in.skipBytes(3));
        state = 3;
        if (relay == null || relay.getAddress().isAnyLocalAddress()) { // "the server's address", RFC 1928 §6
          InetSocketAddress server = (InetSocketAddress) ctx.channel().remoteAddress();
          relay = new InetSocketAddress(server.getAddress(), relay == null ? 0 : relay.getPort());
        }
        associated(relay);
      }
    }

    private void request(ChannelHandlerContext ctx) {
      // the address we send from is not known before the relay answers: all zeros (RFC 1928 §7)
      ctx.writeAndFlush(ctx.alloc().buffer(10).writeBytes(new byte[] {5, 3, 0, 1, 0, 0, 0, 0, 0, 0}));
      state = 2;
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      if (done && !ended) {
        ended = true;
        close();
        events.closed();
      } else {
        fail("SOCKS5 server closed the connection during the handshake");
      }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      ctx.close(); // channelInactive says what it means
    }
  }

  private static String replyText(int reply) {
    return switch (reply) {
      case 1 -> "general failure";
      case 2 -> "not allowed by ruleset";
      case 3 -> "network unreachable";
      case 4 -> "host unreachable";
      case 5 -> "connection refused";
      case 7 -> "command not supported";
      case 8 -> "address type not supported";
      default -> "unknown";
    };
  }

  /** Reads ATYP, address and port; null for a domain name (only the relay's port is used then). */
  private static InetSocketAddress address(ByteBuf in) {
    int atyp = in.readUnsignedByte();
    byte[] ip = switch (atyp) {
      case 1 -> new byte[4];
      case 4 -> new byte[16];
      default -> null;
    };
    if (ip == null) {
      in.skipBytes(in.readUnsignedByte());
      in.readUnsignedShort();
      return null;
    }
    in.readBytes(ip);
    int port = in.readUnsignedShort();
    try {
      return new InetSocketAddress(InetAddress.getByAddress(ip), port);
    } catch (UnknownHostException e) {
      throw new IllegalStateException(e);
    }
  }

  /** A datagram to {@code target} with the SOCKS5 UDP header before a copy of {@code payload}. */
  static ByteBuf encode(ByteBufAllocator alloc, InetSocketAddress target, ByteBuf payload) {
    byte[] ip = target.getAddress().getAddress();
    ByteBuf out = alloc.directBuffer(6 + ip.length + payload.readableBytes());
    out.writeShort(0).writeByte(0).writeByte(target.getAddress() instanceof Inet4Address ? 1 : 4).writeBytes(ip)
        .writeShort(target.getPort()).writeBytes(payload, payload.readerIndex(), payload.readableBytes());
    return out;
  }

  /**
   * Reads a datagram's SOCKS5 UDP header: the payload's offset, {@link #MALFORMED} or {@link #FRAGMENT}; the
   * source address goes to {@code source[0]} (null for a domain name).
   */
  static int decode(ByteBuf datagram, InetSocketAddress[] source) {
    int start = datagram.readerIndex();
    int n = datagram.readableBytes();
    if (n < 4 || datagram.getShort(start) != 0) {
      return MALFORMED;
    }
    if (datagram.getByte(start + 2) != 0) {
      return FRAGMENT;
    }
    int atyp = datagram.getUnsignedByte(start + 3);
    int header = atyp == 1 ? 10 : atyp == 4 ? 22 : atyp == 3 && n > 4 ? 7 + datagram.getUnsignedByte(start + 4) : -1;
    if (header < 0 || n < header) {
      return MALFORMED;
    }
    source[0] = address(datagram.slice(start + 3, header - 3));
    return header;
  }
}
