package dev.conduit.netfilter;

import java.io.IOException;

/**
 * A netfilter or socket-option operation failed: a command exited non-zero, a tool is missing, or the
 * kernel refused a socket option. The message says what failed and, where known, how to fix it.
 */
public class NetfilterException extends IOException {

  private static final long serialVersionUID = 1L;

  /**
   * Creates an exception with a message.
   *
   * @param message what failed and how to fix it
   */
  public NetfilterException(String message) {
    super(message);
  }

  /**
   * Creates an exception with a message and a cause.
   *
   * @param message what failed and how to fix it
   * @param cause the underlying failure
   */
  public NetfilterException(String message, Throwable cause) {
    super(message, cause);
  }
}
