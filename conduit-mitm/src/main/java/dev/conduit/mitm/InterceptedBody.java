package dev.conduit.mitm;

import static java.util.Objects.requireNonNull;

import java.nio.charset.StandardCharsets;

/**
 * A request or response body handed to {@link HttpInterceptor#onRequestBody} or
 * {@link HttpInterceptor#onResponseBody}: the whole body as it is on the wire (still content-coded, e.g.
 * gzip, when the message says so), or, when it is larger than {@link MitmProxy.Builder#interceptedBodyLimit},
 * only the news that it was too large (it then streams through unchanged). Not thread-safe: used on one
 * event loop during the call.
 */
public final class InterceptedBody {

  private final byte[] bytes;
  private final long size;
  private byte[] replacement;

  private InterceptedBody(byte[] bytes, long size) {
    this.bytes = bytes;
    this.size = size;
  }

  static InterceptedBody of(byte[] bytes) {
    return new InterceptedBody(bytes, bytes.length);
  }

  /** A body over the limit; {@code size} is its length if known, else -1. */
  static InterceptedBody tooLarge(long size) {
    return new InterceptedBody(null, size);
  }

  /** Whether the body was over the limit: then it is not available and streams through unchanged. */
  public boolean tooLarge() {
    return bytes == null;
  }

  /** The body's length in bytes (after a replacement, its length), or -1 if too large and not declared. */
  public long size() {
    return bytes == null ? size : current().length;
  }

  /**
   * The body as received, or as an earlier interceptor replaced it (a copy).
   *
   * @throws IllegalStateException if the body is {@link #tooLarge()}
   */
  public byte[] bytes() {
    requireAvailable();
    return current().clone();
  }

  /**
   * The body (as {@link #bytes()}) decoded as UTF-8.
   *
   * @throws IllegalStateException if the body is {@link #tooLarge()}
   */
  public String text() {
    requireAvailable();
    return new String(current(), StandardCharsets.UTF_8);
  }

  /**
   * Replaces the body that is sent on; {@code Content-Length} is set to its length and
   * {@code Transfer-Encoding} removed. Later interceptors see the replacement.
   *
   * @throws IllegalStateException if the body is {@link #tooLarge()}
   */
  public void replace(byte[] body) {
    requireNonNull(body, "body");
    requireAvailable();
    this.replacement = body.clone();
  }

  /** Replaces the body with {@code text} encoded as UTF-8 (see {@link #replace(byte[])}). */
  public void replace(String text) {
    replace(requireNonNull(text, "text").getBytes(StandardCharsets.UTF_8));
  }

  /** The replacement, or null if the body was not replaced. */
  byte[] replacement() {
    return replacement;
  }

  private void requireAvailable() {
    if (bytes == null) {
      throw new IllegalStateException("body too large: " + size + " bytes (over the intercepted body limit)");
    }
  }

  /** The current body: the replacement, else the original. */
  private byte[] current() {
    return replacement != null ? replacement : bytes;
  }

  @Override
  public String toString() {
    return tooLarge() ? "InterceptedBody{too large, " + size + " bytes}"
        : "InterceptedBody{" + current().length + " bytes" + (replacement != null ? ", replaced" : "") + "}";
  }
}
