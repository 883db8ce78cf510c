package dev.conduit.mitm.cache;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Selects and normalises the response headers an entry keeps. */
final class StoredHeaders {

  static final String CONTENT_LENGTH = "Content-Length";
  static final String DOCKER_CONTENT_DIGEST = "Docker-Content-Digest";

  /** Headers worth replaying on a hit, in their canonical spelling. */
  static final List<String> KEPT = List.of("Content-Type", "ETag", "Last-Modified", DOCKER_CONTENT_DIGEST,
      CONTENT_LENGTH, "Cache-Control", "Expires", "Date");

  /** Kept for freshness arithmetic, never replayed: a hit is not the origin's answer of that time. */
  static final String DATE = "Date";

  private StoredHeaders() {
  }

  /** The kept headers of a response; values with CR/LF are dropped so metadata stays line-based. */
  static Map<String, String> select(Iterable<? extends Map.Entry<String, String>> headers) {
    Map<String, String> out = new LinkedHashMap<>();
    for (Map.Entry<String, String> h : headers) {
      String canonical = canonical(h.getKey());
      String value = h.getValue();
      if (canonical != null && value != null && value.indexOf('\r') < 0 && value.indexOf('\n') < 0
          && !out.containsKey(canonical)) {
        out.put(canonical, value.trim());
      }
    }
    return out;
  }

  /**
   * The body length the writer must store, or -1 when unknown: the {@code Content-Length} unless a
   * non-identity {@code Content-Encoding} means the proxy feeds a decoded body of another length.
   */
  static long expectedLength(Iterable<? extends Map.Entry<String, String>> headers) {
    long length = -1;
    boolean encoded = false;
    for (Map.Entry<String, String> h : headers) {
      String name = h.getKey().toLowerCase(Locale.ROOT);
      if (name.equals("content-length")) {
        length = parseLength(h.getValue());
      } else if (name.equals("content-encoding") && h.getValue() != null
          && !h.getValue().trim().equalsIgnoreCase("identity")) {
        encoded = true;
      }
    }
    return encoded ? -1 : length;
  }

  /** Parses a Content-Length value; -1 when absent or invalid. */
  static long parseLength(String value) {
    if (value == null) {
      return -1;
    }
    String v = value.trim();
    if (v.isEmpty() || v.length() > 18 || !v.chars().allMatch(c -> c >= '0' && c <= '9')) {
      return -1;
    }
    return Long.parseLong(v);
  }

  /**
   * The stored headers updated by a {@code 304 Not Modified} (RFC 9111 §4.3.4): its kept headers
   * replace the stored ones, except {@code Content-Length}, which a 304 does not describe.
   */
  static Map<String, String> refreshed(Map<String, String> stored,
      Iterable<? extends Map.Entry<String, String>> notModified) {
    Map<String, String> out = new LinkedHashMap<>(stored);
    select(notModified).forEach((k, v) -> {
      if (!k.equals(CONTENT_LENGTH)) {
        out.put(k, v);
      }
    });
    return out;
  }

  static Map<String, String> unmodifiable(Map<String, String> headers) {
    return Collections.unmodifiableMap(new LinkedHashMap<>(headers));
  }

  private static String canonical(String name) {
    for (String k : KEPT) {
      if (k.equalsIgnoreCase(name)) {
        return k;
      }
    }
    return null;
  }
}
