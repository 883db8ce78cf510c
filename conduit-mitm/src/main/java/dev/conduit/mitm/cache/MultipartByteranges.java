package dev.conduit.mitm.cache;

import static java.util.Objects.requireNonNull;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Framing of a {@code multipart/byteranges} 206 response (RFC 9110 §14.6), for writing part
 * headers as small buffers between zero-copy file regions:
 *
 * <pre>
 * for (int i = 0; i &lt; ranges.size(); i++) { write(partHeader(i)); write(region of ranges.get(i)); }
 * write(closingDelimiter());
 * </pre>
 * with response headers {@code Content-Type:} {@link #contentType()} and {@code Content-Length:}
 * {@link #contentLength()}.
 */
public final class MultipartByteranges {

  private final List<ByteRange> ranges;
  private final long completeLength;
  private final String partContentType;
  private final String boundary;

  private MultipartByteranges(List<ByteRange> ranges, long completeLength, String partContentType, String boundary) {
    this.ranges = ranges;
    this.completeLength = completeLength;
    this.partContentType = partContentType;
    this.boundary = boundary;
  }

  /**
   * Creates the framing with a random boundary.
   *
   * @param ranges the ranges to send (from {@link RangeSpec#ranges()})
   * @param completeLength the body length
   * @param partContentType the body's {@code Content-Type}, or {@code null} to omit it from parts
   * @throws IllegalArgumentException if {@code ranges} is empty
   */
  public static MultipartByteranges of(List<ByteRange> ranges, long completeLength, String partContentType) {
    return of(ranges, completeLength, partContentType,
        "conduit-" + Long.toHexString(ThreadLocalRandom.current().nextLong() | Long.MIN_VALUE));
  }

  /** As {@link #of(List, long, String)} with a given boundary (1-70 characters, RFC 2046 §5.1.1). */
  public static MultipartByteranges of(List<ByteRange> ranges, long completeLength, String partContentType,
      String boundary) {
    requireNonNull(ranges, "ranges");
    requireNonNull(boundary, "boundary");
    if (ranges.isEmpty()) {
      throw new IllegalArgumentException("ranges: empty (expected: at least one range)");
    }
    if (boundary.isEmpty() || boundary.length() > 70 || !boundary.matches("[0-9A-Za-z'()+_,./:=?-]+")) {
      throw new IllegalArgumentException("boundary: " + boundary + " (expected: 1-70 RFC 2046 bchars, no space)");
    }
    return new MultipartByteranges(List.copyOf(ranges), completeLength, partContentType, boundary);
  }

  /** The boundary string. */
  public String boundary() {
    return boundary;
  }

  /** The response {@code Content-Type}: {@code multipart/byteranges; boundary=…}. */
  public String contentType() {
    return "multipart/byteranges; boundary=" + boundary;
  }

  /** The bytes to write before part {@code i}'s body: delimiter and part headers. */
  public byte[] partHeader(int i) {
    ByteRange r = ranges.get(i);
    StringBuilder sb = new StringBuilder(96);
    sb.append(i == 0 ? "--" : "\r\n--").append(boundary).append("\r\n");
    if (partContentType != null) {
      sb.append("Content-Type: ").append(partContentType).append("\r\n");
    }
    sb.append("Content-Range: ").append(r.contentRange(completeLength)).append("\r\n\r\n");
    return sb.toString().getBytes(StandardCharsets.US_ASCII);
  }

  /** The bytes to write after the last part. */
  public byte[] closingDelimiter() {
    return ("\r\n--" + boundary + "--\r\n").getBytes(StandardCharsets.US_ASCII);
  }

  /** The total body length: every part header, part body and the closing delimiter. */
  public long contentLength() {
    long n = closingDelimiter().length;
    for (int i = 0; i < ranges.size(); i++) {
      n += partHeader(i).length + ranges.get(i).length();
    }
    return n;
  }

  /** The ranges, in order. */
  public List<ByteRange> ranges() {
    return ranges;
  }
}
