package dev.conduit.core;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.handler.ssl.SslContext;
import java.io.Closeable;
import java.net.InetSocketAddress;

/** Terminates TLS on loopback and relays the plaintext to a backend (an https:// proxy in front of tinyproxy). */
final class TlsTerminator implements Closeable {
  private final Channel server;

  TlsTerminator(ConduitResources resources, SslContext serverTls, InetSocketAddress backend) {
    server = new ServerBootstrap().group(resources.eventLoopGroup()).channel(resources.serverSocketChannelType())
        .childOption(ChannelOption.AUTO_READ, false)
        .childHandler(new ChannelInitializer<Channel>() {
          @Override
          protected void initChannel(Channel front) {
            front.pipeline().addLast(serverTls.newHandler(front.alloc()));
            front.pipeline().addLast(new ChannelInboundHandlerAdapter() {
              Channel back;

              @Override
              public void channelActive(ChannelHandlerContext ctx) {
                back = new Bootstrap().group(front.eventLoop()).channel(resources.socketChannelType())
                    .handler(new Pipe(front)).connect(backend)
                    .addListener((ChannelFutureListener) f -> {
                      if (f.isSuccess()) {
                        front.read();
                      } else {
                        front.close();
                      }
                    }).channel();
              }

              @Override
              public void channelRead(ChannelHandlerContext ctx, Object msg) {
                back.writeAndFlush(msg);
              }

              @Override
              public void channelReadComplete(ChannelHandlerContext ctx) {
                ctx.read();
              }

              @Override
              public void channelInactive(ChannelHandlerContext ctx) {
                if (back == null) {
                  return;
                }
                back.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
              }

              @Override
              public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                ctx.close(); // a client that rejects our certificate ends up here
              }
            });
          }
        })
        .bind(new InetSocketAddress("127.0.0.1", 0)).syncUninterruptibly().channel();
  }

  /** Copies the backend's bytes to the front. */
  private static final class Pipe extends ChannelInboundHandlerAdapter {
    private final Channel front;

    Pipe(Channel front) {
      this.front = front;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      front.writeAndFlush(msg);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      front.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      ctx.close();
    }
  }

  int port() {
    return ((InetSocketAddress) server.localAddress()).getPort();
  }

  @Override
  public void close() {
    server.close().syncUninterruptibly();
  }
}
