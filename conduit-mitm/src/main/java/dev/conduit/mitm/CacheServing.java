package dev.conduit.mitm;

import dev.conduit.mitm.cache.BlobCache;
import dev.conduit.mitm.cache.ByteRange;
import dev.conduit.mitm.cache.CacheEntry;
import dev.conduit.mitm.cache.CacheKey;
import dev.conduit.mitm.cache.CacheReader;
import dev.conduit.mitm.cache.Flight;
import dev.conduit.mitm.cache.RangeSpec;
import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpChunkedInput;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.stream.ChunkedNioFile;
import java.nio.channels.FileChannel;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The cache side of a {@link ProxyHandler}: decides per request between a hit, a download of its
 * own (a {@link FillSink}), joining another client's download and revalidating a stale entry (a
 * {@link RevalidateSink}), and writes entries to the client: zero-copy on plain connections, in
 * chunks over TLS, single ranges as 206.
 */
final class CacheServing {

  private static final Logger log = LoggerFactory.getLogger(CacheServing.class);
  private static final int CHUNK = 64 * 1024;
  /** A revalidation asks with the cache's validators, never the client's. */
  private static final List<String> CONDITIONALS = List.of("If-None-Match", "If-Modified-Since", "If-Match",
      "If-Unmodified-Since", "If-Range", "Range");

  private final ProxyHandler handler;

  CacheServing(ProxyHandler handler) {
    this.handler = handler;
  }

  /**
   * Serves a GET or HEAD whose URL the cache policy admits: from a fresh entry, by joining or starting
   * the key's download, or by revalidating a stale entry (HEAD only ever reads a fresh entry).
   */
  void serve(ProxiedRequest r, CacheKey k) {
    BlobCache cache = handler.proxy().cacheOrNull();
    FullHttpRequest req = r.request();
    HttpHeaders h = req.headers();
    InterceptedExchange exchange = r.exchange();
    if (!req.method().equals(HttpMethod.GET)) {
      Optional<CacheEntry> entry = cache.lookup(k);
      if (entry.isPresent() && cache.isFresh(entry.get())) {
        String range = h.get(HttpHeaderNames.RANGE);
        req.release();
        serveHit(entry.get(), exchange, range, false, "HIT");
      } else {
        entry.ifPresent(CacheEntry::close);
        handler.fetcher().fetch(r, new RelaySink(handler, r));
      }
      return;
    }
    String id = handler.id();
    boolean wantsRevalidation = cache.policy().requestWantsRevalidation(h);
    cache.begin(k, wantsRevalidation).whenComplete((flight, t) -> handler.ctx().executor().execute(() -> {
      if (t != null) {
        log.warn("[{}] cache lookup of {} failed, forwarding uncached", id, k, t);
        handler.fetcher().fetch(r, new RelaySink(handler, r));
      } else if (flight instanceof Flight.Hit hit) {
        log.info("[{}] cache HIT {} ({})", id, k, hit.entry().kind());
        String range = h.get(HttpHeaderNames.RANGE);
        req.release();
        serveHit(hit.entry(), exchange, range, true, "HIT");
      } else if (flight instanceof Flight.Miss miss) {
        log.info("[{}] cache MISS {} ({})", id, k, cache.policy().freshness(k));
        handler.fetcher().fetch(r.retained(), new FillSink(handler, r, miss.writer()));
      } else if (flight instanceof Flight.Revalidate rv) {
        log.info("[{}] cache REVALIDATE {} ({})", id, k, rv.stale().kind());
        String range = h.get(HttpHeaderNames.RANGE);
        for (String n : CONDITIONALS) {
          h.remove(n);
        }
        rv.writer().conditionalHeaders().forEach(h::set);
        handler.fetcher().fetch(r.retained(), new RevalidateSink(handler, r, rv.stale(), rv.writer(), range));
      } else if (flight instanceof Flight.Join join) {
        log.info("[{}] cache JOIN {} ({})", id, k, cache.policy().freshness(k));
        join(join.reader(), r);
      }
    }));
  }

  /** Streams a download another client leads, as it arrives. */
  private void join(CacheReader reader, ProxiedRequest r) {
    reader.response().whenComplete((headers, t) -> handler.ctx().executor().execute(() -> {
      if (t != null) {
        reader.close();
        Optional<CacheEntry> stale = handler.proxy().cacheOrNull().lookupStale(reader.key());
        if (stale.isPresent()) {
          log.info("[{}] joined revalidation of {} failed ({}), serving STALE", handler.id(),
              reader.key(), ProxyHandler.rootMessage(t));
          String range = r.request().headers().get(HttpHeaderNames.RANGE);
          r.request().release();
          serveHit(stale.get(), r.exchange(), range, true, "STALE");
          return;
        }
        log.info("[{}] joined download of {} failed before its head ({}), forwarding uncached", handler.id(), reader.key(),
            ProxyHandler.rootMessage(t));
        handler.fetcher().fetch(r, new RelaySink(handler, r));
        return;
      }
      r.request().release();
      HttpResponse resp = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
      headers.forEach(resp.headers()::set);
      if (!resp.headers().contains(HttpHeaderNames.CONTENT_LENGTH)) {
        HttpUtil.setTransferEncodingChunked(resp, true);
      }
      resp.headers().set("X-Cache", "JOIN");
      handler.writeHead(resp, r.exchange(), true);
      handler.ctx().flush();
      readJoined(reader);
    }));
  }

