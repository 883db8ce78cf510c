package dev.conduit.mitm.cache;

import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.Locale;
import java.util.Map;

/** RFC 9111 freshness arithmetic on stored response headers and request directives. */
final class HttpFreshness {

  /** No explicit lifetime: the caller decides (conduit revalidates). */
  static final long UNKNOWN = -1;

  private HttpFreshness() {
  }

  /**
   * The explicit freshness lifetime of a response in milliseconds (RFC 9111 §4.2.1): {@code 0} for
   * {@code no-cache} or {@code must-revalidate} with {@code max-age=0}, {@code s-maxage} over
   * {@code max-age} over {@code Expires - Date}; {@link #UNKNOWN} when none is given.
   */
  static long lifetimeMillis(Map<String, String> headers) {
    String cc = get(headers, "Cache-Control");
    long maxAge = UNKNOWN;
    long sMaxAge = UNKNOWN;
    if (cc != null) {
      for (String directive : cc.split(",")) {
        String d = directive.trim().toLowerCase(Locale.ROOT);
        int eq = d.indexOf('=');
        String token = eq >= 0 ? d.substring(0, eq).trim() : d;
        String arg = eq >= 0 ? unquote(d.substring(eq + 1).trim()) : "";
        switch (token) {
          case "no-cache":
            return 0;
          case "max-age":
            maxAge = seconds(arg);
            break;
          case "s-maxage":
            sMaxAge = seconds(arg);
            break;
          default:
            break;
        }
      }
    }
    if (sMaxAge >= 0) {
      return sMaxAge * 1000;
    }
    if (maxAge >= 0) {
      return maxAge * 1000;
    }
    String expires = get(headers, "Expires");
    if (expires != null) {
      long e = parseDate(expires);
      if (e < 0) {
        return 0; // an invalid Expires means "already expired"
      }
      long date = parseDate(get(headers, "Date"));
      long base = date >= 0 ? date : e;
      return Math.max(0, e - base);
    }
    return UNKNOWN;
  }

  /**
   * Whether request headers ask a cache to revalidate: {@code Cache-Control: no-cache} or
   * {@code max-age=0}, or {@code Pragma: no-cache} (RFC 9111 §5.2.1).
   */
  static boolean requestWantsRevalidation(Iterable<? extends Map.Entry<String, String>> requestHeaders) {
    for (Map.Entry<String, String> h : requestHeaders) {
      String name = h.getKey().toLowerCase(Locale.ROOT);
      String value = h.getValue() == null ? "" : h.getValue().toLowerCase(Locale.ROOT);
      if (name.equals("pragma") && value.contains("no-cache")) {
        return true;
      }
      if (name.equals("cache-control")) {
        for (String directive : value.split(",")) {
          String d = directive.replace(" ", "");
          if (d.equals("no-cache") || d.equals("max-age=0")) {
            return true;
          }
        }
      }
    }
    return false;
  }

  private static long seconds(String arg) {
    try {
      return Math.max(0, Math.min(Long.parseLong(arg), 10L * 365 * 24 * 3600));
    } catch (NumberFormatException e) {
      return 0; // an invalid max-age is treated as stale
    }
  }

  private static String unquote(String s) {
    return s.length() >= 2 && s.startsWith("\"") && s.endsWith("\"") ? s.substring(1, s.length() - 1) : s;
  }

  /** An HTTP date in milliseconds, or -1. */
  static long parseDate(String value) {
    if (value == null) {
      return -1;
    }
    try {
      return ZonedDateTime.parse(value.trim(), DateTimeFormatter.RFC_1123_DATE_TIME).toInstant().toEpochMilli();
    } catch (DateTimeParseException e) {
      return -1;
    }
  }

  private static String get(Map<String, String> headers, String name) {
    String v = headers.get(name);
    if (v != null) {
      return v;
    }
    for (Map.Entry<String, String> e : headers.entrySet()) {
      if (e.getKey().equalsIgnoreCase(name)) {
        return e.getValue();
      }
    }
    return null;
  }
}
