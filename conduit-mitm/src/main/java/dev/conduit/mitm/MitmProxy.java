package dev.conduit.mitm;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.inbound.InboundContext;
import dev.conduit.core.inbound.InboundProtocol;
import dev.conduit.core.pki.CertificateAuthority;
import dev.conduit.mitm.cache.BlobCache;
import io.netty.channel.Channel;
import io.netty.handler.ssl.SslContext;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Executor;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A caching, intercepting HTTP proxy as a conduit {@link InboundProtocol} (dduct's role, seed 004).
 *
 * <p>Use it as the protocol of a plain {@code Listener} (an HTTP proxy, dduct's {@code tcp_bind})
 * and, if wanted, of a listener with {@code Listener.Builder.tls(...)} (an HTTPS proxy, dduct's
 * {@code tls_bind}). Per connection it handles:
 * <ul>
 *   <li>absolute-form {@code http://} requests: forwarded through conduit's router and outbounds,
 *       GETs matching the cache policy served from / stored in the {@link BlobCache};</li>
 *   <li>{@code CONNECT host:port} to an intercepted host: answered 200, then TLS is terminated with
 *       a leaf certificate for the SNI host (or the CONNECT host when the client sends no SNI, e.g.
 *       for IP targets) minted by the {@link CertificateAuthority} off the event loop and cached;
 *       the decrypted requests are handled like {@code http://} ones, with upstream TLS validated
 *       against the system trust store plus the configured CAs and the host name checked. A failed
 *       validation reaches the client as a {@code 502} whose body says why;</li>
 *   <li>{@code CONNECT} to any other host: a blind tunnel.</li>
 * </ul>
 *
 * <h2>Redirects</h2>
 * Registries answer blob requests with a redirect to a CDN URL carrying a one-time signed query. For a
 * cacheable GET the proxy follows redirects itself (at most {@link Builder#maxRedirects}, relative
 * {@code Location}s resolved, {@code Authorization} dropped when the host changes) and stores the
 * final 200 under the key of the <em>original</em> request, so the next pull of the same blob is a
 * hit without contacting the registry. Non-cacheable requests get the redirect as is.
 *
 * <h2>Upstream connections</h2>
 * Upstream HTTP/1.1 connections (TLS included) are kept alive and reused by later requests to the same
 * origin from clients that conduit routes the same way (same listener, same client address), up to
 * {@link Builder#maxIdleUpstreamsPerOrigin} idle ones per origin and event loop, each for at most
 * {@link Builder#upstreamIdleTimeout}. Only idempotent requests ({@code GET}, {@code HEAD},
 * {@code OPTIONS}, {@code PUT}, {@code DELETE}, {@code TRACE}) take a pooled connection, and when one
 * turns out to be dead before any response byte arrives (the origin closed it meanwhile) the request is
 * sent once more over a new connection. A pooled connection is reused only while the rules it was routed under
 * are in force: after a reload ({@code Conduit.update}) the next request is routed again, and dials anew.
 *
 * <h2>Limits</h2>
 * Request bodies are buffered up to {@link Builder#maxRequestBodyBytes} (413 beyond). Bodies an
 * {@link HttpInterceptor} asks for are handed to it up to {@link Builder#interceptedBodyLimit} and streamed
 * through unchanged beyond (it is told). Client connections
 * are kept alive. A cache download is dialed detached from the client that started it
 * ({@code InboundContext.connectDetached}): when that client disconnects the download goes on for
 * the clients that joined it and for the cache.
 */
public final class MitmProxy implements InboundProtocol {

  /** The hard cap of {@link Builder#interceptedBodyLimit}: 64 MiB. */
  public static final int MAX_INTERCEPTED_BODY_LIMIT = 64 << 20;

  private final CertificateAuthority ca;
  private final HostSet intercepted;
  private final List<X509Certificate> trustedCas;
  private final boolean systemTrust;
  private final BlobCache cache;
  private final List<HttpInterceptor> interceptors;
  private final Duration leafValidity;
  private final int maxRequestBodyBytes;
  private final int interceptedBodyLimit;
  private final int maxRedirects;
  private final Executor executor;
  private final LeafContexts leaves;
  private final SslContext upstreamContext;
  private final UpstreamPool pool;

  private MitmProxy(Builder b) {
    this.ca = b.ca;
    this.intercepted = new HostSet(b.interceptAll, Set.copyOf(b.exact), Set.copyOf(b.suffixes));
    this.trustedCas = List.copyOf(b.trustedCas);
    this.systemTrust = b.systemTrust;
    this.cache = b.cache;
    this.interceptors = List.copyOf(b.interceptors);
    this.leafValidity = b.leafValidity;
    this.maxRequestBodyBytes = b.maxRequestBodyBytes;
    this.interceptedBodyLimit = b.interceptedBodyLimit;
    this.maxRedirects = b.maxRedirects;
    this.executor = b.executor != null ? b.executor : defaultExecutor();
    this.leaves = new LeafContexts(ca, leafValidity, executor, b.maxLeaves);
    this.upstreamContext = UpstreamTrust.clientContext(systemTrust, trustedCas);
    this.pool = new UpstreamPool(b.upstreamIdleTimeout, b.maxIdleUpstreamsPerOrigin);
  }

  /** A builder; {@link Builder#certificateAuthority} is required. */
  public static Builder builder() {
    return new Builder();
  }

  @Override
  public String name() {
    return "mitm";
  }

  @Override
  public void init(Channel channel, InboundContext context) {
    ProxyHandler.install(channel, context, this);
  }

  /** Whether {@code CONNECT host:…} is intercepted rather than tunnelled blindly. */
  public boolean intercepts(String host) {
    requireNonNull(host, "host");
    return intercepted.contains(host);
  }

  /** The CA whose leaf certificates clients must trust. */
  public CertificateAuthority certificateAuthority() {
    return ca;
  }

  /** The cache, if one is configured. */
  public Optional<BlobCache> cache() {
    return Optional.ofNullable(cache);
  }

  /** The number of hosts with a cached leaf certificate. */
  public int cachedLeafCertificates() {
    return leaves.size();
  }

  /** The number of idle upstream connections kept for reuse (may lag behind the event loops). */
  public int idleUpstreamConnections() {
    return pool.idleConnections();
  }

  /** Closes the idle upstream connections (they also close with their event loops). */
  public void closeIdleUpstreamConnections() {
    pool.closeAll();
  }

  UpstreamPool pool() {
    return pool;
  }

  BlobCache cacheOrNull() {
    return cache;
  }

  List<HttpInterceptor> interceptors() {
    return interceptors;
  }

  LeafContexts leaves() {
    return leaves;
  }

  SslContext upstreamContext() {
    return upstreamContext;
  }

  int maxRequestBodyBytes() {
    return maxRequestBodyBytes;
  }

  int interceptedBodyLimit() {
    return interceptedBodyLimit;
  }

  int maxRedirects() {
    return maxRedirects;
  }

  Executor executor() {
    return executor;
  }

  @Override
  public String toString() {
    return "MitmProxy{intercept=" + (intercepted.all() ? "*" : intercepted.exact() + " + *." + intercepted.suffixes())
        + ", systemTrust=" + systemTrust + ", extraCas=" + trustedCas.size()
        + ", cache=" + (cache == null ? "none" : cache.config().root()) + ", interceptors=" + interceptors.size() + "}";
  }

  private static Executor defaultExecutor() {
    AtomicInteger n = new AtomicInteger();
    ThreadPoolExecutor pool = new ThreadPoolExecutor(2, 2, 30, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), r -> {
      Thread t = new Thread(r, "conduit-mitm-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    });
    pool.allowCoreThreadTimeOut(true);
    return pool;
  }

  /** Builds a {@link MitmProxy}. */
  public static final class Builder {
    private CertificateAuthority ca;
    private boolean interceptAll;
    private final Set<String> exact = new HashSet<>();
    private final Set<String> suffixes = new HashSet<>();
    private final List<X509Certificate> trustedCas = new ArrayList<>();
    private boolean systemTrust = true;
    private BlobCache cache;
    private final List<HttpInterceptor> interceptors = new ArrayList<>();
    private Duration leafValidity = Duration.ofDays(1);
    private int maxRequestBodyBytes = 16 << 20;
    private int interceptedBodyLimit = 1 << 20;
    private int maxRedirects = 5;
    private int maxLeaves = 1024;
    private Duration upstreamIdleTimeout = Duration.ofSeconds(30);
    private int maxIdleUpstreamsPerOrigin = 32;
    private Executor executor;

    private Builder() {
    }

    /** The CA that signs the leaf certificates presented to clients (see {@link MitmCa}). */
    public Builder certificateAuthority(CertificateAuthority ca) {
      this.ca = requireNonNull(ca, "ca");
      return this;
    }

    /** Intercepts {@code CONNECT} to exactly {@code host} (a name or IP literal). */
    public Builder interceptHost(String host) {
      exact.add(HostSet.normalise(requireNonNull(host, "host")));
      return this;
    }

    /**
     * Intercepts {@code domain} and every name under it, at label boundaries: {@code quay.io}
     * covers {@code quay.io} and {@code cdn.quay.io} but not {@code evilquay.io}. A leading
     * {@code *.} or {@code .} is accepted and ignored.
     */
    public Builder interceptDomain(String domain) {
      String d = requireNonNull(domain, "domain").trim();
      if (d.startsWith("*.")) {
        d = d.substring(2);
      } else if (d.startsWith(".")) {
        d = d.substring(1);
      }
      suffixes.add(HostSet.normalise(d));
      return this;
    }

    /** Intercepts every {@code CONNECT}. */
    public Builder interceptAll() {
      this.interceptAll = true;
      return this;
    }

    /** Also trusts {@code certificate} (a CA) for upstream TLS. */
    public Builder trustUpstreamCa(X509Certificate certificate) {
      trustedCas.add(requireNonNull(certificate, "certificate"));
      return this;
    }

    /** Whether upstream TLS trusts the JDK's system trust store (default true). */
    public Builder trustSystemCertificates(boolean value) {
      this.systemTrust = value;
      return this;
    }

    /** Serves and stores cacheable GETs with {@code cache} (its policy decides what is cacheable). */
    public Builder cache(BlobCache cache) {
      this.cache = requireNonNull(cache, "cache");
      return this;
    }

    /** Adds an interceptor; they run in the order added. */
    public Builder interceptor(HttpInterceptor interceptor) {
      interceptors.add(requireNonNull(interceptor, "interceptor"));
      return this;
    }

    /** The validity of minted leaf certificates (default 1 day); they are renewed after half of it. */
    public Builder leafValidity(Duration validity) {
      requireNonNull(validity, "validity");
      if (validity.compareTo(Duration.ofMinutes(2)) < 0 || validity.compareTo(Duration.ofDays(825)) > 0) {
        throw new IllegalArgumentException("leafValidity: " + validity + " (expected: 2 minutes to 825 days)");
      }
      this.leafValidity = validity;
      return this;
    }

    /** The largest request body buffered (default 16 MiB); larger ones get 413. */
    public Builder maxRequestBodyBytes(int bytes) {
      if (bytes < 0) {
        throw new IllegalArgumentException("maxRequestBodyBytes: " + bytes + " (expected: >= 0)");
      }
      this.maxRequestBodyBytes = bytes;
      return this;
    }

    /**
     * The largest body handed to {@link HttpInterceptor#onRequestBody} or {@link HttpInterceptor#onResponseBody}
     * (default 1 MiB, at most {@value MitmProxy#MAX_INTERCEPTED_BODY_LIMIT}); a larger one streams through unchanged
     * and the interceptor is told it was too large. Each exchange buffers at most this much.
     */
    public Builder interceptedBodyLimit(int bytes) {
      if (bytes < 0 || bytes > MAX_INTERCEPTED_BODY_LIMIT) {
        throw new IllegalArgumentException("interceptedBodyLimit: " + bytes + " (expected: 0-"
            + MAX_INTERCEPTED_BODY_LIMIT + ")");
      }
      this.interceptedBodyLimit = bytes;
      return this;
    }

    /** How many redirects a cacheable GET follows inside the proxy (default 5, 0 disables). */
    public Builder maxRedirects(int count) {
      if (count < 0 || count > 20) {
        throw new IllegalArgumentException("maxRedirects: " + count + " (expected: 0-20)");
      }
      this.maxRedirects = count;
      return this;
    }

    /** How many hosts' leaf certificates are kept (default 1024). */
    public Builder maxCachedLeafCertificates(int count) {
      if (count < 1) {
        throw new IllegalArgumentException("maxCachedLeafCertificates: " + count + " (expected: >= 1)");
      }
      this.maxLeaves = count;
      return this;
    }

    /**
     * How long an idle upstream connection is kept for reuse (default 30 s; zero disables reuse: one
     * upstream connection per request).
     */
    public Builder upstreamIdleTimeout(Duration timeout) {
      requireNonNull(timeout, "timeout");
      if (timeout.isNegative() || timeout.compareTo(Duration.ofHours(1)) > 0) {
        throw new IllegalArgumentException("upstreamIdleTimeout: " + timeout + " (expected: 0 to 1 hour)");
      }
      this.upstreamIdleTimeout = timeout;
      return this;
    }

    /** How many idle connections per origin (and event loop) are kept (default 32; 0 disables reuse). */
    public Builder maxIdleUpstreamsPerOrigin(int count) {
      if (count < 0 || count > 10_000) {
        throw new IllegalArgumentException("maxIdleUpstreamsPerOrigin: " + count + " (expected: 0-10000)");
      }
      this.maxIdleUpstreamsPerOrigin = count;
      return this;
    }

    /** Runs key generation and file opening; default: two daemon threads. */
    public Builder executor(Executor executor) {
      this.executor = requireNonNull(executor, "executor");
      return this;
    }

    /** Builds the proxy. */
    public MitmProxy build() {
      if (ca == null) {
        throw new IllegalStateException("certificateAuthority: not set (expected: the CA clients trust)");
      }
      return new MitmProxy(this);
    }
  }
}
