package dev.conduit.mitm.cache;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.admin.AdminRequest;
import dev.conduit.core.admin.AdminResponse;
import dev.conduit.core.admin.AdminRoute;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.function.Predicate;

/**
 * The cache's part of the admin endpoint, mounted under {@value #PREFIX}:
 * {@code AdminServer.builder().route(CacheAdminRoute.PREFIX, new CacheAdminRoute(cache))}.
 *
 * <table>
 * <caption>Endpoints (relative to the mount prefix)</caption>
 * <tr><td>{@code GET /} or {@code GET /entries}</td><td>the entries as JSON: key, kind, size, age,
 *     hits, last access, last validation, pinned; {@code ?prefix=} keeps keys starting with it</td></tr>
 * <tr><td>{@code GET /stats}</td><td>the counters ({@link CacheStats}) as JSON</td></tr>
 * <tr><td>{@code POST /purge}</td><td>removes the entries selected by {@code ?key=} (as listed, a
 *     URL or a digest), {@code ?prefix=}, {@code ?older-than=} (age since commit: {@code 90s},
 *     {@code 15m}, {@code 2h}, {@code 7d} or ISO-8601) or {@code ?all=true}; answers
 *     {@code {"purged": n}}</td></tr>
 * <tr><td>{@code POST /pin}, {@code POST /unpin}</td><td>pins (never evicted) or unpins the entries
 *     selected by {@code ?key=} or {@code ?prefix=}; answers {@code {"changed": n}}</td></tr>
 * </table>
 * A selector that is missing or malformed answers 400.
 */
public final class CacheAdminRoute implements AdminRoute {

  /** Where the CLI mounts the route. */
  public static final String PREFIX = "/cache";

  private final BlobCache cache;

  /** A route over {@code cache}. */
  public CacheAdminRoute(BlobCache cache) {
    this.cache = requireNonNull(cache, "cache");
  }

  @Override
  public AdminResponse handle(AdminRequest request) {
    String path = request.path();
    String last = path.substring(path.lastIndexOf('/') + 1);
    boolean root = path.lastIndexOf('/') == 0; // the mount prefix itself
    String op = root ? "entries" : last;
    switch (op) {
      case "entries":
        requireMethod(request, "GET");
        return AdminResponse.json(200, entries(request.parameter("prefix").orElse("")));
      case "stats":
        requireMethod(request, "GET");
        return AdminResponse.json(200, stats(cache.stats()));
      case "purge":
        requireMethod(request, "POST");
        return AdminResponse.json(200, "{\"purged\": " + cache.purge(purgeSelector(request)) + "}\n");
      case "pin":
      case "unpin":
        requireMethod(request, "POST");
        Predicate<CacheEntryInfo> which = keyOrPrefix(request)
            .orElseThrow(() -> new IllegalArgumentException("pin: give ?key= or ?prefix="));
        return AdminResponse.json(200, "{\"changed\": " + cache.pin(which, op.equals("pin")) + "}\n");
      default:
        return AdminResponse.text(404, "no such cache endpoint: " + path + "\n");
    }
  }

  /**
   * A selector of entries by key as {@code conduit cache ls} prints it, or by the URL or digest it
   * was derived from.
   *
   * @throws IllegalArgumentException for a blank key
   */
  public static Predicate<CacheEntryInfo> keyMatcher(String key) {
    requireNonNull(key, "key");
    if (key.isBlank()) {
      throw new IllegalArgumentException("key: blank (expected: a key as listed, a URL or a digest)");
    }
    CacheKey derived = null;
    try {
      if (key.startsWith("sha256:") || key.startsWith("sha512:")) {
        derived = CacheKey.ofDigest(key);
      } else if (key.startsWith("http://") || key.startsWith("https://")) {
        derived = CacheKey.of(URI.create(key));
      }
    } catch (IllegalArgumentException e) {
      // not a URL or digest: matched by its text only
    }
    CacheKey d = derived;
    return info -> info.key().value().equals(key) || info.key().equals(d);
  }

