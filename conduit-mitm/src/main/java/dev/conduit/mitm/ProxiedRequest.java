package dev.conduit.mitm;

import io.netty.handler.codec.http.FullHttpRequest;

/**
 * A request being served by a {@link ProxyHandler}; {@code request} is owned until written upstream.
 *
 * @param scheme {@code http}, or {@code https} inside an intercepted tunnel
 * @param host the origin host
 * @param port the origin port
 * @param request the request in origin form, hop-by-hop headers removed
 * @param exchange what interceptors see
 */
record ProxiedRequest(String scheme, String host, int port, FullHttpRequest request, InterceptedExchange exchange) {
  /** Retains the request once more (a sink that may follow redirects keeps it). */
  ProxiedRequest retained() {
    request.retain();
    return this;
  }
}
