package dev.conduit.mitm.cache;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The line-based metadata file committed next to each body. Its presence is the commit record: a
 * body without a parseable metadata file whose size matches is never served.
 *
 * <pre>
 * conduit-blob-cache 1
 * key: https://deb.debian.org/debian/pool/x.deb
 * size: 1234
 * created: 1700000000000
 * sha256: 9f86d0...
 * hits: 3
 * validated: 1700000000000
 * pinned: true
 * header: Content-Type: application/octet-stream
 * </pre>
 */
final class EntryMetadata {

  static final String MAGIC = "conduit-blob-cache 1";

  final CacheKey key;
  final long size;
  final long createdMillis;
  final String sha256;
  final long hits;
  final Map<String, String> headers;
  final long validatedMillis;
  final boolean pinned;

  EntryMetadata(CacheKey key, long size, long createdMillis, String sha256, long hits,
      Map<String, String> headers, long validatedMillis, boolean pinned) {
    this.validatedMillis = validatedMillis;
    this.pinned = pinned;
    this.key = key;
    this.size = size;
    this.createdMillis = createdMillis;
    this.sha256 = sha256;
    this.hits = hits;
    this.headers = headers;
  }

  byte[] encode() {
    StringBuilder sb = new StringBuilder(256);
    sb.append(MAGIC).append('\n');
    sb.append("key: ").append(key.value()).append('\n');
    sb.append("size: ").append(size).append('\n');
    sb.append("created: ").append(createdMillis).append('\n');
    sb.append("sha256: ").append(sha256).append('\n');
    sb.append("hits: ").append(hits).append('\n');
    sb.append("validated: ").append(validatedMillis).append('\n');
    if (pinned) {
      sb.append("pinned: true\n");
    }
    headers.forEach((k, v) -> sb.append("header: ").append(k).append(": ").append(v).append('\n'));
    return sb.toString().getBytes(StandardCharsets.UTF_8);
  }

  static EntryMetadata decode(byte[] bytes) throws IOException {
    String[] lines = new String(bytes, StandardCharsets.UTF_8).split("\n", -1);
    if (lines.length < 2 || !lines[0].equals(MAGIC) || !lines[lines.length - 1].isEmpty()) {
      throw new IOException("not a complete conduit cache metadata file");
    }
    String key = null;
    long size = -1;
    long created = -1;
    String sha256 = null;
    long hits = 0;
    long validated = -1;
    boolean pinned = false;
    Map<String, String> headers = new LinkedHashMap<>();
    try {
      for (int i = 1; i < lines.length - 1; i++) {
        String line = lines[i];
        int colon = line.indexOf(": ");
        if (colon < 0) {
          throw new IOException("malformed metadata line: " + line);
        }
        String name = line.substring(0, colon);
        String value = line.substring(colon + 2);
        switch (name) {
          case "key":
            key = value;
            break;
          case "size":
            size = Long.parseLong(value);
            break;
          case "created":
            created = Long.parseLong(value);
            break;
          case "sha256":
            sha256 = value;
            break;
          case "hits":
            hits = Long.parseLong(value);
            break;
          case "validated":
            validated = Long.parseLong(value);
            break;
          case "pinned":
            pinned = value.equals("true");
            break;
          case "header":
            int c = value.indexOf(": ");
            if (c > 0) {
              headers.put(value.substring(0, c), value.substring(c + 2));
            }
            break;
          default:
            break; // written by a newer version; ignore
        }
      }
      if (key == null || size < 0 || created < 0 || sha256 == null) {
        throw new IOException("metadata lacks key, size, created or sha256");
      }
      // written before validation was recorded: the commit was the last validation
      return new EntryMetadata(CacheKey.parse(key), size, created, sha256, hits, headers,
          validated < 0 ? created : validated, pinned);
    } catch (IllegalArgumentException e) {
      throw new IOException("invalid metadata: " + e.getMessage(), e);
    }
  }
}
