package dev.conduit.core;

import static java.util.Objects.requireNonNull;

/**
 * TCP keepalive for accepted and dialed sockets, as seed 001's {@code --tcp-keepalive}:
 * {@code off}, {@code on} (kernel defaults) or {@code idle:interval:count} in seconds.
 *
 * @param enabled whether SO_KEEPALIVE is set
 * @param idleSeconds TCP_KEEPIDLE, or 0 for the kernel default
 * @param intervalSeconds TCP_KEEPINTVL, or 0 for the kernel default
 * @param count TCP_KEEPCNT, or 0 for the kernel default
 */
public record TcpKeepAlive(boolean enabled, int idleSeconds, int intervalSeconds, int count) {

  /** Keepalive off. */
  public static final TcpKeepAlive OFF = new TcpKeepAlive(false, 0, 0, 0);
  /** Keepalive on with the kernel's timers. */
  public static final TcpKeepAlive ON = new TcpKeepAlive(true, 0, 0, 0);

  /** Checks the components. */
  public TcpKeepAlive {
    if (idleSeconds < 0 || intervalSeconds < 0 || count < 0) {
      throw new IllegalArgumentException("tcp keepalive: negative value (expected: >= 0)");
    }
  }

  /** Keepalive with explicit timers. */
  public static TcpKeepAlive of(int idleSeconds, int intervalSeconds, int count) {
    if (idleSeconds <= 0 || intervalSeconds <= 0 || count <= 0) {
      throw new IllegalArgumentException("tcp keepalive: " + idleSeconds + ":" + intervalSeconds + ":" + count
          + " (expected: all > 0)");
    }
    return new TcpKeepAlive(true, idleSeconds, intervalSeconds, count);
  }

  /**
   * Parses {@code on}, {@code off} or {@code idle:interval:count}.
   *
   * @throws IllegalArgumentException for anything else
   */
  public static TcpKeepAlive parse(String text) {
    requireNonNull(text, "text");
    String s = text.trim().toLowerCase(java.util.Locale.ROOT);
    if (s.equals("on")) {
      return ON;
    }
    if (s.equals("off")) {
      return OFF;
    }
    String[] parts = s.split(":", -1);
    if (parts.length == 3) {
      try {
        return of(Integer.parseInt(parts[0]), Integer.parseInt(parts[1]), Integer.parseInt(parts[2]));
      } catch (NumberFormatException e) {
        // fall through to the error below
      }
    }
    throw new IllegalArgumentException("tcp keepalive: " + text + " (expected: on, off or idle:interval:count)");
  }

  @Override
  public String toString() {
    if (!enabled) {
      return "off";
    }
    return idleSeconds == 0 ? "on" : idleSeconds + ":" + intervalSeconds + ":" + count;
  }
}
