package dev.conduit.mitm;

import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpResponse;

/** Receives an upstream response from an {@link UpstreamCall}; every method owns what it is given. */
interface ResponseSink {
  /** The response head. */
  void head(HttpResponse response, UpstreamCall call);

  /** A part of the body; the last one is a {@link io.netty.handler.codec.http.LastHttpContent}. */
  void content(HttpContent content, UpstreamCall call);

  /** No (complete) response: answer {@code status} if nothing was sent yet. */
  void failed(int status, String reason);

  /** The upstream read batch ended: what was written so far goes out. */
  default void flush() {
  }

  /** Whether the response feeds a shared cache download, which outlives the client that asked. */
  default boolean fillsCache() {
    return false;
  }
}
