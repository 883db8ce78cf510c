package dev.conduit.mitm;

/**
 * Observes and changes the HTTP exchanges a {@link MitmProxy} handles: plain {@code http://}
 * requests and requests decrypted from intercepted {@code CONNECT} tunnels.
 *
 * <p>Both methods run on the connection's event loop and must not block. {@link #onRequest} may
 * rewrite the request headers (they are forwarded as changed) or answer the request itself with
 * {@link InterceptedExchange#respond} (to block or mock it); then no upstream is contacted and later
 * interceptors are skipped. {@link #onResponse} sees the response head (from upstream or from the
 * cache) before the client does and may change its headers. Interceptors run in the order they were
 * added to the builder.
 *
 * <p>Bodies stream through untouched unless an interceptor asks for them with
 * {@link InterceptedExchange#receiveRequestBody} (in {@link #onRequest}) or
 * {@link InterceptedExchange#receiveResponseBody} (in {@link #onResponse}). An asked-for body up to
 * {@link MitmProxy.Builder#interceptedBodyLimit} is buffered and handed to {@link #onRequestBody} or
 * {@link #onResponseBody} of every interceptor, which may read and replace it; a larger one streams through
 * unchanged and those methods get an {@link InterceptedBody#tooLarge()} body instead. A response whose body is
 * asked for is not sent before its body is complete. Only responses relayed from upstream are offered: a
 * response served from (or downloaded into) conduit's cache is not, and a rewrite never changes what the cache
 * stores.
 */
public interface HttpInterceptor {

  /** Called before the request is served from cache or forwarded. */
  default void onRequest(InterceptedExchange exchange) {
  }

  /** Called with the response head before it is written to the client. */
  default void onResponse(InterceptedExchange exchange) {
  }

  /**
   * Called with the request body, once an interceptor asked for it, before the request is forwarded;
   * {@link InterceptedBody#replace} changes what is forwarded.
   */
  default void onRequestBody(InterceptedExchange exchange, InterceptedBody body) {
  }

  /**
   * Called with the response body, once an interceptor asked for it, before the response is written to
   * the client; {@link InterceptedBody#replace} changes what the client gets.
   */
  default void onResponseBody(InterceptedExchange exchange, InterceptedBody body) {
  }
}
