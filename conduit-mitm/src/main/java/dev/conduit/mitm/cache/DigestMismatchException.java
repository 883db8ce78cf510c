package dev.conduit.mitm.cache;

/** The downloaded bytes do not match the digest of a content-addressed key; nothing was cached. */
public final class DigestMismatchException extends CacheException {

  private final String expected;
  private final String actual;

  /** Creates the exception for an {@code expected} and {@code actual} digest ({@code sha256:<hex>}). */
  public DigestMismatchException(String expected, String actual) {
    super("digest mismatch: expected " + expected + ", got " + actual);
    this.expected = expected;
    this.actual = actual;
  }

  /** The digest the bytes should have had. */
  public String expected() {
    return expected;
  }

  /** The digest of the bytes received. */
  public String actual() {
    return actual;
  }
}
