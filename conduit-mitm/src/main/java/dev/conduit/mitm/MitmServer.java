package dev.conduit.mitm;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.Listener;
import dev.conduit.core.pki.CertificateAuthority;
import dev.conduit.core.pki.CertificateRequest;
import dev.conduit.core.pki.IssuedCertificate;
import dev.conduit.core.pki.TlsMaterial;
import dev.conduit.mitm.cache.BlobCache;
import dev.conduit.mitm.cache.BlobCacheConfig;
import dev.conduit.mitm.cache.CachePolicy;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import java.io.IOException;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import javax.net.ssl.SSLException;

/**
 * A caching MITM proxy set up from dduct-like settings (seed 004) in a few lines: the CA in
 * {@code certDir} ({@link MitmCa}), the blob cache in {@code fileDir}, a plain proxy listener on the
 * {@linkplain Builder#bind bound} address and optionally an HTTPS proxy listener on the {@linkplain Builder#bindTls
 * TLS} one.
 *
 * <pre>{@code
 * MitmServer server = MitmServer.builder()
 *     .certDir(Path.of("/var/tmp/conduit/certs")).fileDir(Path.of("/var/tmp/conduit/files"))
 *     .bind("127.0.0.1:8000").bindTls("0.0.0.0:4430")
 *     .intercept("*.docker.io").intercept("quay.io")
 *     .build();
 * ConduitBuilder builder = Conduit.builder();
 * server.listeners().forEach(builder::listener);
 * Conduit conduit = builder.build().start();
 * ...
 * conduit.close();
 * server.close();
 * }</pre>
 */
public final class MitmServer implements AutoCloseable {

  private final CertificateAuthority ca;
  private final BlobCache cache;
  private final MitmProxy proxy;
  private final List<Listener> listeners;

  private MitmServer(CertificateAuthority ca, BlobCache cache, MitmProxy proxy, List<Listener> listeners) {
    this.ca = ca;
    this.cache = cache;
    this.proxy = proxy;
    this.listeners = listeners;
  }

  /** A builder; {@code certDir} and {@code fileDir} are required. */
  public static Builder builder() {
    return new Builder();
  }

  /** The CA clients must trust ({@code certDir/ca.crt}). */
  public CertificateAuthority certificateAuthority() {
    return ca;
  }

  /** The blob cache in {@code fileDir}. */
  public BlobCache cache() {
    return cache;
  }

  /** The proxy protocol both listeners use. */
  public MitmProxy proxy() {
    return proxy;
  }

  /** The listeners to add to a {@code Conduit}: the plain one and, if configured, the HTTPS one. */
  public List<Listener> listeners() {
    return listeners;
  }

  /** Closes the cache; close the {@code Conduit} using the listeners first. */
  @Override
  public void close() {
    proxy.closeIdleUpstreamConnections();
    cache.close();
  }

  @Override
  public String toString() {
    return "MitmServer{" + proxy + ", listeners=" + listeners + "}";
  }

  /** Builds a {@link MitmServer}. */
  public static final class Builder {
    private Path certDir;
    private Path fileDir;
    private String bind = "127.0.0.1:8000";
    private String bindTls;
    private String plainListenerName = "tcp";
    private String tlsListenerName = "tls";
    private final List<String> tlsNames = new ArrayList<>(List.of("localhost", "127.0.0.1"));
    private boolean tlsNamesSet;
    private List<String> filters = CachePolicy.DEFAULT_FILTERS;
    private final List<String> intercept = new ArrayList<>();
    private final List<X509Certificate> upstreamCas = new ArrayList<>();
    private long maxCacheBytes = BlobCacheConfig.DEFAULT_MAX_SIZE_BYTES;
    private String caCommonName = "conduit MITM CA";
    private char[] pkcs12Password = "conduit".toCharArray();
    private final List<HttpInterceptor> interceptors = new ArrayList<>();
    private final List<Map.Entry<String, Duration>> maxAges = new ArrayList<>();
    private final List<String> neverCache = new ArrayList<>();
    private Duration staleIfError = CachePolicy.DEFAULT_STALE_IF_ERROR;
    private Duration caValidity;

