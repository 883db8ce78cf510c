package dev.conduit.mitm;

import dev.conduit.mitm.cache.CacheException;
import dev.conduit.mitm.cache.CacheWriter;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import java.net.URI;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Stores a cacheable response while passing it to the client; follows redirects. */
class FillSink extends RelaySink {
  private static final Logger log = LoggerFactory.getLogger(FillSink.class);

  final CacheWriter writer;
  private URI current;
  private int redirects;
  private boolean storing;
  private boolean ended;
  private boolean keptReleased;

  FillSink(ProxyHandler handler, ProxiedRequest r, CacheWriter writer) {
    super(handler, r);
    this.writer = writer;
    this.current = r.exchange().uri();
  }

  @Override
  public boolean fillsCache() {
    return true;
  }

  @Override
  public void head(HttpResponse response, UpstreamCall call) {
    int code = response.status().code();
    String location = response.headers().get(HttpHeaderNames.LOCATION);
    if ((code == 301 || code == 302 || code == 303 || code == 307 || code == 308) && location != null
        && redirects < handler.proxy().maxRedirects()) {
      call.close();
      URI next;
      try {
        next = current.resolve(location.trim());
      } catch (IllegalArgumentException e) {
        failed(502, "bad redirect Location from " + current.getHost() + ": " + location);
        return;
      }
      String scheme = next.getScheme() == null ? "" : next.getScheme().toLowerCase(Locale.ROOT);
      if (!(scheme.equals("http") || scheme.equals("https")) || next.getHost() == null) {
        failed(502, "unsupported redirect Location from " + current.getHost() + ": " + location);
        return;
      }
      redirects++;
      int port = next.getPort() >= 0 ? next.getPort() : scheme.equals("https") ? 443 : 80;
      FullHttpRequest follow = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, ProxyHandler.originForm(next),
          Unpooled.EMPTY_BUFFER, r.request().headers().copy(), r.request().trailingHeaders().copy());
      if (!next.getHost().equalsIgnoreCase(current.getHost())) {
        follow.headers().remove(HttpHeaderNames.AUTHORIZATION);
      }
      follow.headers().set(HttpHeaderNames.HOST, ProxyHandler.authority(scheme, next.getHost(), port));
      log.debug("[{}] following redirect {} -> {} for {}", handler.id(), current, next, writer.key());
      current = next;
      handler.fetcher().fetch(scheme, next.getHost(), port, follow, this);
      return;
    }
    releaseKept(); // the request kept for redirects
    Optional<String> reason = handler.proxy().cacheOrNull().policy().uncacheableReason("GET", code, response.headers());
    if (reason.isPresent()) {
      log.info("[{}] not caching {}: {}", handler.id(), writer.key(), reason.get());
      end(writer.abort(new CacheException("not cacheable: " + reason.get())));
    } else {
      writer.start(response.headers());
      storing = true;
    }
    response.headers().set("X-Cache", "MISS");
    super.head(response, call);
  }

  @Override
  public void content(HttpContent content, UpstreamCall call) {
    if (!storing) {
      super.content(content, call);
      return;
    }
    boolean last = content instanceof LastHttpContent;
    ByteBuf data = content.content();
    CompletableFuture<Void> stored = data.isReadable()
        ? writer.write(data.retainedDuplicate()) : CompletableFuture.completedFuture(null);
    CompletableFuture<Void> sent = new CompletableFuture<>();
    if (last) {
      // the end of the body reaches the client after the commit, so whatever it asks next is a hit
      sent.complete(null);
    } else if (handler.ctx().channel().isActive()) {
      handler.ctx().writeAndFlush(content).addListener(f -> sent.complete(null));
    } else {
      content.release();
      sent.complete(null);
    }
    CompletableFuture.allOf(stored, sent).whenComplete((v, t) -> handler.ctx().executor().execute(() -> {
      if (t != null) {
        storing = false;
        log.warn("[{}] storing {} failed: {}", handler.id(), writer.key(), ProxyHandler.rootMessage(t));
      }
      if (last) {
        call.close();
        if (storing) {
          storing = false;
          // the next request on this connection waits for the commit, so it is a hit
          end(writer.commit().handle((entry, err) -> {
            boolean badBody = false;
            if (err != null) {
              badBody = ProxyHandler.isDigestMismatch(err);
              log.warn("[{}] not cached {}: {}{}", handler.id(), writer.key(), ProxyHandler.rootMessage(err),
                  badBody ? " (aborting the response so the client sees a bad body)" : "");
            } else {
              log.info("[{}] cached {} ({} bytes)", handler.id(), writer.key(), entry.length());
              entry.close();
            }
            boolean abortResponse = badBody;
            handler.ctx().executor().execute(() -> {
              if (abortResponse) {
                // the end of the body is withheld: no last chunk, or short of Content-Length
                content.release();
                handler.ctx().close();
              } else {
                writeLast(content);
              }
            });
            return null;
          }));
        } else {
          writeLast(content);
        }
      } else {
        call.readMore();
      }
    }));
  }

  @Override
  public void failed(int status, String reason) {
    releaseKept();
    if (!ended) {
      storing = false;
      end(writer.abort(new CacheException(reason)));
    }
    super.failed(status, reason);
  }

  private void writeLast(HttpContent content) {
    if (handler.ctx().channel().isActive()) {
      handler.ctx().writeAndFlush(content).addListener(f -> handler.finish());
    } else {
      content.release();
    }
  }

  void releaseKept() {
    if (!keptReleased) {
      keptReleased = true;
      r.request().release();
    }
  }

  void end(CompletableFuture<?> f) {
    ended = true;
  }
}
