package dev.conduit.core.control.push.internal;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.CorruptedWebSocketFrameException;
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketClientProtocolConfig;
import io.netty.handler.codec.http.websocketx.WebSocketClientProtocolHandler;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketFrameAggregator;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.handler.timeout.IdleState;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.AttributeKey;
import java.net.URI;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The agent's pipeline: TLS, HTTP upgrade with an optional bearer token, WebSocket, and the message handler. */
final class ClientConnection extends SimpleChannelInboundHandler<WebSocketFrame> {

  private static final Logger log = LoggerFactory.getLogger("dev.conduit.core.control.push");

  /** Set once the WebSocket handshake completed on the channel. */
  static final AttributeKey<Boolean> UP = AttributeKey.valueOf("conduit.push.up");

  private final AgentCore core;
  private final URI uri;
  private boolean closing;

  private ClientConnection(AgentCore core, URI uri) {
    super(WebSocketFrame.class);
    this.core = core;
    this.uri = uri;
  }

  /** Builds the pipeline of one connection attempt. */
  static final class Initializer extends ChannelInitializer<SocketChannel> {
    private final AgentCore core;
    private final URI uri;
    private final int port;

    Initializer(AgentCore core, URI uri, int port) {
      this.core = core;
      this.uri = uri;
      this.port = port;
    }

    @Override
    protected void initChannel(SocketChannel ch) {
      AgentCore.Settings s = core.settings();
      HttpHeaders headers = new DefaultHttpHeaders();
      s.token().ifPresent(token -> headers.set(HttpHeaderNames.AUTHORIZATION, "Bearer " + token));
      WebSocketClientProtocolConfig ws = WebSocketClientProtocolConfig.newBuilder()
          .webSocketUri(uri)
          .customHeaders(headers)
          .maxFramePayloadLength(s.maxMessageBytes())
          .allowExtensions(false)
          .handleCloseFrames(false) // ClientConnection logs the server's code and reason
          .handshakeTimeoutMillis(s.idleTimeout().toMillis())
          .build();
      ch.pipeline().addLast(
          s.tls().get().newHandler(ch.alloc(), uri.getHost(), port),
          new IdleStateHandler(s.idleTimeout().toMillis(), s.pingInterval().toMillis(), 0, TimeUnit.MILLISECONDS),
          new ActiveAfterTls(),
          new HttpClientCodec(),
          new HttpObjectAggregator(8192),
          new WebSocketClientProtocolHandler(ws),
          new WebSocketFrameAggregator(s.maxMessageBytes()),
          new ClientConnection(core, uri));
    }
  }

  /**
   * Holds "channel active" back from the WebSocket handler until TLS is up: it writes its upgrade request when the
   * channel becomes active, and a request queued in the {@code SslHandler} while a connection closed mid-handshake
   * was reported leaked. After a failed TLS handshake the request is never made.
   */
  static final class ActiveAfterTls extends ChannelInboundHandlerAdapter {
    private boolean active;
    private boolean tlsUp;

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
      active = true;
      if (tlsUp) {
        ctx.fireChannelActive();
      }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
      if (evt instanceof SslHandshakeCompletionEvent done && done.isSuccess() && !tlsUp) {
        tlsUp = true;
        if (active) {
          ctx.fireChannelActive();
        }
      }
      ctx.fireUserEventTriggered(evt);
    }
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
    if (evt == WebSocketClientProtocolHandler.ClientHandshakeStateEvent.HANDSHAKE_COMPLETE) {
      core.connected(ctx.channel(), uri);
    } else if (evt instanceof SslHandshakeCompletionEvent tls && !tls.isSuccess()) {
      // the WebSocket handshake never started (ActiveAfterTls): say why the attempt failed
      core.failed(uri, "TLS handshake: " + root(tls.cause()));
    } else if (evt instanceof IdleStateEvent idle) {
      if (idle.state() == IdleState.WRITER_IDLE) {
        ctx.writeAndFlush(new PingWebSocketFrame());
      } else if (idle.state() == IdleState.READER_IDLE && !core.applying()) {
        fail(ctx, Frames.GOING_AWAY, "idle timeout: no message or heartbeat from the server");
      }
    } else {
      super.userEventTriggered(ctx, evt);
    }
  }

  @Override
  protected void channelRead0(ChannelHandlerContext ctx, WebSocketFrame frame) {
    if (closing) {
      return;
    }
    if (frame instanceof CloseWebSocketFrame close) {
      log.info("push: {} closed the channel: {} {}", uri, close.statusCode(), close.reasonText());
      core.failed(uri, "closed by the server: " + close.statusCode() + " " + close.reasonText());
      closing = true;
      ctx.close();
      return;
    }
    if (!(frame instanceof TextWebSocketFrame)) {
      fail(ctx, Frames.UNSUPPORTED_DATA, "expected text frames holding JSON");
      return;
    }
    try {
      ObjectNode message = Json.parse(ByteBufUtil.getBytes(frame.content()));
      core.received(ctx.channel(), message);
    } catch (Json.MalformedMessageException e) {
      fail(ctx, Frames.INVALID_PAYLOAD, e.getMessage());
    } catch (ProtocolException e) {
      fail(ctx, Frames.POLICY_VIOLATION, e.getMessage());
    }
  }

  private void fail(ChannelHandlerContext ctx, int code, String reason) {
    if (closing) {
      return;
    }
    closing = true;
    log.warn("push: closing the channel to {}: {} {}", uri, code, reason);
    core.failed(uri, "closed: " + code + " " + reason);
    Frames.close(ctx, code, reason);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    if (cause instanceof TooLongFrameException || cause instanceof CorruptedWebSocketFrameException) {
      fail(ctx, Frames.MESSAGE_TOO_BIG, "message too big or corrupt: " + cause.getMessage());
    } else {
      core.failed(uri, root(cause).toString());
      ctx.close();
    }
  }

  private static Throwable root(Throwable cause) {
    Throwable root = cause;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    return root;
  }

  /** A message the agent does not expect. */
  static final class ProtocolException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    ProtocolException(String message) {
      super(message, null, false, false);
    }
  }
}