    private Builder() {
    }

    /** Where the CA lives ({@code ca.crt}, {@code ca.key}, {@code ca.p12}); created on first start. */
    public Builder certDir(Path dir) {
      this.certDir = requireNonNull(dir, "certDir");
      return this;
    }

    /** The blob cache's root directory. */
    public Builder fileDir(Path dir) {
      this.fileDir = requireNonNull(dir, "fileDir");
      return this;
    }

    /** The plain HTTP proxy listener's address (default {@code 127.0.0.1:8000}). */
    public Builder bind(String hostPort) {
      this.bind = requireNonNull(hostPort, "bind");
      return this;
    }

    /**
     * The listeners' names (default {@code tcp} and {@code tls}), e.g. to add them to a {@code Conduit}
     * that has listeners of those names already.
     */
    public Builder listenerNames(String plain, String tls) {
      requireNonNull(plain, "plain");
      requireNonNull(tls, "tls");
      if (plain.equals(tls)) {
        throw new IllegalArgumentException("listenerNames: " + plain + " twice (expected: two different names)");
      }
      this.plainListenerName = plain;
      this.tlsListenerName = tls;
      return this;
    }

    /** Adds an HTTPS proxy listener on {@code hostPort} (none by default). */
    public Builder bindTls(String hostPort) {
      this.bindTls = requireNonNull(hostPort, "bindTls");
      return this;
    }

    /**
     * A name (DNS or IP) the HTTPS proxy listener's certificate carries; the first call replaces
     * the default {@code localhost, 127.0.0.1}.
     */
    public Builder tlsName(String name) {
      requireNonNull(name, "name");
      if (!tlsNamesSet) {
        tlsNames.clear();
        tlsNamesSet = true;
      }
      tlsNames.add(name);
      return this;
    }

    /** The URL path regexes of cacheable requests (default {@link CachePolicy#DEFAULT_FILTERS}). */
    public Builder filters(List<String> regexes) {
      this.filters = List.copyOf(requireNonNull(regexes, "filters"));
      return this;
    }

    /**
     * Intercepts {@code CONNECT} to a host: {@code *.quay.io} (or {@code .quay.io}) intercepts quay.io
     * and every name under it, a plain name or IP only itself, {@code *} everything.
     */
    public Builder intercept(String host) {
      intercept.add(requireNonNull(host, "host"));
      return this;
    }

    /** Also trusts {@code ca} for upstream TLS (besides the system trust store). */
    public Builder trustUpstreamCa(X509Certificate ca) {
      upstreamCas.add(requireNonNull(ca, "ca"));
      return this;
    }

    /** The cache's size cap (default 10 GiB). */
    public Builder maxCacheBytes(long bytes) {
      this.maxCacheBytes = bytes;
      return this;
    }

    /** Matching entries are fresh for {@code maxAge} after each validation (see {@link CachePolicy.Builder#maxAge}). */
    public Builder maxAge(String regex, Duration maxAge) {
      maxAges.add(Map.entry(requireNonNull(regex, "regex"), requireNonNull(maxAge, "maxAge")));
      return this;
    }

    /** Matching URLs are never cached (see {@link CachePolicy.Builder#neverCache}). */
    public Builder neverCache(String regex) {
      neverCache.add(requireNonNull(regex, "regex"));
      return this;
    }

    /** How long a stale mutable entry may stand in for a failing origin (see {@link CachePolicy.Builder#staleIfError}). */
    public Builder staleIfError(Duration value) {
      this.staleIfError = requireNonNull(value, "staleIfError");
      return this;
    }

    /** The lifetime of a newly created CA (default: {@link CertificateAuthority}'s). */
    public Builder caValidity(Duration value) {
      this.caValidity = requireNonNull(value, "caValidity");
      return this;
    }

