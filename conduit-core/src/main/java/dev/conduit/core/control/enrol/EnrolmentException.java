package dev.conduit.core.control.enrol;

/**
 * A refused enrolment, renewal or operator request, with the HTTP status that says why: 400 malformed, 401 bad
 * or missing credentials (token), 403 not allowed (someone else's name, revoked), 404 no such node, 409 conflict
 * (name taken by another key), 429 too many pending nodes. Nothing was stored.
 */
public final class EnrolmentException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final int status;

  /** Creates a refusal with an HTTP status and a message for the requester. */
  public EnrolmentException(int status, String message) {
    super(message);
    if (status < 400 || status > 599) {
      throw new IllegalArgumentException("status: " + status + " (expected: 400-599)");
    }
    this.status = status;
  }

  /** Returns the HTTP status. */
  public int status() {
    return status;
  }
}
