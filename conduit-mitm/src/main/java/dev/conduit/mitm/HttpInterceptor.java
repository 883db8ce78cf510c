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
 */
public interface HttpInterceptor {

  /** Called before the request is served from cache or forwarded. */
  default void onRequest(InterceptedExchange exchange) {
  }

  /** Called with the response head before it is written to the client. */
  default void onResponse(InterceptedExchange exchange) {
  }
}
