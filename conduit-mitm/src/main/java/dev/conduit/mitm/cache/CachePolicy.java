package dev.conduit.mitm.cache;

import static java.util.Objects.requireNonNull;

import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Decides what the cache stores: which URLs (filters), how they are keyed (query identity) and which
 * responses are cacheable.
 *
 * <p><b>Filters</b> are regular expressions searched ({@link java.util.regex.Matcher#find()}) in the
 * <em>normalised path</em> of the request URL: no scheme, host or query, percent-encoded unreserved
 * characters decoded and {@code .}/{@code ..} segments removed (see {@link CacheKey}). Matching the
 * path keeps dduct's anchored patterns working, lets {@code \.deb$} match regardless of any signed
 * query, and makes {@code /a/../x.deb} and {@code /x%2Edeb} match like {@code /x.deb}. A URL is a
 * cache candidate when any filter matches.
 *
 * <p><b>Responses</b>: only a complete {@code 200} answer to {@code GET} is stored, and not when it
 * carries {@code Cache-Control: no-store} or {@code private}, or {@code Vary: *}. Completeness
 * (stored length equals {@code Content-Length}) is checked by {@link CacheWriter#commit()}.
 *
 * <p><b>Freshness</b>: the kind of each entry is decided by {@link Freshness#of}; this policy turns
 * it into a lifetime ({@link #freshUntil}). Content-addressed and immutable entries are served
 * forever; mutable ones follow HTTP caching, package indexes are revalidated on every request. An
 * operator's {@linkplain Builder#maxAge rule} sets the lifetime of matching entries (zero:
 * revalidate every time) and {@linkplain Builder#neverCache another} keeps URLs out of the cache,
 * though the defaults are right for apt, yum/dnf, apk, pip, npm and OCI registries. A stale mutable
 * entry is served, marked {@code X-Cache: STALE}, when the origin fails for up to
 * {@link #staleIfError()} after it went stale.
 */
public final class CachePolicy {

  /**
   * dduct's defaults (registry blobs, distribution packages and archives) plus the package indexes
   * that list digests ({@code Release}, {@code InRelease}, {@code repomd.xml}): indexes are always
   * revalidated, and caching them lets the packages they list be verified before commit.
   */
  public static final List<String> DEFAULT_FILTERS = List.of(
      "^/v2/.*/blobs/sha256:\\w+$",
      "/(?:InRelease|Release|repomd\\.xml)$",
      "\\.(?:apk|deb|rpm)$",
      "\\.(?:tar|tbz|tgz|txz)$",
      "\\.(?:7z|bz2|gz|xz|zip|zst)$");

  /** How long a stale mutable entry may stand in for a failing origin by default: one day. */
  public static final Duration DEFAULT_STALE_IF_ERROR = Duration.ofDays(1);

  private static final CachePolicy DEFAULTS = builder().build();

  private final List<Pattern> filters;
  private final QueryIdentity queryIdentity;
  private final List<Rule> rules;
  private final List<Pattern> neverCache;
  private final Duration staleIfError;

  /** An operator's lifetime for the entries whose normalised path matches. */
  private record Rule(Pattern pattern, Duration maxAge) {
  }

  private CachePolicy(Builder b) {
    this.filters = List.copyOf(b.filters);
    this.queryIdentity = b.queryIdentity;
    this.rules = List.copyOf(b.rules);
    this.neverCache = List.copyOf(b.neverCache);
    this.staleIfError = b.staleIfError;
  }

  /** The default policy: {@link #DEFAULT_FILTERS} and {@link QueryIdentity#DEFAULT}. */
  public static CachePolicy defaults() {
    return DEFAULTS;
  }

  /** A builder starting from {@link #DEFAULT_FILTERS} and {@link QueryIdentity#DEFAULT}. */
  public static Builder builder() {
    return new Builder();
  }

  /** The compiled filters. */
  public List<Pattern> filters() {
    return filters;
  }

  /** How queries take part in URL keys. */
  public QueryIdentity queryIdentity() {
    return queryIdentity;
  }

  /** Whether any filter, and no {@linkplain Builder#neverCache never-cache} rule, is found in {@code normalisedPath}. */
  public boolean matches(String normalisedPath) {
    requireNonNull(normalisedPath, "normalisedPath");
    for (Pattern p : neverCache) {
      if (p.matcher(normalisedPath).find()) {
        return false;
      }
    }
    for (Pattern p : filters) {
      if (p.matcher(normalisedPath).find()) {
        return true;
      }
    }
    return false;
  }

  /**
   * The key of {@code uri} when a filter matches its normalised path, else empty.
   *
   * @throws IllegalArgumentException for a URI that cannot be keyed (see {@link CacheKey#of(URI)});
   *     a proxy should answer such a request with 400
   */
  public Optional<CacheKey> keyFor(URI uri) {
    return filtered(CacheKey.of(uri, queryIdentity));
  }

  /**
   * The key of a proxied request (see {@link CacheKey#forRequest}) when a filter matches, else empty.
   * Use the original request, never a redirect target: the key stays the same for the whole chain.
   *
   * @throws IllegalArgumentException for a request that cannot be keyed
   */
  public Optional<CacheKey> keyFor(String scheme, String authority, String requestTarget) {
    return filtered(CacheKey.forRequest(scheme, authority, requestTarget, queryIdentity));
  }

  /** The kind of {@code key}'s entry (see {@link Freshness#of}). */
  public Freshness freshness(CacheKey key) {
    return Freshness.of(key);
  }

  /** How long after it went stale a mutable entry may be served when the origin fails. */
  public Duration staleIfError() {
    return staleIfError;
  }

  /**
   * Until when (epoch milliseconds) the entry of {@code key} is fresh, i.e. served without asking
   * the origin; {@link Long#MAX_VALUE} for ever.
   *
   * @param key the entry's key
   * @param headers the stored response headers ({@code Cache-Control}, {@code Expires}, {@code Date})
   * @param validatedMillis when the origin last sent or confirmed (304) the entry
   */
  public long freshUntil(CacheKey key, Map<String, String> headers, long validatedMillis) {
    requireNonNull(key, "key");
    requireNonNull(headers, "headers");
    Freshness kind = Freshness.of(key);
    if (kind == Freshness.CONTENT_ADDRESSED) {
      return Long.MAX_VALUE;
    }
    Optional<String> path = key.path();
    for (Rule r : rules) {
      if (path.isPresent() && r.pattern.matcher(path.get()).find()) {
        return plus(validatedMillis, r.maxAge.toMillis());
      }
    }
    if (kind == Freshness.IMMUTABLE) {
      return Long.MAX_VALUE;
    }
    if (Freshness.isIndex(key)) {
      return validatedMillis;
    }
    long lifetime = HttpFreshness.lifetimeMillis(headers);
    return lifetime <= 0 ? validatedMillis : plus(validatedMillis, lifetime);
  }

  /**
   * Whether a request's headers ask for revalidation ({@code Cache-Control: no-cache} or
   * {@code max-age=0}, {@code Pragma: no-cache}; apt sends {@code max-age=0} for indexes). Only
   * mutable entries honour it: content-addressed and immutable ones cannot be out of date.
   */
  public boolean requestWantsRevalidation(Iterable<? extends Map.Entry<String, String>> requestHeaders) {
    return HttpFreshness.requestWantsRevalidation(requireNonNull(requestHeaders, "requestHeaders"));
  }

  private static long plus(long a, long b) {
    long r = a + b;
    return r < a ? Long.MAX_VALUE : r;
  }

  private Optional<CacheKey> filtered(CacheKey key) {
    return matches(key.path().orElseThrow()) ? Optional.of(key) : Optional.empty();
  }

  /**
   * Why a response must not be stored, or empty when it may be.
   *
   * @param method the request method
   * @param status the response status code
   * @param headers the response headers (Netty's {@code HttpHeaders} is such an iterable)
   */
  public Optional<String> uncacheableReason(String method, int status,
      Iterable<? extends Map.Entry<String, String>> headers) {
    requireNonNull(method, "method");
    requireNonNull(headers, "headers");
    if (!method.equals("GET")) {
      return Optional.of("method " + method + " (only GET is cached)");
    }
    if (status != 200) {
      return Optional.of("status " + status + " (only 200 is cached)");
    }
    for (Map.Entry<String, String> h : headers) {
      String name = h.getKey().toLowerCase(Locale.ROOT);
      String value = h.getValue() == null ? "" : h.getValue();
      if (name.equals("cache-control")) {
        for (String directive : value.split(",")) {
          String d = directive.trim().toLowerCase(Locale.ROOT);
          int eq = d.indexOf('=');
          String token = eq >= 0 ? d.substring(0, eq).trim() : d;
          if (token.equals("no-store") || token.equals("private")) {
            return Optional.of("Cache-Control: " + token);
          }
        }
      } else if (name.equals("vary")) {
        for (String field : value.split(",")) {
          if (field.trim().equals("*")) {
            return Optional.of("Vary: *");
          }
        }
      } else if (name.equals("content-length")) {
        if (StoredHeaders.parseLength(value) < 0) {
          return Optional.of("Content-Length: " + value + " (invalid)");
        }
      }
    }
    return Optional.empty();
  }

  @Override
  public String toString() {
    List<String> p = new ArrayList<>();
    filters.forEach(f -> p.add(f.pattern()));
    return "CachePolicy{filters=" + p + ", queryIdentity=" + queryIdentity + ", rules=" + rules
        + ", neverCache=" + neverCache + ", staleIfError=" + staleIfError + '}';
  }

  /** Builds a {@link CachePolicy}. */
  public static final class Builder {
    private final List<Pattern> filters = new ArrayList<>();
    private QueryIdentity queryIdentity = QueryIdentity.DEFAULT;
    private final List<Rule> rules = new ArrayList<>();
    private final List<Pattern> neverCache = new ArrayList<>();
    private Duration staleIfError = DEFAULT_STALE_IF_ERROR;

    private Builder() {
      filters(DEFAULT_FILTERS);
    }

    /**
     * Replaces the filters.
     *
     * @throws IllegalArgumentException if a pattern does not compile
     */
    public Builder filters(Collection<String> regexes) {
      requireNonNull(regexes, "regexes");
      List<Pattern> compiled = new ArrayList<>();
      for (String r : regexes) {
        compiled.add(compile(r));
      }
      filters.clear();
      filters.addAll(compiled);
      return this;
    }

    /**
     * Adds a filter.
     *
     * @throws IllegalArgumentException if the pattern does not compile
     */
    public Builder filter(String regex) {
      filters.add(compile(regex));
      return this;
    }

    /** Sets how queries take part in URL keys (default {@link QueryIdentity#DEFAULT}). */
    public Builder queryIdentity(QueryIdentity queryIdentity) {
      this.queryIdentity = requireNonNull(queryIdentity, "queryIdentity");
      return this;
    }

    /**
     * Entries whose normalised path matches {@code regex} are fresh for {@code maxAge} after each
     * validation, whatever their kind (except content-addressed) and the origin's headers;
     * {@link Duration#ZERO} revalidates on every request. The first matching rule wins.
     *
     * @throws IllegalArgumentException if the pattern does not compile or {@code maxAge} is negative
     */
    public Builder maxAge(String regex, Duration maxAge) {
      requireNonNull(maxAge, "maxAge");
      if (maxAge.isNegative()) {
        throw new IllegalArgumentException("maxAge: " + maxAge + " (expected: >= 0)");
      }
      rules.add(new Rule(compile(regex), maxAge));
      return this;
    }

    /**
     * URLs whose normalised path matches {@code regex} are never cached, even when a filter admits them.
     *
     * @throws IllegalArgumentException if the pattern does not compile
     */
    public Builder neverCache(String regex) {
      neverCache.add(compile(regex));
      return this;
    }

    /**
     * How long after going stale a mutable entry may be served when the origin fails (default
     * {@link #DEFAULT_STALE_IF_ERROR}); {@link Duration#ZERO} never serves stale.
     */
    public Builder staleIfError(Duration value) {
      requireNonNull(value, "staleIfError");
      if (value.isNegative()) {
        throw new IllegalArgumentException("staleIfError: " + value + " (expected: >= 0)");
      }
      this.staleIfError = value;
      return this;
    }

    /** Builds the immutable policy. */
    public CachePolicy build() {
      return new CachePolicy(this);
    }

    private static Pattern compile(String regex) {
      requireNonNull(regex, "regex");
      try {
        return Pattern.compile(regex);
      } catch (PatternSyntaxException e) {
        throw new IllegalArgumentException("filter: " + regex + " (invalid regular expression: "
            + e.getDescription() + ")", e);
      }
    }
  }
}
