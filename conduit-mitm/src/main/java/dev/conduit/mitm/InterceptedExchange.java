package dev.conduit.mitm;

import static java.util.Objects.requireNonNull;

import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.Optional;

/**
 * One request and, once it arrived, its response head, as an {@link HttpInterceptor} sees them.
 * Not thread-safe: used on one event loop. (Named so that code importing both {@code dev.conduit.mitm.*}
 * and the JDK's {@code com.sun.net.httpserver.*} has no ambiguous {@code HttpExchange}.)
 */
public final class InterceptedExchange {

  private final String method;
  private final URI uri;
  private final HttpHeaders requestHeaders;
  private int status;
  private HttpHeaders responseHeaders;
  private boolean fromCache;
  private Synthetic synthetic;
  private boolean requestBodyWanted;
  private boolean responseBodyWanted;

  record Synthetic(int status, String contentType, byte[] body) {
  }

  InterceptedExchange(String method, URI uri, HttpHeaders requestHeaders) {
    this.method = requireNonNull(method, "method");
    this.uri = requireNonNull(uri, "uri");
    this.requestHeaders = requireNonNull(requestHeaders, "requestHeaders");
  }

  /** The request method, e.g. {@code GET}. */
  public String method() {
    return method;
  }

  /** The full request URI, {@code https://host:port/path?query} for intercepted requests. */
  public URI uri() {
    return uri;
  }

  /** The request headers; changes made in {@link HttpInterceptor#onRequest} are forwarded. */
  public HttpHeaders requestHeaders() {
    return requestHeaders;
  }

  /**
   * Answers the request from the interceptor: no upstream is contacted and nothing is cached.
   *
   * @param status the HTTP status, 100-599
   * @param contentType the body's media type, e.g. {@code text/plain; charset=utf-8}
   * @param body the body text (UTF-8)
   */
  public void respond(int status, String contentType, String body) {
    if (status < 100 || status > 599) {
      throw new IllegalArgumentException("status: " + status + " (expected: 100-599)");
    }
    requireNonNull(contentType, "contentType");
    requireNonNull(body, "body");
    this.synthetic = new Synthetic(status, contentType, body.getBytes(StandardCharsets.UTF_8));
  }

  /**
   * Asks for the request body: called from {@link HttpInterceptor#onRequest}, the body then goes to
   * {@link HttpInterceptor#onRequestBody} before it is forwarded.
   */
  public void receiveRequestBody() {
    requestBodyWanted = true;
  }

  /**
   * Asks for the response body: called from {@link HttpInterceptor#onResponse} (or earlier), the body of
   * a response relayed from upstream then goes to {@link HttpInterceptor#onResponseBody} before the client
   * gets it. Responses served from conduit's cache are not offered.
   */
  public void receiveResponseBody() {
    responseBodyWanted = true;
  }

  boolean requestBodyWanted() {
    return requestBodyWanted;
  }

  boolean responseBodyWanted() {
    return responseBodyWanted;
  }

  /** The response status, or 0 before the response arrived. */
  public int status() {
    return status;
  }

  /**
   * The response headers (changes made in {@link HttpInterceptor#onResponse} reach the client), or
   * empty headers before the response arrived.
   */
  public HttpHeaders responseHeaders() {
    return responseHeaders == null ? new DefaultHttpHeaders() : responseHeaders;
  }

  /** Whether the response is served from conduit's cache. */
  public boolean fromCache() {
    return fromCache;
  }

  Optional<Synthetic> synthetic() {
    return Optional.ofNullable(synthetic);
  }

  void response(int status, HttpHeaders headers, boolean fromCache) {
    this.status = status;
    this.responseHeaders = headers;
    this.fromCache = fromCache;
  }

  @Override
  public String toString() {
    return "InterceptedExchange{" + method + " " + uri + (status == 0 ? "" : " -> " + status) + "}";
  }
}
