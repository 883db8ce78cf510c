package dev.conduit.mitm.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.conduit.mitm.cache.RangeSpec.Outcome;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class RangeSpecTest {

  /** header; length; expected outcome; expected ranges "a-b a-b" (empty when none). */
  @ParameterizedTest(name = "{0} of {1}")
  @CsvSource(delimiter = ';', value = {
      // RFC 9110 §14.1.2 examples, representation of 10000 bytes
      "bytes=0-499;            10000; PARTIAL; 0-499",
      "bytes=500-999;          10000; PARTIAL; 500-999",
      "bytes=-500;             10000; PARTIAL; 9500-9999",
      "bytes=9500-;            10000; PARTIAL; 9500-9999",
      "bytes=0-0,-1;           10000; PARTIAL; 0-0 9999-9999",
      "bytes=500-600,601-999;  10000; PARTIAL; 500-600 601-999",
      "bytes=500-700,601-999;  10000; PARTIAL; 500-999",
      // clamping and dropping
      "bytes=0-99999;          10000; PARTIAL; 0-9999",
      "bytes=-20000;           10000; PARTIAL; 0-9999",
      "bytes=0-1,20000-30000;  10000; PARTIAL; 0-1",
      "BYTES = 1-2 , , 4-5 ;   10000; PARTIAL; 1-2 4-5",
      "bytes=0-99999999999999999999999; 10; PARTIAL; 0-9",
      // amplification: many overlapping full ranges coalesce
      "bytes=0-,0-,0-,0-;      10000; PARTIAL; 0-9999",
      "bytes=5-6,0-1;          10000; PARTIAL; 5-6 0-1",
      // unsatisfiable
      "bytes=10000-;           10000; UNSATISFIABLE;",
      "bytes=20000-30000;      10000; UNSATISFIABLE;",
      "bytes=-0;               10000; UNSATISFIABLE;",
      "bytes=0-;               0;     UNSATISFIABLE;",
      "bytes=-5;               0;     UNSATISFIABLE;",
      "bytes=99999999999999999999999-; 10; UNSATISFIABLE;",
      // ignored: absent semantics, other units, syntax errors
      "items=0-5;              10000; FULL;",
      "bytes=;                 10000; FULL;",
      "bytes=,;                10000; FULL;",
      "bytes=5-1;              10000; FULL;",
      "bytes=a-b;              10000; FULL;",
      "bytes=1;                10000; FULL;",
      "bytes=-;                10000; FULL;",
      "bytes=0-1,5-1;          10000; FULL;",
      "bytes=+1-2;             10000; FULL;",
      "bytes 0-1;              10000; FULL;",
  })
  void table(String header, long length, Outcome outcome, String expected) {
    RangeSpec spec = RangeSpec.parse(header, length);
    assertThat(spec.outcome()).isEqualTo(outcome);
    assertThat(format(spec.ranges())).isEqualTo(expected == null ? "" : expected);
    assertThat(spec.length()).isEqualTo(length);
  }

  @Test
  void absentHeaderMeansFullAndUnsatisfiedContentRange() {
    assertThat(RangeSpec.parse(null, 5).outcome()).isEqualTo(Outcome.FULL);
    assertThat(RangeSpec.parse("bytes=9-", 5).unsatisfiedContentRange()).isEqualTo("bytes */5");
    assertThatThrownBy(() -> RangeSpec.parse("bytes=0-1", -1)).hasMessage("length: -1 (expected: >= 0)");
  }

  @Test
  void tooManyRangesAreIgnored() {
    StringBuilder sb = new StringBuilder("bytes=");
    for (int i = 0; i <= RangeSpec.MAX_RANGES; i++) {
      sb.append(i == 0 ? "" : ",").append(i * 2).append('-').append(i * 2);
    }
    assertThat(RangeSpec.parse(sb.toString(), 100_000).outcome()).isEqualTo(Outcome.FULL);
  }

  @Test
  void multipartFraming() {
    List<ByteRange> ranges = RangeSpec.parse("bytes=0-0,-1", 10000).ranges();
    MultipartByteranges m = MultipartByteranges.of(ranges, 10000, "application/octet-stream", "THIS_STRING_SEPARATES");
    assertThat(m.contentType()).isEqualTo("multipart/byteranges; boundary=THIS_STRING_SEPARATES");
    String body = new String(m.partHeader(0), StandardCharsets.US_ASCII) + "A"
        + new String(m.partHeader(1), StandardCharsets.US_ASCII) + "Z"
        + new String(m.closingDelimiter(), StandardCharsets.US_ASCII);
    assertThat(body).isEqualTo("--THIS_STRING_SEPARATES\r\n"
        + "Content-Type: application/octet-stream\r\n"
        + "Content-Range: bytes 0-0/10000\r\n\r\n"
        + "A\r\n--THIS_STRING_SEPARATES\r\n"
        + "Content-Type: application/octet-stream\r\n"
        + "Content-Range: bytes 9999-9999/10000\r\n\r\n"
        + "Z\r\n--THIS_STRING_SEPARATES--\r\n");
    assertThat(m.contentLength()).isEqualTo(body.length());
    assertThat(MultipartByteranges.of(ranges, 10000, null).boundary()).startsWith("conduit-");
    assertThatThrownBy(() -> MultipartByteranges.of(List.of(), 1, null)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> MultipartByteranges.of(ranges, 1, null, "bad boundary"))
        .isInstanceOf(IllegalArgumentException.class);
  }

  private static String format(List<ByteRange> ranges) {
    StringBuilder sb = new StringBuilder();
    for (ByteRange r : ranges) {
      sb.append(sb.length() == 0 ? "" : " ").append(r.first()).append('-').append(r.last());
    }
    return sb.toString();
  }
}
