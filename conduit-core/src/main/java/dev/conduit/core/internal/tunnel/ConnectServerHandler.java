package dev.conduit.core.internal.tunnel;

import dev.conduit.core.ConnectRequest;
import dev.conduit.core.Destination;
import dev.conduit.core.DialException;
import dev.conduit.core.DialFailure;
import dev.conduit.core.inbound.InboundContext;
import dev.conduit.core.inbound.Upstream;
import dev.conduit.core.internal.dial.DialErrors;
import dev.conduit.core.observe.Outcome;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The tunnel server's side of HTTP/1.1 {@code CONNECT} (RFC 9110 §9.3.6), and nothing else: reads one
 * request head of at most {@link #MAX_REQUEST_BYTES}, routes and dials its authority, and answers
 * {@code 200} (then relays) or {@code 400/403/405/431/502/504} with an RFC 9209 {@code Proxy-Status}
 * naming the error, so the tunnel client can tell its own client what happened. Bytes sent after the
 * request head (a client that does not wait for the reply) are kept and go to the destination first.
 */
final class ConnectServerHandler extends ChannelInboundHandlerAdapter {
  private static final Logger log = LoggerFactory.getLogger(ConnectServerHandler.class);

  /** The largest request head accepted (request line and headers). */
  static final int MAX_REQUEST_BYTES = 8192;

  private static final byte[] END_OF_HEAD = {'\r', '\n', '\r', '\n'};

  private final InboundContext context;
  private ByteBuf head;
  private boolean requested;

  ConnectServerHandler(InboundContext context) {
    this.context = context;
  }

  private String id() {
    return context.connection().id();
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    head = ctx.alloc().buffer(512);
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (!(msg instanceof ByteBuf buf)) {
      ReferenceCountUtil.release(msg);
      return;
    }
    try {
      if (head == null) {
        return; // closing
      }
      head.writeBytes(buf);
    } finally {
      buf.release();
    }
    if (requested) {
      return; // early data while dialing: kept in head, sent after the request
    }
    int end = endOfHead(head);
    if (end < 0) {
      if (head.readableBytes() > MAX_REQUEST_BYTES) {
        refuse(ctx, 431, "Request Header Fields Too Large", Outcome.PROTOCOL_ERROR,
            "request head over " + MAX_REQUEST_BYTES + " bytes", null);
      } else {
        ctx.read();
      }
      return;
    }
    if (end - head.readerIndex() > MAX_REQUEST_BYTES) {
      refuse(ctx, 431, "Request Header Fields Too Large", Outcome.PROTOCOL_ERROR,
          "request head over " + MAX_REQUEST_BYTES + " bytes", null);
      return;
    }
    String text = head.toString(head.readerIndex(), end - head.readerIndex(), StandardCharsets.ISO_8859_1);
    head.readerIndex(end + END_OF_HEAD.length);
    requested = true;
    onRequest(ctx, text);
  }

  private void onRequest(ChannelHandlerContext ctx, String text) {
    String[] lines = text.split("\r\n", -1);
    String[] parts = lines[0].split(" ", -1);
    if (parts.length != 3 || !parts[2].startsWith("HTTP/1.")) {
      refuse(ctx, 400, "Bad Request", Outcome.PROTOCOL_ERROR, "malformed request line", null);
      return;
    }
    if (!parts[0].equals("CONNECT")) {
      refuse(ctx, 405, "Method Not Allowed", Outcome.PROTOCOL_ERROR,
          "method " + printable(parts[0]) + " (this listener only tunnels with CONNECT)", "Allow: CONNECT\r\n");
      return;
    }
    String forwardedFor = null;
    for (int i = 1; i < lines.length; i++) {
      String line = lines[i];
      int colon = line.indexOf(':');
      if (colon <= 0 || line.charAt(0) == ' ' || line.charAt(0) == '\t') {
        refuse(ctx, 400, "Bad Request", Outcome.PROTOCOL_ERROR, "malformed header line", null);
        return;
      }
      if (line.substring(0, colon).trim().toLowerCase(Locale.ROOT).equals("forwarded")) {
        forwardedFor = line.substring(colon + 1).trim();
      }
    }
    Destination dst;
    try {
      dst = parseAuthority(parts[1]);
    } catch (IllegalArgumentException e) {
      refuse(ctx, 400, "Bad Request", Outcome.PROTOCOL_ERROR, "CONNECT target: " + e.getMessage(), null);
      return;
    }
    log.debug("[{}] CONNECT {} ({})", id(), dst, forwardedFor == null ? "no Forwarded header" : forwardedFor);
    context.connect(ConnectRequest.of(context.connection(), dst)).addListener((Future<Upstream> f) -> {
      if (!ctx.channel().isActive()) {
        if (f.isSuccess()) {
          f.getNow().channel().close();
        }
        releaseHead();
        return;
      }
      if (f.isSuccess()) {
        onConnected(ctx, f.getNow());
      } else {
        onFailed(ctx, f.cause());
      }
    });
  }

  /** The absolute index of the blank line ending the head, or -1. */
  private static int endOfHead(ByteBuf buf) {
    int last = buf.writerIndex() - END_OF_HEAD.length;
    for (int i = buf.readerIndex(); i <= last; i++) {
      if (buf.getByte(i) == '\r' && buf.getByte(i + 1) == '\n' && buf.getByte(i + 2) == '\r'
          && buf.getByte(i + 3) == '\n') {
        return i;
      }
    }
    return -1;
  }

  /** Parses the authority-form target {@code host:port} or {@code [v6]:port}; the port is required. */
  static Destination parseAuthority(String target) {
    int colon = target.lastIndexOf(':');
    if (colon <= 0 || colon == target.length() - 1 || target.indexOf('/') >= 0 || target.indexOf('@') >= 0) {
      throw new IllegalArgumentException(printable(target) + " (expected: host:port)");
    }
    String host = target.substring(0, colon);
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    } else if (host.indexOf(':') >= 0) {
      throw new IllegalArgumentException(printable(target) + " (expected: [v6]:port for IPv6)");
    }
    int port;
    try {
      port = Integer.parseInt(target.substring(colon + 1));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(printable(target) + " (expected: a numeric port)");
    }
    return Destination.of(host, port);
  }

  private void onConnected(ChannelHandlerContext ctx, Upstream up) {
    ctx.writeAndFlush(Unpooled.copiedBuffer("HTTP/1.1 200 Connection Established\r\n\r\n", StandardCharsets.US_ASCII));
    if (head.isReadable()) {
      up.channel().writeAndFlush(head.retain());
    }
    releaseHead();
    context.relay(up);
    ctx.pipeline().remove(this);
  }

  private void onFailed(ChannelHandlerContext ctx, Throwable cause) {
    DialFailure failure = cause instanceof DialException d ? d.failure() : DialFailure.GENERAL;
    int status = failure.httpStatus();
    String reason = switch (status) {
      case 403 -> "Forbidden";
      case 504 -> "Gateway Timeout";
      default -> "Bad Gateway";
    };
    refuse(ctx, status, reason, failure == DialFailure.NOT_ALLOWED ? Outcome.REJECTED : Outcome.DIAL_FAILED,
        String.valueOf(cause.getMessage()), proxyStatus(failure, cause.getMessage()));
  }

  /** The RFC 9209 {@code Proxy-Status} header line for a failure. */
  static String proxyStatus(DialFailure failure, String details) {
    return "Proxy-Status: " + proxyStatusValue(failure, details) + "\r\n";
  }

  /** The RFC 9209 {@code Proxy-Status} header value for a failure. */
  static String proxyStatusValue(DialFailure failure, String details) {
    String d = details == null ? "" : details.replaceAll("[^\\x20-\\x7e]", " ").replace("\\", "/").replace("\"", "'");
    if (d.length() > 200) {
      d = d.substring(0, 200);
    }
    return "conduit; error=" + DialErrors.proxyStatusError(failure) + "; details=\"" + d + "\"";
  }

  private void refuse(ChannelHandlerContext ctx, int status, String reason, Outcome outcome, String detail,
      String extraHeaders) {
    log.debug("[{}] {} {}: {}", id(), status, reason, detail);
    context.outcome(outcome, detail);
    releaseHead();
    String response = "HTTP/1.1 " + status + " " + reason + "\r\n"
        + (extraHeaders == null ? "" : extraHeaders)
        + "Content-Length: 0\r\nConnection: close\r\n\r\n";
    ctx.writeAndFlush(Unpooled.copiedBuffer(response, StandardCharsets.US_ASCII))
        .addListener(ChannelFutureListener.CLOSE);
  }

  static String printable(String s) {
    String p = s.replaceAll("[^\\x21-\\x7e]", "?");
    return p.length() > 100 ? p.substring(0, 100) + "..." : p;
  }

  private void releaseHead() {
    if (head != null) {
      head.release();
      head = null;
    }
  }

  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) {
    releaseHead();
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    releaseHead();
    ctx.fireChannelInactive();
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    log.debug("[{}] tunnel error: {}", id(), cause.toString());
    context.outcome(Outcome.PROTOCOL_ERROR, String.valueOf(cause.getMessage()));
    ctx.close();
  }
}
