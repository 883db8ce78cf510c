package dev.conduit.core.internal.http;

import dev.conduit.core.internal.proxy.ProxyHttp;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpVersion;

/**
 * One forwarded request and its response. A new one per request, so nothing of an exchange carries over
 * to the next.
 */
final class Exchange {
  /** The request head as sent upstream (origin-form, hop-by-hop headers gone). */
  final HttpRequest request;
  /** The client speaks HTTP/1.0: no chunked coding, no interim responses. */
  final boolean clientHttp10;
  /** A WebSocket upgrade: a {@code 101} turns the connection into a tunnel. */
  final boolean upgradeRequest;
  /** The request's last part went upstream. */
  boolean requestDone;
  /** Some of the request body went upstream (a request that sent body bytes is not replayed). */
  boolean bodySent;
  /** The final response head came (interim ones do not count). */
  boolean responseStarted;
  /** An interim response (1xx) is being relayed. */
  boolean interim;
  /** The upstream switched protocols: after the head, a tunnel. */
  boolean switching;
  /** The client connection closes after this response. */
  boolean closeAfterResponse;
  /** The upstream may serve the next request. */
  boolean upstreamReusable;
  /** The request went on a kept upstream, which may have closed meanwhile. */
  boolean reused;
  /** The request was sent again on a new upstream once already. */
  boolean replayed;

  Exchange(HttpRequest request, boolean clientHttp10, boolean upgradeRequest, boolean closeAfterResponse) {
    this.request = request;
    this.clientHttp10 = clientHttp10;
    this.upgradeRequest = upgradeRequest;
    this.closeAfterResponse = closeAfterResponse;
  }

  /**
   * Rewrites an absolute-form request for its upstream (origin-form, hop-by-hop headers gone, {@code Host}
   * and {@code Via} set, HTTP/1.1) and starts its exchange.
   *
   * @param host the {@code Host} the upstream gets (the kept upstream's authority when it is reused)
   * @param draining conduit is stopping: this response is the connection's last
   */
  static Exchange start(HttpRequest req, RequestTarget target, String host, boolean draining) {
    HttpHeaders headers = req.headers();
    boolean http10 = req.protocolVersion().equals(HttpVersion.HTTP_1_0);
    String upgrade = headers.get(HttpHeaderNames.UPGRADE);
    int connection = ProxyHttp.removeHopByHop(headers, true);
    boolean keepAlive = http10 ? (connection & ProxyHttp.KEEP_ALIVE) != 0 : (connection & ProxyHttp.CLOSE) == 0;
    boolean upgrading = (connection & ProxyHttp.UPGRADE) != 0 && ProxyHttp.hasToken(upgrade, "websocket");
    if (upgrading) {
      headers.set(HttpHeaderNames.UPGRADE, upgrade);
      headers.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE);
    }
    headers.set(HttpHeaderNames.HOST, host);
    HttpMessages.addVia(headers, http10);
    req.setUri(req.method() == HttpMethod.OPTIONS && target.emptyPath ? "*" : target.path);
    req.setProtocolVersion(HttpVersion.HTTP_1_1);
    return new Exchange(req, http10, upgrading, !keepAlive || draining);
  }

  /** What a response head means for the exchange. */
  enum Head {
    /** {@code 101} to an upgrade request: relay the head, then tunnel. */
    SWITCHING,
    /** {@code 101} without an upgrade request: the upstream is broken. */
    BAD_SWITCH,
    /** An interim response (1xx): relayed to HTTP/1.1 clients. */
    INTERIM,
    /** The final response head. */
    FINAL
  }

  /** Classifies a response head and rewrites its headers for the client. */
  Head responseHead(HttpResponse res) {
    int code = res.status().code();
    HttpHeaders headers = res.headers();
    if (code == 101 && upgradeRequest) {
      responseStarted = true;
      switching = true;
      String upgrade = headers.get(HttpHeaderNames.UPGRADE);
      ProxyHttp.removeHopByHop(headers, false);
      if (upgrade != null) {
        headers.set(HttpHeaderNames.UPGRADE, upgrade);
      }
      headers.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE);
      HttpMessages.addVia(headers, false);
      return Head.SWITCHING;
    }
    if (code == 101) {
      return Head.BAD_SWITCH;
    }
    if (code >= 100 && code < 200) {
      interim = true;
      ProxyHttp.removeHopByHop(headers, false);
      return Head.INTERIM;
    }
    responseStarted = true;
    interim = false;
    boolean upstreamHttp10 = res.protocolVersion().equals(HttpVersion.HTTP_1_0);
    boolean bodyless = request.method() == HttpMethod.HEAD || code == 204 || code == 304;
    boolean chunked = ProxyHttp.hasToken(headers.get(HttpHeaderNames.TRANSFER_ENCODING), "chunked");
    boolean delimited = bodyless || chunked || headers.contains(HttpHeaderNames.CONTENT_LENGTH);
    int connection = ProxyHttp.removeHopByHop(headers, false);
    boolean upstreamKeepAlive = upstreamHttp10 ? (connection & ProxyHttp.KEEP_ALIVE) != 0
        : (connection & ProxyHttp.CLOSE) == 0;
    if (!delimited) {
      // the body ends when the upstream closes: the upstream cannot be reused
      upstreamKeepAlive = false;
      if (clientHttp10) {
        closeAfterResponse = true;
      } else {
        headers.set(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
      }
    } else if (chunked && clientHttp10 && !bodyless) {
      // HTTP/1.0 has no chunked coding: the body ends with the connection
      headers.remove(HttpHeaderNames.TRANSFER_ENCODING);
      closeAfterResponse = true;
    }
    if (!requestDone) {
      // the upstream answered before the whole request was sent: neither side can be reused
      closeAfterResponse = true;
      upstreamKeepAlive = false;
    }
    upstreamReusable = upstreamKeepAlive;
    if (closeAfterResponse) {
      headers.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
    } else if (clientHttp10) {
      headers.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
    }
    HttpMessages.addVia(headers, upstreamHttp10);
    res.setProtocolVersion(HttpVersion.HTTP_1_1);
    return Head.FINAL;
  }

  /** Whether a kept upstream that closed unanswered may get this request again on a new connection. */
  boolean replayable() {
    return !responseStarted && !interim && reused && !bodySent && requestDone && !replayed;
  }
}
