package dev.conduit.mitm.cache;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;

/**
 * A {@code Range} request header evaluated against a representation length (RFC 9110 §14.2).
 *
 * <ul>
 *   <li>{@link Outcome#FULL}: no header, a unit other than {@code bytes}, a syntax error, or more
 *       than {@link #MAX_RANGES} ranges. RFC 9110 lets a server ignore such a header: send 200 with
 *       the whole body.</li>
 *   <li>{@link Outcome#PARTIAL}: send 206 with {@link #ranges()}: one range as a single part with
 *       {@link ByteRange#contentRange}, several as {@code multipart/byteranges}
 *       ({@link MultipartByteranges}).</li>
 *   <li>{@link Outcome#UNSATISFIABLE}: no range overlaps the body: send 416 with
 *       {@code Content-Range:} {@link #unsatisfiedContentRange()}.</li>
 * </ul>
 * Unsatisfiable ranges in a list with satisfiable ones are dropped; suffix ranges longer than the
 * body and last positions past its end are clamped. When the ranges overlap or together ask for
 * more bytes than the body has, they are sorted and coalesced, so a request cannot make the
 * response larger than the body plus part headers.
 */
public final class RangeSpec {

  /** Larger range lists are ignored (whole body served) to bound multipart work. */
  public static final int MAX_RANGES = 100;

  /** How to answer. */
  public enum Outcome {
    /** Serve the whole body with 200. */
    FULL,
    /** Serve {@link RangeSpec#ranges()} with 206. */
    PARTIAL,
    /** Answer 416 with {@code Content-Range: bytes *}{@code /length}. */
    UNSATISFIABLE
  }

  private final Outcome outcome;
  private final List<ByteRange> ranges;
  private final long length;

  private RangeSpec(Outcome outcome, List<ByteRange> ranges, long length) {
    this.outcome = outcome;
    this.ranges = ranges;
    this.length = length;
  }

  /**
   * Evaluates {@code rangeHeader} against a body of {@code length} bytes.
   *
   * @param rangeHeader the {@code Range} header value, or {@code null} when absent
   * @param length the representation length
   * @throws IllegalArgumentException if {@code length < 0}
   */
  public static RangeSpec parse(String rangeHeader, long length) {
    if (length < 0) {
      throw new IllegalArgumentException("length: " + length + " (expected: >= 0)");
    }
    RangeSpec full = new RangeSpec(Outcome.FULL, List.of(), length);
    if (rangeHeader == null) {
      return full;
    }
    String h = rangeHeader.trim();
    int eq = h.indexOf('=');
    if (eq < 0 || !h.substring(0, eq).trim().equalsIgnoreCase("bytes")) {
      return full;
    }
    List<ByteRange> satisfiable = new ArrayList<>();
    int count = 0;
    for (String element : h.substring(eq + 1).split(",", -1)) {
      String spec = element.trim();
      if (spec.isEmpty()) {
        continue; // RFC 9110 §5.6.1: empty list elements are allowed
      }
      if (++count > MAX_RANGES) {
        return full;
      }
      int dash = spec.indexOf('-');
      if (dash < 0) {
        return full;
      }
      String a = spec.substring(0, dash).trim();
      String b = spec.substring(dash + 1).trim();
      if (a.isEmpty()) {
        long suffix = number(b);
        if (suffix < 0) {
          return full;
        }
        if (suffix > 0 && length > 0) {
          satisfiable.add(new ByteRange(Math.max(0, length - suffix), length - 1));
        }
      } else {
        long first = number(a);
        long last = b.isEmpty() ? Long.MAX_VALUE : number(b);
        if (first < 0 || last < 0 || last < first) {
          return full; // invalid range-spec: the whole header is invalid
        }
        if (first < length) {
          satisfiable.add(new ByteRange(first, Math.min(last, length - 1)));
        }
      }
    }
    if (count == 0) {
      return full;
    }
    if (satisfiable.isEmpty()) {
      return new RangeSpec(Outcome.UNSATISFIABLE, List.of(), length);
    }
    return new RangeSpec(Outcome.PARTIAL, Collections.unmodifiableList(coalesceIfNeeded(satisfiable, length)),
        length);
  }

  /** How to answer. */
  public Outcome outcome() {
    return outcome;
  }

  /** The ranges to send for {@link Outcome#PARTIAL}, in order; empty otherwise. */
  public List<ByteRange> ranges() {
    return ranges;
  }

  /** The representation length the header was evaluated against. */
  public long length() {
    return length;
  }

  /** The {@code Content-Range} value for a 416 answer: {@code bytes *}{@code /length}. */
  public String unsatisfiedContentRange() {
    return "bytes */" + length;
  }

  @Override
  public String toString() {
    return "RangeSpec{" + outcome + ", " + ranges + ", length=" + length + '}';
  }

  /** Parses 1*DIGIT; -1 if not digits; saturates at Long.MAX_VALUE for huge values. */
  private static long number(String s) {
    if (s.isEmpty()) {
      return -1;
    }
    long v = 0;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c < '0' || c > '9') {
        return -1;
      }
      if (v > (Long.MAX_VALUE - (c - '0')) / 10) {
        v = Long.MAX_VALUE;
      } else {
        v = v * 10 + (c - '0');
      }
    }
    return v;
  }

  private static List<ByteRange> coalesceIfNeeded(List<ByteRange> in, long length) {
    List<ByteRange> sorted = new ArrayList<>(in);
    sorted.sort(Comparator.comparingLong(ByteRange::first));
    long total = 0;
    boolean overlap = false;
    for (int i = 0; i < sorted.size(); i++) {
      total += sorted.get(i).length();
      if (i > 0 && sorted.get(i).first() <= sorted.get(i - 1).last()) {
        overlap = true;
      }
    }
    if (!overlap && total <= length) {
      return in;
    }
    List<ByteRange> out = new ArrayList<>();
    ByteRange cur = sorted.get(0);
    for (int i = 1; i < sorted.size(); i++) {
      ByteRange r = sorted.get(i);
      if (r.first() <= cur.last() + 1) {
        cur = new ByteRange(cur.first(), Math.max(cur.last(), r.last()));
      } else {
        out.add(cur);
        cur = r;
      }
    }
    out.add(cur);
    return out;
  }
}
