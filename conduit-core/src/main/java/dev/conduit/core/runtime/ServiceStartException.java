package dev.conduit.core.runtime;

import static java.util.Objects.requireNonNull;

/** A {@link Service} did not start; the runtime has closed the services started before it. */
public final class ServiceStartException extends Exception {
  private static final long serialVersionUID = 1L;

  /** The service that failed. */
  private final String service;

  /**
   * Wraps a start failure.
   *
   * @param service the name of the service that failed
   * @param cause what it threw
   */
  public ServiceStartException(String service, Throwable cause) {
    super(requireNonNull(service, "service") + ": " + message(cause), cause);
    this.service = service;
  }

  /** The name of the service that failed. */
  public String service() {
    return service;
  }

  private static String message(Throwable cause) {
    return cause.getMessage() == null ? cause.toString() : cause.getMessage();
  }
}