    /** The common name of a newly created CA (default {@code conduit MITM CA}). */
    public Builder caCommonName(String name) {
      this.caCommonName = requireNonNull(name, "caCommonName");
      return this;
    }

    /** The password of {@code ca.p12} when it is created (default {@code conduit}). */
    public Builder pkcs12Password(char[] password) {
      this.pkcs12Password = requireNonNull(password, "pkcs12Password").clone();
      return this;
    }

    /** Adds an interceptor. */
    public Builder interceptor(HttpInterceptor interceptor) {
      interceptors.add(requireNonNull(interceptor, "interceptor"));
      return this;
    }

    /**
     * Loads or creates the CA, opens the cache and builds the listeners. Blocking (file I/O, key
     * generation): call at start-up.
     *
     * @throws IOException if the CA or the cache cannot be opened
     */
    public MitmServer build() throws IOException {
      if (certDir == null || fileDir == null) {
        throw new IllegalStateException("certDir and fileDir: both required (got certDir=" + certDir
            + ", fileDir=" + fileDir + ")");
      }
      CachePolicy.Builder policy = CachePolicy.builder().filters(filters).staleIfError(staleIfError);
      maxAges.forEach(e -> policy.maxAge(e.getKey(), e.getValue()));
      neverCache.forEach(policy::neverCache);
      CachePolicy built = policy.build(); // a bad pattern fails before any file is touched
      CertificateAuthority ca = MitmCa.loadOrCreate(certDir, caCommonName, pkcs12Password, caValidity);
      BlobCache cache = BlobCache.open(BlobCacheConfig.builder().root(fileDir).maxSizeBytes(maxCacheBytes)
          .policy(built).build());
      try {
        MitmProxy.Builder pb = MitmProxy.builder().certificateAuthority(ca).cache(cache);
        for (String h : intercept) {
          String t = h.trim();
          if (t.equals("*")) {
            pb.interceptAll();
          } else if (t.startsWith("*.") || t.startsWith(".")) {
            pb.interceptDomain(t);
          } else {
            pb.interceptHost(t);
          }
        }
        upstreamCas.forEach(pb::trustUpstreamCa);
        interceptors.forEach(pb::interceptor);
        MitmProxy proxy = pb.build();
        List<Listener> listeners = new ArrayList<>();
        listeners.add(Listener.builder(plainListenerName).bind(bind).protocol(proxy).build());
        if (bindTls != null) {
          SslContext tls = proxyServerContext(ca, tlsNames);
          listeners.add(Listener.builder(tlsListenerName).bind(bindTls).protocol(proxy).tls(() -> tls).build());
        }
        return new MitmServer(ca, cache, proxy, List.copyOf(listeners));
      } catch (RuntimeException e) {
        cache.close();
        throw e;
      }
    }

    private static SslContext proxyServerContext(CertificateAuthority ca, List<String> names) {
      CertificateRequest.Builder req = CertificateRequest.builder().commonName(names.get(0))
          .usages(CertificateRequest.Usage.SERVER).validity(Duration.ofDays(90));
      for (String n : names) {
        if (n.indexOf(':') >= 0 || n.chars().allMatch(c -> Character.isDigit(c) || c == '.')) {
          req.ipAddress(n);
        } else {
          req.dnsName(n);
        }
      }
      IssuedCertificate cert = ca.issue(req.build());
      try {
        return SslContextBuilder.forServer(cert.privateKey().orElseThrow(), cert.chain())
            .sslProvider(TlsMaterial.preferredProvider()).protocols(TlsMaterial.PROTOCOLS).build();
      } catch (SSLException e) {
        throw new IllegalStateException("tls listener SslContext: " + e.getMessage(), e);
      }
    }
  }

  /** The HTTPS listener, if configured. */
  public Optional<Listener> tlsListener() {
    return listeners.size() > 1 ? Optional.of(listeners.get(1)) : Optional.empty();
  }
}
