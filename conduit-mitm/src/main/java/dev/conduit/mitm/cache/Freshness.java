package dev.conduit.mitm.cache;

import static java.util.Objects.requireNonNull;

import java.util.regex.Pattern;

/**
 * The three kinds of cache entry and how long each may be served without asking the origin. Every
 * key's kind is decided here, in {@link #of(CacheKey)}, and nowhere else (an operator's
 * {@linkplain CachePolicy.Builder#maxAge rule} may shorten a kind's lifetime, never the kind).
 *
 * <table>
 * <caption>Kinds</caption>
 * <tr><th>kind</th><th>which keys</th><th>served</th></tr>
 * <tr><td>{@link #CONTENT_ADDRESSED}</td><td>digest keys (OCI {@code /v2/…/blobs/sha256:…}), OCI
 *     manifests by digest, Debian {@code by-hash/SHA256/<hex>}</td><td>forever; the bytes are
 *     verified against the digest before commit</td></tr>
 * <tr><td>{@link #IMMUTABLE}</td><td>versioned package files: {@code .deb}, {@code .udeb},
 *     {@code .rpm}, {@code .apk}, Python wheels, npm {@code /-/name-1.2.3.tgz} tarballs, PyPI
 *     {@code /packages/…} files, source packages under a Debian {@code /pool/}</td><td>forever;
 *     verified where a package index that passed through gives their digest</td></tr>
 * <tr><td>{@link #MUTABLE}</td><td>everything else the filters admit, indexes above all:
 *     {@code Release}, {@code InRelease}, {@code Packages*}, {@code Sources*}, {@code Contents-*},
 *     {@code Translation-*}, {@code repodata/*}, {@code APKINDEX.tar.gz}, OCI manifests by tag,
 *     PyPI {@code /simple/} pages, and any "latest" archive at a fixed URL</td><td>by HTTP caching
 *     (RFC 9111): fresh while {@code Cache-Control: max-age}/{@code s-maxage} or {@code Expires}
 *     say so, then revalidated with {@code If-None-Match}/{@code If-Modified-Since}; without an
 *     explicit lifetime, and for indexes always, revalidated on every request; served stale for a
 *     bounded time when the origin fails</td></tr>
 * </table>
 */
public enum Freshness {
  /** Named by a digest of its bytes: never changes, verified at commit. */
  CONTENT_ADDRESSED,
  /** A versioned package file: never changes by convention. */
  IMMUTABLE,
  /** May change at the same URL: obeys HTTP caching and revalidation. */
  MUTABLE;

  /** Debian's by-hash index names: the file name is the SHA-256 of the bytes. */
  static final Pattern BY_HASH = Pattern.compile("/by-hash/SHA256/([0-9a-f]{64})$");
  private static final Pattern CONTENT = Pattern.compile(
      "^/v2/.+/manifests/sha256:[0-9a-f]{64}$|/by-hash/SHA256/[0-9a-f]{64}$");
  private static final Pattern INDEX = Pattern.compile(
      "/(?:InRelease|Release|Release\\.gpg)$"
      + "|/(?:Packages|Sources|Contents-[^/]+|Translation-[^/]+|Components-[^/]+|Commands-[^/]+|icons-[^/]+)"
      + "(?:\\.(?:gz|xz|bz2|lzma|zst))?$"
      + "|/repodata/[^/]+$"
      + "|/APKINDEX\\.tar\\.gz$"
      + "|^/v2/.+/manifests/[^/]+$"
      + "|/simple/");
  private static final Pattern PACKAGE = Pattern.compile(
      "\\.(?:deb|udeb|ddeb|rpm|drpm|apk|whl|gem|crate|nupkg)$"
      + "|/pool/.+\\.(?:dsc|tar\\.(?:gz|xz|bz2|zst)|diff\\.gz)$"
      + "|/-/[^/]+-\\d[^/]*\\.tgz$"
      + "|^/packages/.+\\.(?:tar\\.gz|tar\\.bz2|zip)$");

  /** The kind of {@code key}'s entry. */
  public static Freshness of(CacheKey key) {
    requireNonNull(key, "key");
    if (key.isDigest()) {
      return CONTENT_ADDRESSED;
    }
    String path = key.path().orElse("/");
    if (CONTENT.matcher(path).find()) {
      return CONTENT_ADDRESSED;
    }
    if (INDEX.matcher(path).find()) {
      return MUTABLE;
    }
    return PACKAGE.matcher(path).find() ? IMMUTABLE : MUTABLE;
  }

  /**
   * Whether {@code key} names a package index (apt, yum/dnf, apk, OCI tag, PyPI simple page): such
   * an entry is revalidated on every request, whatever lifetime the origin announces.
   */
  public static boolean isIndex(CacheKey key) {
    requireNonNull(key, "key");
    if (key.isDigest()) {
      return false;
    }
    String path = key.path().orElse("/");
    return !CONTENT.matcher(path).find() && INDEX.matcher(path).find();
  }
}
