package dev.conduit.core;

import static java.util.Objects.requireNonNull;

import java.io.IOException;

/** A failed route or dial, with the {@link DialFailure} that inbound protocols report. */
public final class DialException extends IOException {
  private static final long serialVersionUID = 1L;

  private final DialFailure failure;

  public DialException(DialFailure failure, String message) {
    super(message);
    this.failure = requireNonNull(failure, "failure");
  }

  public DialException(DialFailure failure, String message, Throwable cause) {
    super(message, cause);
    this.failure = requireNonNull(failure, "failure");
  }

  /** Why the dial failed. */
  public DialFailure failure() {
    return failure;
  }
}
