package dev.conduit.mitm.cache;

import java.io.IOException;

/** A download could not be stored (incomplete body, too large, cache closed, I/O failure). */
public class CacheException extends IOException {

  /** Creates an exception with a message. */
  public CacheException(String message) {
    super(message);
  }

  /** Creates an exception with a message and a cause. */
  public CacheException(String message, Throwable cause) {
    super(message, cause);
  }
}
