package dev.conduit.netfilter;

/**
 * The kernel refused a socket option (or the channel cannot carry one). The message names the option,
 * the errno with its {@code strerror} text and a hint, e.g.
 * {@code "getsockopt(SO_ORIGINAL_DST) failed: errno 2 (No such file or directory): no conntrack entry:
 * connection was not redirected"}.
 */
public final class SocketOptionException extends NetfilterException {

  private static final long serialVersionUID = 1L;

  private final String option;
  private final int errno;

  /**
   * Creates an exception.
   *
   * @param option the socket option, e.g. {@code "SO_MARK"}
   * @param errno the errno reported by the kernel, or 0 when the failure is not an errno
   * @param message the full message
   */
  public SocketOptionException(String option, int errno, String message) {
    super(message);
    this.option = option;
    this.errno = errno;
  }

  /** Returns the socket option that failed, e.g. {@code "SO_ORIGINAL_DST"}. */
  public String option() {
    return option;
  }

  /** Returns the errno reported by the kernel, or 0 when the failure was not a kernel error. */
  public int errno() {
    return errno;
  }
}
