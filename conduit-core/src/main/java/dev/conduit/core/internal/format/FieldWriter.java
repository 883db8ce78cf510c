package dev.conduit.core.internal.format;

import java.net.InetSocketAddress;
import java.time.Duration;

/**
 * Writes one flat record of named fields as a JSON object or a logfmt line, with correct escaping.
 * Not thread-safe; reusable through {@link #reset()}.
 */
public final class FieldWriter {
  private final boolean json;
  private final StringBuilder out = new StringBuilder(384);
  private boolean first = true;

  private FieldWriter(boolean json) {
    this.json = json;
  }

  /** A writer of JSON objects ({@code {"k":"v",...}}); absent values are {@code null}. */
  public static FieldWriter json() {
    return new FieldWriter(true);
  }

  /** A writer of logfmt lines ({@code k=v k2="v 2"}); absent values are left out. */
  public static FieldWriter logfmt() {
    return new FieldWriter(false);
  }

  /** Starts a new record. */
  public FieldWriter reset() {
    out.setLength(0);
    first = true;
    if (json) {
      out.append('{');
    }
    return this;
  }

  /** Ends the record and returns it. */
  public String finish() {
    if (json) {
      out.append('}');
    }
    return out.toString();
  }

  /** Appends the finished record to {@code sb} (for arrays). */
  public void finishTo(StringBuilder sb) {
    if (json) {
      out.append('}');
    }
    sb.append(out);
  }

  private void key(String key) {
    if (!first) {
      out.append(json ? ',' : ' ');
    }
    first = false;
    if (json) {
      out.append('"').append(key).append("\":");
    } else {
      out.append(key).append('=');
    }
  }

  /** A string field; {@code null} means absent. */
  public FieldWriter string(String key, String value) {
    if (value == null) {
      if (json) {
        key(key);
        out.append("null");
      }
      return this;
    }
    key(key);
    if (json) {
      jsonString(out, value);
    } else {
      logfmtValue(out, value);
    }
    return this;
  }

  /** An address field as {@code ip:port} ({@code [v6]:port}), or the unresolved host name. */
  public FieldWriter address(String key, InetSocketAddress value) {
    return string(key, value == null ? null : format(value));
  }

  /** A number field. */
  public FieldWriter number(String key, long value) {
    key(key);
    out.append(value);
    return this;
  }

  /** A duration field in milliseconds with microsecond precision ({@code 12.345}). */
  public FieldWriter millis(String key, Duration value) {
    key(key);
    long micros = value.toNanos() / 1000;
    out.append(micros / 1000).append('.');
    long frac = micros % 1000;
    if (frac < 100) {
      out.append('0');
    }
    if (frac < 10) {
      out.append('0');
    }
    out.append(frac);
    return this;
  }

  /** {@code ip:port}, {@code [v6]:port} or {@code host:port} when unresolved. */
  public static String format(InetSocketAddress a) {
    String host = a.getAddress() != null ? a.getAddress().getHostAddress() : a.getHostString();
    return host.indexOf(':') >= 0 ? "[" + host + "]:" + a.getPort() : host + ":" + a.getPort();
  }

  /** Appends {@code s} as a JSON string literal (RFC 8259: quotes, backslash, control characters escaped). */
  public static void jsonString(StringBuilder out, String s) {
    out.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        case '\n' -> out.append("\\n");
        case '\r' -> out.append("\\r");
        case '\t' -> out.append("\\t");
        default -> {
          // control characters, and the line separators that break JavaScript consumers
          if (c < 0x20 || c == 0x7f || c == '\u2028' || c == '\u2029') {
            out.append("\\u");
            String hex = Integer.toHexString(c);
            out.append("0000", hex.length(), 4).append(hex);
          } else {
            out.append(c);
          }
        }
      }
    }
    out.append('"');
  }

  /**
   * Appends a logfmt value: bare when it has no space, quote, equals sign or control character and
   * is not empty; otherwise quoted with {@code \"}, {@code \\}, {@code \n}, {@code \r}, {@code \t}
   * and {@code \\u00XX} escapes, so one record stays on one line.
   */
  static void logfmtValue(StringBuilder out, String s) {
    boolean bare = !s.isEmpty();
    for (int i = 0; bare && i < s.length(); i++) {
      char c = s.charAt(i);
      bare = c > ' ' && c != '"' && c != '=' && c != '\\' && c != 0x7f && c != '\u2028' && c != '\u2029';
    }
    if (bare) {
      out.append(s);
    } else {
      jsonString(out, s);
    }
  }
}