  private void readJoined(CacheReader reader) {
    if (!handler.ctx().channel().isActive()) {
      reader.close();
      return;
    }
    ByteBuf buf = handler.ctx().alloc().directBuffer(CHUNK, CHUNK);
    reader.read(buf).whenComplete((n, t) -> handler.ctx().executor().execute(() -> {
      if (t != null || n == null) {
        buf.release();
        reader.close();
        log.warn("[{}] joined download of {} failed: {}", handler.id(), reader.key(), ProxyHandler.rootMessage(t));
        handler.ctx().close();
      } else if (n < 0) {
        buf.release();
        reader.close();
        handler.ctx().writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT).addListener(f -> handler.finish());
      } else {
        handler.ctx().writeAndFlush(new DefaultHttpContent(buf)).addListener(f -> {
          if (f.isSuccess()) {
            readJoined(reader);
          } else {
            reader.close();
          }
        });
      }
    }));
  }

  /** Serves a committed entry (owned); {@code range} is the client's Range header or null. */
  void serveHit(CacheEntry entry, InterceptedExchange exchange, String range, boolean body, String xCache) {
    long length = entry.length();
    HttpResponse resp = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
    for (Map.Entry<String, String> e : entry.headers().entrySet()) {
      if (!e.getKey().equals("Date")) { // kept for freshness; this answer is not the origin's of that time
        resp.headers().set(e.getKey(), e.getValue());
      }
    }
    resp.headers().set(HttpHeaderNames.ACCEPT_RANGES, HttpHeaderValues.BYTES);
    resp.headers().set("X-Cache", xCache);
    long from = 0;
    long count = length;
    if (range != null) {
      RangeSpec spec = RangeSpec.parse(range, length);
      if (spec.outcome() == RangeSpec.Outcome.UNSATISFIABLE) {
        entry.close();
        FullHttpResponse bad = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
            HttpResponseStatus.REQUESTED_RANGE_NOT_SATISFIABLE);
        bad.headers().set(HttpHeaderNames.CONTENT_RANGE, spec.unsatisfiedContentRange());
        HttpUtil.setContentLength(bad, 0);
        handler.writeHead(bad, exchange, true);
        handler.ctx().writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT).addListener(f -> handler.finish());
        return;
      }
      if (spec.outcome() == RangeSpec.Outcome.PARTIAL && spec.ranges().size() == 1) {
        // several ranges are served as the whole body (allowed: a server may ignore Range)
        ByteRange br = spec.ranges().get(0);
        resp.setStatus(HttpResponseStatus.PARTIAL_CONTENT);
        resp.headers().set(HttpHeaderNames.CONTENT_RANGE, br.contentRange(length));
        from = br.first();
        count = br.length();
      }
    }
    HttpUtil.setContentLength(resp, count);
    resp.headers().remove(HttpHeaderNames.TRANSFER_ENCODING);
    handler.writeHead(resp, exchange, true);
    if (!body || count == 0) {
      entry.close();
      handler.ctx().writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT).addListener(f -> handler.finish());
      return;
    }
    long position = from;
    long n = count;
    if (handler.ctx().pipeline().get(SslHandler.class) == null) {
      // plain connection: sendfile
      entry.openRegion(position, n).whenComplete((region, t) -> handler.ctx().executor().execute(() -> {
        entry.close();
        if (t != null) {
          log.warn("[{}] serving {} failed: {}", handler.id(), entry.key(), ProxyHandler.rootMessage(t));
          handler.ctx().close();
          return;
        }
        handler.ctx().write(region);
        handler.ctx().writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT).addListener(f -> handler.finish());
      }));
    } else {
      CompletableFuture.supplyAsync(() -> {
        try {
          return entry.openChannel();
        } catch (java.io.IOException e) {
          throw new CompletionException(e);
        }
      }, handler.proxy().executor()).whenComplete((FileChannel fc, Throwable t) -> handler.ctx().executor().execute(() -> {
        if (t != null) {
          entry.close();
          log.warn("[{}] serving {} failed: {}", handler.id(), entry.key(), ProxyHandler.rootMessage(t));
          handler.ctx().close();
          return;
        }
        try {
          handler.ctx().writeAndFlush(new HttpChunkedInput(new ChunkedNioFile(fc, position, n, CHUNK))).addListener(f -> {
            if (f.isSuccess()) {
              handler.proxy().cacheOrNull().recordServed(n);
            }
            entry.close();
            handler.finish();
          });
        } catch (java.io.IOException e) {
          entry.close();
          handler.ctx().close();
        }
      }));
    }
  }
}
