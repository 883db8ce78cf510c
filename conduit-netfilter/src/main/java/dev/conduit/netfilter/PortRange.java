package dev.conduit.netfilter;

/**
 * An inclusive TCP port range; a single port has {@code first == last}.
 *
 * @param first the first port (1-65535)
 * @param last the last port (first-65535)
 */
public record PortRange(int first, int last) {

  /**
   * Validates.
   *
   * @param first the first port
   * @param last the last port
   */
  public PortRange {
    if (first < 1 || first > 65535) {
      throw new IllegalArgumentException("port: " + first + " (expected: 1-65535)");
    }
    if (last < first || last > 65535) {
      throw new IllegalArgumentException("port range: " + first + "-" + last
          + " (expected: last in " + first + "-65535)");
    }
  }

  /**
   * A single port.
   *
   * @param port the port
   * @return the range {@code port-port}
   */
  public static PortRange of(int port) {
    return new PortRange(port, port);
  }

  /**
   * Parses {@code "80"} or {@code "8000-8100"}.
   *
   * @param text the text
   * @return the range
   */
  public static PortRange parse(String text) {
    dev.conduit.core.net.PortRange r = dev.conduit.core.net.PortRange.parse(text);
    return new PortRange(r.first(), r.last());
  }


  /** Returns {@code "80"} or {@code "8000-8100"} (the syntax of ipset and nft). */
  @Override
  public String toString() {
    return first == last ? Integer.toString(first) : first + "-" + last;
  }
}
