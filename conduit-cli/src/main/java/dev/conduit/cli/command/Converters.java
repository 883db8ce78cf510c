package dev.conduit.cli.command;

import dev.conduit.cli.config.Durations;
import dev.conduit.core.TcpKeepAlive;
import java.time.Duration;
import picocli.CommandLine.TypeConversionException;

/** Flag value converters whose errors say what was expected. */
public final class Converters {
  private Converters() {}

  /** A Go-style duration ({@code 10s}, {@code 500ms}, {@code 1h30m}, {@code 90d}). */
  public static Duration duration(String text) {
    try {
      return Durations.parse(text);
    } catch (IllegalArgumentException e) {
      throw new TypeConversionException(e.getMessage());
    }
  }

  /** A size in bytes: {@code 200000}, {@code 512k}, {@code 192m}, {@code 2g} (powers of 1024). */
  public static long bytes(String text) {
    String t = text.trim().toLowerCase(java.util.Locale.ROOT);
    int unit = t.isEmpty() ? -1 : "kmg".indexOf(t.charAt(t.length() - 1));
    try {
      long n = Long.parseLong(unit < 0 ? t : t.substring(0, t.length() - 1).trim());
      if (n < 0) {
        throw new NumberFormatException();
      }
      return n << (10 * (unit + 1));
    } catch (NumberFormatException e) {
      throw new TypeConversionException("'" + text + "' (expected: bytes, e.g. 200000, 512k, 192m, 2g)");
    }
  }

  /** {@code on}, {@code off} or {@code idle:interval:count}. */
  public static TcpKeepAlive tcpKeepAlive(String text) {
    try {
      return TcpKeepAlive.parse(text);
    } catch (IllegalArgumentException e) {
      throw new TypeConversionException(e.getMessage());
    }
  }
}
