package dev.conduit.cli.config;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.runtime.SectionKey;
import java.util.List;
import java.util.Optional;

/**
 * The caching MITM proxy ({@code cache} section), seed 004's settings under the names of
 * {@code conduit cache serve}'s flags: {@code cert_dir} ({@code --cert-dir}), {@code cache_dir}
 * (seed 004's {@code file_dir}), {@code listen} ({@code tcp_bind}), {@code tls_listen} ({@code tls_bind}),
 * {@code tls_names}, {@code intercept} (the hosts whose CONNECT is intercepted), {@code filters},
 * {@code trust_upstream_cas} and {@code max_cache_size}.
 *
 * @param certDir where the CA lives ({@code ca.crt}, {@code ca.key}, {@code ca.p12}); created on first start
 * @param cacheDir the blob cache's directory
 * @param listen the plain HTTP proxy listener's {@code ip:port} (default {@value #DEFAULT_LISTEN})
 * @param tlsListen the HTTPS proxy listener's {@code ip:port}, if any
 * @param tlsNames the HTTPS listener certificate's names (empty: {@code localhost, 127.0.0.1})
 * @param intercept hosts to intercept: {@code host}, {@code *.domain} or {@code *}
 * @param filters URL path regexes of cacheable requests (empty: the built-in defaults)
 * @param trustUpstreamCas PEM files of CAs trusted for upstream TLS besides the system store
 * @param maxCacheBytes the size cap above which least recently used entries are evicted
 */
public record CacheConfig(String certDir, String cacheDir, String listen, Optional<String> tlsListen,
    List<String> tlsNames, List<String> intercept, List<String> filters, List<String> trustUpstreamCas,
    long maxCacheBytes) implements YamlSection {

  /** The section's key. */
  public static final SectionKey<CacheConfig> SECTION = SectionKey.of("cache", CacheConfig.class);

  /** The default plain listener (seed 004's {@code tcp_bind} default port). */
  public static final String DEFAULT_LISTEN = "127.0.0.1:8000";

  /** The default size cap: 10 GiB. */
  public static final long DEFAULT_MAX_CACHE_BYTES = 10L << 30;

  public CacheConfig {
    requireNonNull(certDir, "certDir");
    requireNonNull(cacheDir, "cacheDir");
    requireNonNull(listen, "listen");
    requireNonNull(tlsListen, "tlsListen");
    tlsNames = List.copyOf(tlsNames);
    intercept = List.copyOf(intercept);
    filters = List.copyOf(filters);
    trustUpstreamCas = List.copyOf(trustUpstreamCas);
    if (maxCacheBytes < 1) {
      throw new IllegalArgumentException("max_cache_size: " + maxCacheBytes + " (expected: > 0 bytes)");
    }
  }

  @Override
  public void describeTo(StringBuilder s) {
    s.append("cache:\n  cert_dir: ").append(ConduitConfig.quote(certDir)).append('\n');
    s.append("  cache_dir: ").append(ConduitConfig.quote(cacheDir)).append('\n');
    s.append("  listen: ").append(ConduitConfig.quote(listen)).append('\n');
    tlsListen.ifPresent(t -> s.append("  tls_listen: ").append(ConduitConfig.quote(t)).append('\n'));
    ConduitConfig.list(s, "  ", "tls_names", tlsNames);
    ConduitConfig.list(s, "  ", "intercept", intercept);
    ConduitConfig.list(s, "  ", "filters", filters);
    ConduitConfig.list(s, "  ", "trust_upstream_cas", trustUpstreamCas);
    s.append("  max_cache_size: ").append(maxCacheBytes).append('\n');
  }
}
