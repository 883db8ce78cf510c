package dev.conduit.core.control.store;

import static java.util.Objects.requireNonNull;

import java.util.Locale;

/** What a node runs: the tunnel client (capture), the tunnel server, or both. */
public enum NodeRole {
  /** Captures local connections and tunnels them to peers. */
  CLIENT,
  /** Accepts tunnels from peers. */
  SERVER,
  /** Both. */
  BOTH;

  /**
   * Parses {@code client}, {@code server} or {@code both} (any case).
   *
   * @throws IllegalArgumentException for anything else
   */
  public static NodeRole parse(String text) {
    requireNonNull(text, "text");
    switch (text.trim().toLowerCase(Locale.ROOT)) {
      case "client":
        return CLIENT;
      case "server":
        return SERVER;
      case "both":
        return BOTH;
      default:
        throw new IllegalArgumentException("role: '" + text + "' (expected: client, server or both)");
    }
  }

  /** Returns the lower-case name, as configuration and JSON write it. */
  public String text() {
    return name().toLowerCase(Locale.ROOT);
  }
}
