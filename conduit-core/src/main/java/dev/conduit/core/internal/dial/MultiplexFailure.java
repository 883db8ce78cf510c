package dev.conduit.core.internal.dial;

import dev.conduit.core.DialException;

/**
 * A failed {@link Multiplexer} dial, and what the dialer should make of it: {@code endpointFailed} (the endpoint
 * could not be reached: back it off and fail over) and {@code retry} (another attempt may succeed: a pooled
 * connection died under the stream). A refusal by the server (a status other than 200) is neither.
 */
public final class MultiplexFailure extends Exception {
  private static final long serialVersionUID = 1L;

  private final transient DialException error;
  private final boolean endpointFailed;
  private final boolean retry;

  /** A failure reporting {@code error}; see the class comment for the flags. */
  public MultiplexFailure(DialException error, boolean endpointFailed, boolean retry) {
    super(error.getMessage(), error, false, false);
    this.error = error;
    this.endpointFailed = endpointFailed;
    this.retry = retry;
  }

  /** The error to report. */
  public DialException error() {
    return error;
  }

  /** Whether the endpoint itself failed (unreachable, TLS, no HTTP/2). */
  public boolean endpointFailed() {
    return endpointFailed;
  }

  /** Whether another attempt may succeed. */
  public boolean retry() {
    return retry;
  }
}
