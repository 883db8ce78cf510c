package dev.conduit.core.net;

/**
 * An inclusive port range, the one way conduit parses and validates ports ({@code 443},
 * {@code 8000-8100}) for rules, tunnel allow lists and capture plans; a single port has
 * {@code first == last}.
 *
 * @param first the first port (1-65535)
 * @param last the last port (first-65535)
 */
public record PortRange(int first, int last) {

  /** Validates the bounds. */
  public PortRange {
    if (first < 1 || first > 65535) {
      throw new IllegalArgumentException("port: " + first + " (expected: 1-65535)");
    }
    if (last < first || last > 65535) {
      throw new IllegalArgumentException("port range: " + first + "-" + last + " (expected: last in " + first
          + "-65535)");
    }
  }

  /** A single port. */
  public static PortRange of(int port) {
    return new PortRange(port, port);
  }

  /**
   * Parses {@code "443"} or {@code "8000-8100"} (spaces around the parts are ignored).
   *
   * @throws IllegalArgumentException with the expected form, for anything else
   */
  public static PortRange parse(String text) {
    String t = text.trim();
    int dash = t.indexOf('-');
    try {
      int first = Integer.parseInt(dash < 0 ? t : t.substring(0, dash).trim());
      int last = dash < 0 ? first : Integer.parseInt(t.substring(dash + 1).trim());
      if (first < 1 || last > 65535) {
        throw new IllegalArgumentException("port: " + text + " (expected: 1-65535, or a range such as 8000-8100)");
      }
      if (first > last) {
        throw new IllegalArgumentException("port range: " + text
            + " (expected: 1-65535, or a range such as 8000-8100)");
      }
      return new PortRange(first, last);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("port: '" + text + "' (expected: 1-65535, or a range such as 8000-8100)");
    }
  }

  /** Whether {@code port} lies in this range. */
  public boolean contains(int port) {
    return port >= first && port <= last;
  }

  /** {@code "80"} or {@code "8000-8100"} (the syntax of ipset and nft as well). */
  @Override
  public String toString() {
    return first == last ? Integer.toString(first) : first + "-" + last;
  }
}
