package dev.conduit.cli.config;

import java.util.Locale;

/** Sizes in bytes as flags and config files write them. */
public final class ByteSizes {
  private ByteSizes() {}

  /**
   * {@code 200000}, {@code 512k}, {@code 192m}, {@code 2g} (powers of 1024).
   *
   * @throws IllegalArgumentException with a message that says what was expected
   */
  public static long parse(String text) {
    String t = text.trim().toLowerCase(Locale.ROOT);
    int unit = t.isEmpty() ? -1 : "kmg".indexOf(t.charAt(t.length() - 1));
    try {
      long n = Long.parseLong(unit < 0 ? t : t.substring(0, t.length() - 1).trim());
      if (n < 0 || n > (Long.MAX_VALUE >> (10 * (unit + 1)))) {
        throw new NumberFormatException();
      }
      return n << (10 * (unit + 1));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("'" + text + "' (expected: bytes, e.g. 200000, 512k, 192m, 2g)");
    }
  }
}
