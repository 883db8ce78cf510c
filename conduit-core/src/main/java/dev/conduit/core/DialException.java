package dev.conduit.core;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import org.jspecify.annotations.Nullable;

/** A failed route or dial, with the {@link DialFailure} that inbound protocols report. */
public final class DialException extends IOException {
  private static final long serialVersionUID = 1L;

  /** What kind of failure: it decides the reply to the client. */
  private final DialFailure failure;

  /** A failure of kind {@code failure}, explained by {@code message}. */
  public DialException(DialFailure failure, String message) {
    super(message);
    this.failure = requireNonNull(failure, "failure");
  }

  /** As {@link #DialException(DialFailure, String)}, caused by {@code cause} (may be unknown: {@code null}). */
  public DialException(DialFailure failure, String message, @Nullable Throwable cause) {
    super(message, cause);
    this.failure = requireNonNull(failure, "failure");
  }

  /** Why the dial failed. */
  public DialFailure failure() {
    return failure;
  }
}
