package dev.conduit.mitm.cache;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.GZIPInputStream;
import org.tukaani.xz.XZInputStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The SHA-256 digests that package indexes passing through the cache list for each path: Debian
 * {@code Release}/{@code InRelease} (the indexes themselves) and {@code Packages} (the {@code .deb}s),
 * RPM {@code repomd.xml} (the metadata files) and {@code primary.xml} (the {@code .rpm}s). A body
 * whose key has a digest here is verified before commit, like a digest key, and a package already
 * stored under another mirror's URL with that digest is served from that one entry.
 *
 * <p>Plain and gzip-compressed indexes are read; others ({@code .xz}, {@code .zst}, {@code .bz2})
 * are not (their packages are then cached unverified, as before). At most {@value #MAX_PATHS} paths
 * are remembered, the oldest forgotten first: memory stays bounded whatever the mirrors list.
 */
final class PackageIndex {

  private static final Logger LOG = LoggerFactory.getLogger(PackageIndex.class);
  static final int MAX_PATHS = 250_000;
  private static final Pattern DEB_INDEX = Pattern.compile("/dists/.+/(?:Packages|Sources)(?:\\.gz|\\.xz)?$");
  private static final Pattern RELEASE = Pattern.compile("/dists/[^/]+/(?:InRelease|Release)$");
  private static final Pattern REPOMD = Pattern.compile("/repodata/repomd\\.xml$");
  private static final Pattern PRIMARY = Pattern.compile("/repodata/[^/]*primary\\.xml(?:\\.gz|\\.xz)?$");
  private static final Pattern RPM_CHECKSUM = Pattern.compile("<checksum type=\"sha256\"[^>]*>([0-9a-f]{64})</checksum>");
  private static final Pattern RPM_LOCATION = Pattern.compile("<location (?:xml:base=\"[^\"]*\" )?href=\"([^\"]+)\"");
  private static final Pattern HEX = Pattern.compile("[0-9a-f]{64}");

  /** 128 bits of the SHA-256 of a key's value: collisions are as unlikely as in a UUID. */
  private record KeyHash(long high, long low) {
  }

  private final Map<KeyHash, byte[]> digests = new LinkedHashMap<>(1024, 0.75f, false) {
    @Override
    protected boolean removeEldestEntry(Map.Entry<KeyHash, byte[]> eldest) {
      return size() > MAX_PATHS;
    }
  };

  /** Whether {@code key} names an index this class reads. */
  static boolean isIndex(CacheKey key) {
    String path = key.path().orElse("");
    return DEB_INDEX.matcher(path).find() || RELEASE.matcher(path).find() || REPOMD.matcher(path).find()
        || PRIMARY.matcher(path).find();
  }

  /** The SHA-256 (lower-case hex) an index listed for {@code key}, if any. */
  Optional<String> expected(CacheKey key) {
    if (key.isDigest()) {
      return Optional.empty();
    }
    byte[] d;
    synchronized (digests) {
      d = digests.get(hash(key.value()));
    }
    return d == null ? Optional.empty() : Optional.of(CacheFiles.hex(d));
  }

  /** Number of paths remembered. */
  int size() {
    synchronized (digests) {
      return digests.size();
    }
  }

  /**
   * Reads the committed index {@code body} of {@code key} and remembers the digests it lists.
   * Blocking file I/O: runs on the cache's executor. A malformed index is logged and skipped.
   *
   * @return the number of paths learnt
   */
  int learn(CacheKey key, Path body) {
    String path = key.path().orElse("");
    String value = key.value();
    String prefix = value.substring(0, value.indexOf('/', value.indexOf("://") + 3));
    try {
      if (RELEASE.matcher(path).find()) {
        return learnRelease(prefix + path.substring(0, path.lastIndexOf('/') + 1), body);
      }
      if (DEB_INDEX.matcher(path).find()) {
        return learnPackages(prefix + path.substring(0, path.indexOf("/dists/") + 1), body, path);
      }
      if (REPOMD.matcher(path).find() || PRIMARY.matcher(path).find()) {
        return learnRpm(prefix + path.substring(0, path.indexOf("/repodata/") + 1), body, path);
      }
    } catch (IOException | RuntimeException e) {
      LOG.warn("cannot read package index {}: {}", key, e.toString());
    }
    return 0;
  }

  /** {@code Release}: " <sha256> <size> <path>" lines under "SHA256:", paths relative to its directory. */
  private int learnRelease(String base, Path body) throws IOException {
    int n = 0;
    try (BufferedReader r = reader(body, "")) {
      boolean inSha256 = false;
      for (String line; (line = r.readLine()) != null; ) {
        if (!line.startsWith(" ")) {
          inSha256 = line.equals("SHA256:");
          continue;
        }
        if (inSha256) {
          String[] f = line.trim().split("\\s+");
          if (f.length == 3 && HEX.matcher(f[0]).matches()) {
            n += remember(base + f[2], f[0]);
          }
        }
      }
    }
    return n;
  }

  /** {@code Packages}: stanzas with "Filename:" (relative to the repository root) and "SHA256:". */
  private int learnPackages(String root, Path body, String urlPath) throws IOException {
    int n = 0;
    try (BufferedReader r = reader(body, urlPath)) {
      String filename = null;
      String sha256 = null;
      for (String line; ; ) {
        line = r.readLine();
        if (line == null || line.isEmpty()) {
          if (filename != null && sha256 != null) {
            n += remember(root + filename, sha256);
          }
          filename = null;
          sha256 = null;
          if (line == null) {
            break;
          }
        } else if (line.startsWith("Filename: ")) {
          filename = line.substring(10).trim();
        } else if (line.startsWith("SHA256: ")) {
          sha256 = line.substring(8).trim();
        }
      }
    }
    return n;
  }

  /** repomd.xml and primary.xml: each sha256 checksum with the location that follows it. */
  private int learnRpm(String root, Path body, String urlPath) throws IOException {
    int n = 0;
    try (BufferedReader r = reader(body, urlPath)) {
      String sha256 = null;
      for (String line; (line = r.readLine()) != null; ) {
        Matcher c = RPM_CHECKSUM.matcher(line);
        if (c.find()) {
          sha256 = c.group(1);
        }
        Matcher l = RPM_LOCATION.matcher(line);
        if (l.find() && sha256 != null) {
          n += remember(root + l.group(1), sha256);
          sha256 = null;
        }
        if (line.contains("</package>") || line.contains("</data>")) {
          sha256 = null;
        }
      }
    }
    return n;
  }

  private int remember(String url, String sha256Hex) {
    if (!HEX.matcher(sha256Hex).matches()) {
      return 0;
    }
    CacheKey key;
    try {
      key = CacheKey.of(URI.create(url));
    } catch (IllegalArgumentException e) {
      return 0; // a path no client can ask for through us
    }
    byte[] d = java.util.HexFormat.of().parseHex(sha256Hex);
    synchronized (digests) {
      digests.put(hash(key.value()), d);
    }
    return 1;
  }

  /** The index's text, decompressed by the URL path's suffix ({@code .gz}, {@code .xz}, or none). */
  private static BufferedReader reader(Path body, String urlPath) throws IOException {
    InputStream in = Files.newInputStream(body);
    try {
      InputStream s = urlPath.endsWith(".gz") ? new GZIPInputStream(in, 65536)
          : urlPath.endsWith(".xz") ? new XZInputStream(new java.io.BufferedInputStream(in, 65536)) : in;
      return new BufferedReader(new InputStreamReader(s, StandardCharsets.UTF_8), 65536);
    } catch (IOException e) {
      in.close();
      throw e;
    }
  }

  private static KeyHash hash(String value) {
    try {
      byte[] h = MessageDigest.getInstance("SHA-256").digest(value.getBytes(StandardCharsets.UTF_8));
      java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(h);
      return new KeyHash(b.getLong(), b.getLong());
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 unavailable", e);
    }
  }
}
