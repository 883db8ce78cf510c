package dev.conduit.mitm.cache;

/**
 * A satisfiable byte range of a representation, both ends inclusive (RFC 9110 §14.1.1).
 *
 * @param first offset of the first byte
 * @param last offset of the last byte ({@code >= first})
 */
public record ByteRange(long first, long last) {

  /**
   * Validates the range.
   *
   * @throws IllegalArgumentException if {@code first < 0} or {@code last < first}
   */
  public ByteRange {
    if (first < 0 || last < first) {
      throw new IllegalArgumentException("range: " + first + "-" + last + " (expected: 0 <= first <= last)");
    }
  }

  /** The number of bytes in the range. */
  public long length() {
    return last - first + 1;
  }

  /** The {@code Content-Range} value for a representation of {@code completeLength} bytes. */
  public String contentRange(long completeLength) {
    return "bytes " + first + "-" + last + "/" + completeLength;
  }
}
