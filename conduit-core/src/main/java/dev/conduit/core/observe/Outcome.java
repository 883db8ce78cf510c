package dev.conduit.core.observe;

/** How a downstream connection ended. */
public enum Outcome {
  /** Relayed or served, then closed by either side. */
  OK,
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
  ERROR
}
