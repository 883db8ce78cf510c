package dev.conduit.mitm;

import dev.conduit.mitm.cache.CacheEntry;
import dev.conduit.mitm.cache.CacheException;
import dev.conduit.mitm.cache.CacheWriter;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.LastHttpContent;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Revalidates a stale entry: a 304 refreshes it and serves it from disk, a new body replaces it
 * (as a {@link FillSink}), an origin error or 5xx serves it stale within the policy's bound.
 */
final class RevalidateSink extends FillSink {
  private static final Logger log = LoggerFactory.getLogger(RevalidateSink.class);

  private final CacheEntry stale;
  private final String range;
  private HttpResponse notModified;

  RevalidateSink(ProxyHandler handler, ProxiedRequest r, CacheEntry stale, CacheWriter writer, String range) {
    super(handler, r, writer);
    this.stale = stale;
    this.range = range;
  }

  @Override
  public void head(HttpResponse response, UpstreamCall call) {
    int code = response.status().code();
    if (code == 304) {
      notModified = response;
      call.readMore(); // its end follows
      return;
    }
    if (code >= 500 && serveStale(call, "origin answered " + code)) {
      return;
    }
    stale.close();
    super.head(response, call);
  }

  @Override
  public void content(HttpContent content, UpstreamCall call) {
    if (notModified == null) {
      super.content(content, call);
      return;
    }
    boolean last = content instanceof LastHttpContent;
    content.release();
    if (!last) {
      call.readMore();
      return;
    }
    call.close();
    releaseKept();
    String id = handler.id();
    end(writer.notModified(notModified.headers()).handle((entry, err) -> {
      handler.ctx().executor().execute(() -> {
        if (err != null) {
          log.info("[{}] revalidated {} (304) but could not refresh it: {}", id, writer.key(), ProxyHandler.rootMessage(err));
          handler.serving().serveHit(stale, r.exchange(), range, true, "REVALIDATED");
        } else {
          log.info("[{}] cache REVALIDATED {} (304)", id, writer.key());
          stale.close();
          handler.serving().serveHit(entry, r.exchange(), range, true, "REVALIDATED");
        }
      });
      return null;
    }));
  }

  @Override
  public void failed(int status, String reason) {
    if (notModified == null && !headSent && serveStale(null, reason)) {
      return;
    }
    if (!headSent && notModified == null) {
      stale.close();
    }
    super.failed(status, reason);
  }

  /** Serves the stale entry when the policy allows it; false when it does not. */
  private boolean serveStale(UpstreamCall call, String why) {
    Optional<CacheEntry> allowed = handler.proxy().cacheOrNull().lookupStale(writer.key());
    if (allowed.isEmpty()) {
      return false;
    }
    if (call != null) {
      call.abort();
    }
    stale.close();
    releaseKept();
    end(writer.abort(new CacheException("revalidation failed: " + why)));
    log.warn("[{}] cache STALE {}: {}", handler.id(), writer.key(), why);
    handler.serving().serveHit(allowed.get(), r.exchange(), range, true, "STALE");
    return true;
  }
}
