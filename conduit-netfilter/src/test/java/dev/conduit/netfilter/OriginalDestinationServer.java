package dev.conduit.netfilter;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;

/**
 * A tiny epoll server for system tests, run in a child JVM inside a network namespace: for each
 * accepted connection it writes {@code dst=<ip>:<port>} (the original destination read with {@link
 * SocketOptions}) or {@code error=<message>} and closes. Prints {@code READY} once bound.
 *
 * <p>Arguments: {@code <port> <REDIRECT|TPROXY>}.
 */
public final class OriginalDestinationServer {

  private OriginalDestinationServer() {}

  public static void main(String[] args) throws Exception {
    int port = Integer.parseInt(args[0]);
    CaptureMode mode = CaptureMode.valueOf(args[1]);
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
    try {
      ServerBootstrap bootstrap = new ServerBootstrap().group(group)
          .channelFactory(() -> {
            EpollServerSocketChannel server = new EpollServerSocketChannel();
            if (mode == CaptureMode.TPROXY) {
              try {
                SocketOptions.setTransparent(server);
              } catch (SocketOptionException e) {
                throw new IllegalStateException(e);
              }
            }
            return server;
          })
          .childHandler(new ChannelInitializer<EpollSocketChannel>() {
            @Override
            protected void initChannel(EpollSocketChannel ch) {
              ch.pipeline().addLast(new Reporter(mode));
            }
          });
      Channel server = bootstrap.bind(new InetSocketAddress(port)).sync().channel();
      System.out.println("READY transparent=" + SocketOptions.isTransparent(server));
      System.out.flush();
      server.closeFuture().sync();
    } finally {
      group.shutdownGracefully();
    }
  }

  /** Writes the original destination of the connection and closes it. */
  private static final class Reporter extends ChannelInboundHandlerAdapter {
    private final CaptureMode mode;

    Reporter(CaptureMode mode) {
      this.mode = mode;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
      String line;
      try {
        InetSocketAddress dst = SocketOptions.originalDestination(ctx.channel(), mode);
        line = "dst=" + dst.getAddress().getHostAddress() + ":" + dst.getPort();
      } catch (SocketOptionException e) {
        line = "error=" + e.getMessage();
      }
      ctx.writeAndFlush(Unpooled.copiedBuffer(line + "\n", StandardCharsets.UTF_8))
          .addListener(ChannelFutureListener.CLOSE);
    }
  }
}
