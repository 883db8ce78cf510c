package dev.conduit.core.egress;

import static java.util.Objects.requireNonNull;

/** A request the egress server refuses, with a one-line message for the caller and the reason as a {@link Kind}. */
public final class EgressException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  /** Why a request was refused. */
  public enum Kind {
    /** The input is malformed, too big, or names private or special-purpose space (HTTP 400). */
    INVALID(400),
    /** The entry is non-deletable (HTTP 403). */
    NOT_DELETABLE(403),
    /** There is no such entry (HTTP 404). */
    NOT_FOUND(404),
    /** The entry exists already (HTTP 409). */
    DUPLICATE(409);

    private final int httpStatus;

    Kind(int httpStatus) {
      this.httpStatus = httpStatus;
    }

    /** Returns the HTTP status the API answers with. */
    public int httpStatus() {
      return httpStatus;
    }
  }

  private final Kind kind;

  /**
   * Creates the exception.
   *
   * @param kind why
   * @param message one line for the caller
   */
  public EgressException(Kind kind, String message) {
    super(requireNonNull(message, "message"));
    this.kind = requireNonNull(kind, "kind");
  }

  /** Returns why the request was refused. */
  public Kind kind() {
    return kind;
  }
}
