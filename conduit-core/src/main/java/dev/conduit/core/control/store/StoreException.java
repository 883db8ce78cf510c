package dev.conduit.core.control.store;

/** The store failed: the database is unreachable, a migration failed, or a statement failed. */
public final class StoreException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** Creates an exception with a message and its cause. */
  public StoreException(String message, Throwable cause) {
    super(message, cause);
  }

  /** Creates an exception with a message. */
  public StoreException(String message) {
    super(message);
  }
}