  /**
   * Parses an age: {@code 90s}, {@code 15m}, {@code 2h}, {@code 7d} or ISO-8601 ({@code PT1H}).
   *
   * @throws IllegalArgumentException when it is neither
   */
  public static Duration parseAge(String text) {
    String t = requireNonNull(text, "text").trim().toLowerCase(Locale.ROOT);
    try {
      if (t.startsWith("p")) {
        return Duration.parse(t.toUpperCase(Locale.ROOT));
      }
      long n = Long.parseLong(t.substring(0, t.length() - 1));
      switch (t.charAt(t.length() - 1)) {
        case 's':
          return Duration.ofSeconds(n);
        case 'm':
          return Duration.ofMinutes(n);
        case 'h':
          return Duration.ofHours(n);
        case 'd':
          return Duration.ofDays(n);
        default:
          break;
      }
    } catch (NumberFormatException | DateTimeParseException | StringIndexOutOfBoundsException e) {
      // reported below
    }
    throw new IllegalArgumentException("age: " + text + " (expected: such as 90s, 15m, 2h, 7d or PT1H)");
  }

  private Predicate<CacheEntryInfo> purgeSelector(AdminRequest request) {
    if (request.parameter("all").map("true"::equals).orElse(false)) {
      return info -> true;
    }
    Optional<String> olderThan = request.parameter("older-than");
    if (olderThan.isPresent()) {
      Instant cutoff = cache.config().clock().instant().minus(parseAge(olderThan.get()));
      return info -> info.created().isBefore(cutoff);
    }
    return keyOrPrefix(request).orElseThrow(() ->
        new IllegalArgumentException("purge: give ?key=, ?prefix=, ?older-than= or ?all=true"));
  }

  private static Optional<Predicate<CacheEntryInfo>> keyOrPrefix(AdminRequest request) {
    Optional<String> key = request.parameter("key");
    if (key.isPresent()) {
      return Optional.of(keyMatcher(key.get()));
    }
    return request.parameter("prefix").filter(p -> !p.isEmpty())
        .map(p -> info -> info.key().value().startsWith(p));
  }

  private static void requireMethod(AdminRequest request, String method) {
    if (!request.method().equals(method)) {
      throw new IllegalArgumentException(request.path() + ": method " + request.method() + " (expected: " + method + ")");
    }
  }

  private String entries(String prefix) {
    List<CacheEntryInfo> all = cache.list();
    long now = cache.config().clock().millis();
    StringBuilder sb = new StringBuilder(128 + all.size() * 256).append("{\"entries\": [");
    int n = 0;
    long bytes = 0;
    for (CacheEntryInfo i : all) {
      if (!i.key().value().startsWith(prefix)) {
        continue;
      }
      sb.append(n++ == 0 ? "\n" : ",\n");
      bytes += i.size();
      sb.append("  {\"key\": ").append(quote(i.key().value()))
          .append(", \"kind\": \"").append(i.kind().name().toLowerCase(Locale.ROOT))
          .append("\", \"size\": ").append(i.size())
          .append(", \"age_s\": ").append(Math.max(0, (now - i.created().toEpochMilli()) / 1000))
          .append(", \"hits\": ").append(i.hits())
          .append(", \"created\": \"").append(i.created())
          .append("\", \"last_access\": \"").append(i.lastAccess())
          .append("\", \"last_validated\": \"").append(i.lastValidated())
          .append("\", \"pinned\": ").append(i.pinned()).append('}');
    }
    return sb.append("\n], \"count\": ").append(n).append(", \"bytes\": ").append(bytes).append("}\n").toString();
  }

  private static String stats(CacheStats s) {
    return "{\"hits\": " + s.hits() + ", \"misses\": " + s.misses() + ", \"joins\": " + s.joins()
        + ", \"revalidated_not_modified\": " + s.revalidatedNotModified()
        + ", \"revalidated_modified\": " + s.revalidatedModified() + ", \"stale_serves\": " + s.staleServes()
        + ", \"bytes_from_cache\": " + s.bytesServed() + ", \"bytes_from_upstream\": " + s.bytesFromUpstream()
        + ", \"bytes_stored\": " + s.bytesStored() + ", \"evictions\": " + s.evictions()
        + ", \"digest_mismatches\": " + s.digestMismatches() + ", \"entries\": " + s.entries()
        + ", \"size_bytes\": " + s.sizeBytes() + "}\n";
  }

  static String quote(String s) {
    StringBuilder sb = new StringBuilder(s.length() + 2).append('"');
    for (int k = 0; k < s.length(); k++) {
      char c = s.charAt(k);
      if (c == '"' || c == '\\') {
        sb.append('\\').append(c);
      } else if (c < 0x20) {
        sb.append(String.format("\\u%04x", (int) c));
      } else {
        sb.append(c);
      }
    }
    return sb.append('"').toString();
  }

  @Override
  public String toString() {
    return "CacheAdminRoute{" + cache + "}";
  }
}
