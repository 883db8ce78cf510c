package dev.conduit.cli.config;

import static java.util.Objects.requireNonNull;

import java.math.BigDecimal;
import java.time.Duration;

/**
 * Go-style durations as in seed 001's flags: a sequence of decimal numbers with units, such as
 * {@code 10s}, {@code 500ms}, {@code 4m}, {@code 1h30m} or {@code 1.5h}. Units: {@code ns}, {@code us}
 * ({@code µs}), {@code ms}, {@code s}, {@code m}, {@code h}, and {@code d} (24 h, for certificate
 * validity). {@code 0} alone means zero.
 */
public final class Durations {

  private Durations() {}

  /**
   * Parses a duration.
   *
   * @throws IllegalArgumentException naming the text and the expected form
   */
  public static Duration parse(String text) {
    requireNonNull(text, "text");
    String s = text.trim();
    if (s.equals("0")) {
      return Duration.ZERO;
    }
    if (s.isEmpty()) {
      throw invalid(text);
    }
    BigDecimal nanos = BigDecimal.ZERO;
    int i = 0;
    while (i < s.length()) {
      int start = i;
      while (i < s.length() && (Character.isDigit(s.charAt(i)) || s.charAt(i) == '.')) {
        i++;
      }
      if (start == i) {
        throw invalid(text);
      }
      BigDecimal number;
      try {
        number = new BigDecimal(s.substring(start, i));
      } catch (NumberFormatException e) {
        throw invalid(text);
      }
      int unitStart = i;
      while (i < s.length() && !Character.isDigit(s.charAt(i)) && s.charAt(i) != '.') {
        i++;
      }
      long unit = unitNanos(s.substring(unitStart, i), text);
      nanos = nanos.add(number.multiply(BigDecimal.valueOf(unit)));
    }
    try {
      return Duration.ofNanos(nanos.setScale(0, java.math.RoundingMode.HALF_UP).longValueExact());
    } catch (ArithmeticException e) {
      throw new IllegalArgumentException("duration: " + text + " (expected: at most about 292 years)");
    }
  }

  private static long unitNanos(String unit, String text) {
    return switch (unit) {
      case "ns" -> 1L;
      case "us", "µs", "μs" -> 1_000L;
      case "ms" -> 1_000_000L;
      case "s" -> 1_000_000_000L;
      case "m" -> 60_000_000_000L;
      case "h" -> 3_600_000_000_000L;
      case "d" -> 86_400_000_000_000L;
      default -> throw invalid(text);
    };
  }

  private static IllegalArgumentException invalid(String text) {
    return new IllegalArgumentException("duration: '" + text
        + "' (expected: a number with a unit, such as 10s, 500ms, 4m, 1h30m or 90d)");
  }

  /** Formats a duration the way {@link #parse} reads it back, e.g. {@code 1h30m}, {@code 500ms}, {@code 0}. */
  public static String format(Duration duration) {
    requireNonNull(duration, "duration");
    if (duration.isZero()) {
      return "0";
    }
    StringBuilder out = new StringBuilder();
    long nanos = duration.toNanos();
    if (nanos % 1_000_000_000L != 0) {
      return nanos % 1_000_000L == 0 ? nanos / 1_000_000L + "ms" : nanos + "ns";
    }
    long seconds = duration.getSeconds();
    if (seconds % 86_400 == 0 && seconds >= 86_400 * 2) {
      return seconds / 86_400 + "d";
    }
    long h = seconds / 3600;
    long m = (seconds % 3600) / 60;
    long sec = seconds % 60;
    if (h > 0) {
      out.append(h).append('h');
    }
    if (m > 0) {
      out.append(m).append('m');
    }
    if (sec > 0) {
      out.append(sec).append('s');
    }
    return out.toString();
  }
}
