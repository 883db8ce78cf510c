package dev.conduit.core.control.push.internal;

import dev.conduit.core.control.push.PushAuthorizer;
import dev.conduit.core.control.push.PushPeer;
import dev.conduit.core.pki.PeerIdentity;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.ssl.SslHandler;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Admits or refuses the WebSocket upgrade request: the path must match, and the {@link PushAuthorizer} must accept
 * the verified client certificate or (when allowed) the bearer token. Refusals get a plain HTTP status and the
 * connection closes; an admitted request passes on with the agent's identity in {@link ServerConnection#AGENT_ID}.
 */
public final class AuthHandler extends SimpleChannelInboundHandler<FullHttpRequest> {

  private static final Logger log = LoggerFactory.getLogger("dev.conduit.core.control.push");
  private static final String BEARER = "Bearer ";

  private final String path;
  private final PushAuthorizer authorizer;
  private final boolean allowBearerTokens;

  /** Creates the handler of one connection. */
  public AuthHandler(String path, PushAuthorizer authorizer, boolean allowBearerTokens) {
    super(FullHttpRequest.class, false);
    this.path = path;
    this.authorizer = authorizer;
    this.allowBearerTokens = allowBearerTokens;
  }

  @Override
  protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
    try {
      if (!request.decoderResult().isSuccess()) {
        refuse(ctx, HttpResponseStatus.BAD_REQUEST, "malformed request");
        return;
      }
      if (!new QueryStringDecoder(request.uri()).path().equals(path)) {
        refuse(ctx, HttpResponseStatus.NOT_FOUND, "no push channel at this path (expected: " + path + ")");
        return;
      }
      if (!HttpMethod.GET.equals(request.method())) {
        refuse(ctx, HttpResponseStatus.METHOD_NOT_ALLOWED, "expected: GET with a WebSocket upgrade");
        return;
      }
      SslHandler ssl = ctx.pipeline().get(SslHandler.class);
      Optional<PeerIdentity> identity = PeerIdentity.of(ssl.engine().getSession());
      Optional<String> token = Optional.empty();
      String authorization = request.headers().get(HttpHeaderNames.AUTHORIZATION);
      if (allowBearerTokens && authorization != null && authorization.regionMatches(true, 0, BEARER, 0, BEARER.length())) {
        token = Optional.of(authorization.substring(BEARER.length()).trim()).filter(t -> !t.isEmpty());
      }
      if (identity.isEmpty() && token.isEmpty()) {
        refuse(ctx, HttpResponseStatus.UNAUTHORIZED, "a client certificate"
            + (allowBearerTokens ? " or a bearer token" : "") + " is required");
        return;
      }
      PushPeer peer = new PushPeer((InetSocketAddress) ctx.channel().remoteAddress(), identity, token);
      Optional<String> agentId;
      try {
        agentId = authorizer.authorize(peer);
      } catch (RuntimeException e) {
        log.warn("push: authorizer failed for {}", peer, e);
        refuse(ctx, HttpResponseStatus.INTERNAL_SERVER_ERROR, "authorization failed");
        return;
      }
      if (agentId == null || agentId.isEmpty()) {
        refuse(ctx, HttpResponseStatus.FORBIDDEN, "not authorized");
        log.warn("push: refused {}: not authorized", peer);
        return;
      }
      ctx.channel().attr(ServerConnection.AGENT_ID).set(agentId.get());
      ctx.pipeline().remove(this);
      ctx.fireChannelRead(request.retain());
    } finally {
      request.release();
    }
  }

  private static void refuse(ChannelHandlerContext ctx, HttpResponseStatus status, String reason) {
    ByteBuf body = Unpooled.copiedBuffer(reason + "\n", StandardCharsets.UTF_8);
    FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, body);
    response.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.TEXT_PLAIN)
        .setInt(HttpHeaderNames.CONTENT_LENGTH, body.readableBytes())
        .set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
    ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
  }
}
