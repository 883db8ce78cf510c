package dev.conduit.core.observe;

import java.util.Locale;

/**
 * How a downstream connection ended. Logs and metrics spell it the same way, in lower case
 * ({@link #label()}).
 */
public enum Outcome {
  /** Relayed or served, then closed by either side. */
  OK,
  /**
   * The client connected and closed without sending a byte: a browser's spare connection, a port
   * probe. Not a protocol error and not a handshake failure.
   */
  CLOSED_BEFORE_REQUEST,
  /** The client sent something that is not the protocol (answered with an error where possible). */
  PROTOCOL_ERROR,
  /** The client's credentials were missing or wrong. */
  AUTH_FAILED,
  /** A rule rejected the destination. */
  REJECTED,
  /** The destination could not be reached. */
  DIAL_FAILED,
  /** The client did not finish its handshake within the negotiation timeout. */
  NEGOTIATION_TIMEOUT,
  /** The tunnel carried nothing for the relay idle timeout. */
  IDLE_TIMEOUT,
  /** Closed by conduit's stop after the drain deadline, or through the admin API. */
  CLOSED_BY_CONDUIT,
  /** An I/O error ended it. */
  ERROR;

  private final String label = name().toLowerCase(Locale.ROOT);

  /** The name as logs and metrics write it: lower case ({@code ok}, {@code protocol_error}). */
  public String label() {
    return label;
  }
}
