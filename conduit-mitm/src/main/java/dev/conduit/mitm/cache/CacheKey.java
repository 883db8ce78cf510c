package dev.conduit.mitm.cache;

import static java.util.Objects.requireNonNull;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Locale;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The identity of a cached blob.
 *
 * <p>Two forms exist:
 * <ul>
 *   <li>a <b>digest key</b> ({@code sha256:<64 hex>} or {@code sha512:<128 hex>}) for
 *       content-addressed OCI/Docker blobs ({@code /v2/<name>/blobs/<digest>}). The registry host
 *       and repository name are not part of it, so one layer is shared by every registry and mirror
 *       that serves it; its bytes are verified against the digest before commit;</li>
 *   <li>a <b>URL key</b> {@code scheme://host[:port]/path[?query]}: scheme and host lower-cased,
 *       the default port (80 for http, 443 for https) and any userinfo removed, a trailing dot on
 *       the host removed, the path normalised (percent-encoded unreserved characters decoded, other
 *       escapes upper-cased, {@code .} and {@code ..} segments removed as in RFC 3986 §5.2.4) and the
 *       query kept only when the {@link QueryIdentity} says so. The fragment is always dropped.</li>
 * </ul>
 *
 * <p>A path whose {@code ..} segments climb above the root (for example {@code /a/../../etc/passwd}
 * or {@code /%2e%2e/x}) is rejected with {@link IllegalArgumentException}: such a request is
 * malformed and never cached. Keys are never used as file names; see {@link BlobCache}.
 *
 * <p><b>Redirects.</b> Registries answer a blob request with a redirect to a CDN URL carrying a
 * one-time signed query. The proxy must derive the key from the <em>original</em> request (with
 * {@link #forRequest} or {@link CachePolicy#keyFor}) and keep using it for the whole redirect
 * chain; the redirect target's URL is never used as the key. A second pull of the same blob is then
 * a hit, whatever CDN URL the registry hands out.
 */
public final class CacheKey {

  private static final Pattern BLOB_PATH =
      Pattern.compile("^/v2/.+/blobs/(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$");
  private static final Pattern DIGEST = Pattern.compile("^(?:sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$");
  private static final String UNRESERVED_MARKS = "-._~";
  private static final String NOT_IN_URI = "\"<>\\^`{|}";

  private final String value;
  private final String path;
  private final boolean digest;

  private CacheKey(String value, String path, boolean digest) {
    this.value = value;
    this.path = path;
    this.digest = digest;
  }

  /**
   * Derives the key of {@code uri} with {@link QueryIdentity#DEFAULT}.
   *
   * @throws IllegalArgumentException if the URI is not absolute http(s), has no host, has an
   *     invalid percent-escape or a path escaping the root
   */
  public static CacheKey of(URI uri) {
    return of(uri, QueryIdentity.DEFAULT);
  }

  /**
   * Derives the key of {@code uri}, keeping its query as {@code queryIdentity} decides.
   *
   * @throws IllegalArgumentException if the URI is not absolute http(s), has no host, has an
   *     invalid percent-escape or a path escaping the root
   */
  public static CacheKey of(URI uri, QueryIdentity queryIdentity) {
    requireNonNull(uri, "uri");
    if (uri.getScheme() == null || uri.getRawAuthority() == null) {
      throw new IllegalArgumentException("uri: " + uri + " (expected: absolute http or https URI)");
    }
    return build(uri.getScheme(), uri.getRawAuthority(), uri.getRawPath(), uri.getRawQuery(), queryIdentity);
  }

  /**
   * Derives the key of an HTTP request as a proxy sees it, for example after TLS interception where
   * the request line only holds the origin-form target. Call it for the <em>original</em> request,
   * not for redirect targets (see the class documentation).
   *
   * @param scheme {@code http} or {@code https} (the scheme the client used)
   * @param authority the {@code Host} header value (or the authority of an absolute-form target),
   *     {@code host[:port]}
   * @param requestTarget origin-form {@code /path?query} or absolute-form {@code http://h/path?q}
   * @param queryIdentity decides whether the query is part of the key
   * @throws IllegalArgumentException for a malformed target, an unsupported scheme or a path
   *     escaping the root
   */
  public static CacheKey forRequest(String scheme, String authority, String requestTarget,
      QueryIdentity queryIdentity) {
    requireNonNull(scheme, "scheme");
    requireNonNull(authority, "authority");
    requireNonNull(requestTarget, "requestTarget");
    String target = requestTarget;
    int hash = target.indexOf('#');
    if (hash >= 0) {
      target = target.substring(0, hash);
    }
    if (!target.startsWith("/")) {
      return of(parseAbsolute(target), queryIdentity);
    }
    int q = target.indexOf('?');
    String rawPath = q >= 0 ? target.substring(0, q) : target;
    String rawQuery = q >= 0 ? target.substring(q + 1) : null;
    return build(scheme, authority, rawPath, rawQuery, queryIdentity);
  }

  /**
   * Returns the digest key {@code sha256:<hex>} / {@code sha512:<hex>}.
   *
   * @throws IllegalArgumentException if {@code digest} is not a lower-case sha256 or sha512 digest
   */
  public static CacheKey ofDigest(String digest) {
    requireNonNull(digest, "digest");
    if (!DIGEST.matcher(digest).matches()) {
      throw new IllegalArgumentException("digest: " + digest
          + " (expected: sha256:<64 lower-case hex> or sha512:<128 lower-case hex>)");
    }
    return new CacheKey(digest, null, true);
  }

  /** Whether this is a content-addressed digest key whose bytes are verified before commit. */
  public boolean isDigest() {
    return digest;
  }

  /** The digest ({@code sha256:<hex>}) for a digest key, empty for a URL key. */
  public Optional<String> digest() {
    return digest ? Optional.of(value) : Optional.empty();
  }

  /**
   * The normalised path the key was derived from, as matched by {@link CachePolicy} filters; empty
   * for a key made with {@link #ofDigest}.
   */
  public Optional<String> path() {
    return Optional.ofNullable(path);
  }

  /** The canonical string form; equal keys have equal values. */
  public String value() {
    return value;
  }

  /** Lower-case hex SHA-256 of {@link #value()}, used to name the entry's files. */
  String fileHash() {
    try {
      byte[] hash = MessageDigest.getInstance("SHA-256").digest(value.getBytes(StandardCharsets.UTF_8));
      StringBuilder sb = new StringBuilder(64);
      for (byte b : hash) {
        sb.append(Character.forDigit((b >> 4) & 0xf, 16)).append(Character.forDigit(b & 0xf, 16));
      }
      return sb.toString();
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 unavailable", e);
    }
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof CacheKey && ((CacheKey) o).value.equals(value);
  }

  @Override
  public int hashCode() {
    return value.hashCode();
  }

  @Override
  public String toString() {
    return value;
  }

  /** Restores a key from its {@link #value()} as stored in entry metadata. */
  static CacheKey parse(String value) {
    if (DIGEST.matcher(value).matches()) {
      return ofDigest(value);
    }
    // Stored keys are already normalised; re-deriving must give back the identical value.
    CacheKey key = of(URI.create(value), QueryIdentity.KEEP);
    if (!key.value.equals(value)) {
      throw new IllegalArgumentException("key: " + value + " (expected: a normalised key)");
    }
    return key;
  }

  private static URI parseAbsolute(String target) {
    try {
      return new URI(target);
    } catch (java.net.URISyntaxException e) {
      throw new IllegalArgumentException("requestTarget: " + target + " (" + e.getReason() + ")", e);
    }
  }

  private static CacheKey build(String scheme, String rawAuthority, String rawPath, String rawQuery,
      QueryIdentity queryIdentity) {
    requireNonNull(queryIdentity, "queryIdentity");
    String s = scheme.toLowerCase(Locale.ROOT);
    int defaultPort;
    if (s.equals("http")) {
      defaultPort = 80;
    } else if (s.equals("https")) {
      defaultPort = 443;
    } else {
      throw new IllegalArgumentException("scheme: " + scheme + " (expected: http or https)");
    }
    String path = normalizePath(rawPath == null || rawPath.isEmpty() ? "/" : rawPath);
    Matcher blob = BLOB_PATH.matcher(path);
    if (blob.matches()) {
      return new CacheKey(blob.group(1), path, true);
    }
    StringBuilder sb = new StringBuilder(s).append("://").append(normalizeAuthority(rawAuthority, defaultPort))
        .append(path);
    if (queryIdentity.includes(rawQuery)) {
      sb.append('?').append(normalizeEscapes(rawQuery, "query"));
    }
    return new CacheKey(sb.toString(), path, false);
  }

  private static String normalizeAuthority(String rawAuthority, int defaultPort) {
    String a = rawAuthority;
    int at = a.lastIndexOf('@');
    if (at >= 0) {
      a = a.substring(at + 1); // userinfo is never identity (and may be a secret)
    }
    String host;
    String port = null;
    if (a.startsWith("[")) {
      int close = a.indexOf(']');
      if (close < 0) {
        throw new IllegalArgumentException("authority: " + rawAuthority + " (unterminated IPv6 literal)");
      }
      host = a.substring(0, close + 1);
      String rest = a.substring(close + 1);
      if (!rest.isEmpty()) {
        if (!rest.startsWith(":")) {
          throw new IllegalArgumentException("authority: " + rawAuthority + " (expected: [v6]:port)");
        }
        port = rest.substring(1);
      }
    } else {
      int colon = a.lastIndexOf(':');
      host = colon >= 0 ? a.substring(0, colon) : a;
      port = colon >= 0 ? a.substring(colon + 1) : null;
    }
    host = host.toLowerCase(Locale.ROOT);
    if (host.endsWith(".") && host.length() > 1) {
      host = host.substring(0, host.length() - 1);
    }
    if (host.isEmpty() || !host.matches("\\[[0-9a-f:.]+]|[a-z0-9._~!$&'()*+,;=%-]+")) {
      throw new IllegalArgumentException("host: " + host + " (expected: a DNS name or IP address)");
    }
    if (port == null || port.isEmpty()) {
      return host;
    }
    int p;
    try {
      p = port.length() > 5 ? -1 : Integer.parseInt(port);
    } catch (NumberFormatException e) {
      p = -1;
    }
    if (p < 0 || p > 65535 || !port.chars().allMatch(c -> c >= '0' && c <= '9')) {
      throw new IllegalArgumentException("port: " + port + " (expected: 0-65535)");
    }
    return p == defaultPort ? host : host + ":" + p;
  }

  /** Percent-encoding normalisation (RFC 3986 §6.2.2.2) followed by dot-segment removal. */
  static String normalizePath(String rawPath) {
    if (!rawPath.startsWith("/")) {
      throw new IllegalArgumentException("path: " + rawPath + " (expected: absolute path)");
    }
    String decoded = normalizeEscapes(rawPath, "path");
    Deque<String> out = new ArrayDeque<>();
    String[] segments = decoded.substring(1).split("/", -1);
    for (int i = 0; i < segments.length; i++) {
      String seg = segments[i];
      boolean last = i == segments.length - 1;
      if (seg.equals(".")) {
        if (last) {
          out.addLast("");
        }
      } else if (seg.equals("..")) {
        if (out.isEmpty()) {
          throw new IllegalArgumentException("path: " + rawPath + " (escapes the root)");
        }
        out.removeLast();
        if (last) {
          out.addLast("");
        }
      } else {
        out.addLast(seg);
      }
    }
    return "/" + String.join("/", out);
  }

  private static String normalizeEscapes(String raw, String what) {
    StringBuilder sb = new StringBuilder(raw.length());
    for (int i = 0; i < raw.length(); i++) {
      char c = raw.charAt(i);
      if (c == '%') {
        if (i + 2 >= raw.length() || Character.digit(raw.charAt(i + 1), 16) < 0
            || Character.digit(raw.charAt(i + 2), 16) < 0) {
          throw new IllegalArgumentException(what + ": " + raw + " (invalid percent-escape at index " + i + ")");
        }
        int b = Character.digit(raw.charAt(i + 1), 16) * 16 + Character.digit(raw.charAt(i + 2), 16);
        char d = (char) b;
        if (isUnreserved(d)) {
          sb.append(d);
        } else {
          sb.append('%').append(Character.toUpperCase(raw.charAt(i + 1)))
              .append(Character.toUpperCase(raw.charAt(i + 2)));
        }
        i += 2;
      } else if (c <= 0x20 || c >= 0x7f || NOT_IN_URI.indexOf(c) >= 0) {
        // Not valid in a URI: encode so keys stay printable and parse back as URIs.
        int cp = raw.codePointAt(i);
        for (byte b : new String(Character.toChars(cp)).getBytes(StandardCharsets.UTF_8)) {
          sb.append('%').append(Character.toUpperCase(Character.forDigit((b >> 4) & 0xf, 16)))
              .append(Character.toUpperCase(Character.forDigit(b & 0xf, 16)));
        }
        i += Character.charCount(cp) - 1;
      } else {
        sb.append(c);
      }
    }
    return sb.toString();
  }

  private static boolean isUnreserved(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
        || UNRESERVED_MARKS.indexOf(c) >= 0;
  }
}
