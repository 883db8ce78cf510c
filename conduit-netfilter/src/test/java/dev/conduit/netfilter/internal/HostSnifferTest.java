package dev.conduit.netfilter.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;
import org.junit.jupiter.api.Test;

class HostSnifferTest {

  /** A real ClientHello from the JDK's TLS client, with SNI. */
  private static byte[] clientHello(String sni) throws Exception {
    SSLEngine engine = SSLContext.getDefault().createSSLEngine(sni, 443);
    engine.setUseClientMode(true);
    SSLParameters params = engine.getSSLParameters();
    params.setServerNames(List.of(new SNIHostName(sni)));
    engine.setSSLParameters(params);
    ByteBuffer out = ByteBuffer.allocate(engine.getSession().getPacketBufferSize());
    engine.wrap(ByteBuffer.allocate(0), out);
    out.flip();
    byte[] bytes = new byte[out.remaining()];
    out.get(bytes);
    return bytes;
  }

  private static HostSniffer.Result sniff(byte[] bytes, int length) {
    ByteBuf buf = Unpooled.wrappedBuffer(bytes, 0, length);
    try {
      HostSniffer.Result r = HostSniffer.sniff(buf, 8192);
      assertThat(buf.readerIndex()).isZero(); // peeked, not consumed
      return r;
    } finally {
      buf.release();
    }
  }

  @Test
  void findsSniInARealClientHelloAndNeedsMoreForEveryPrefix() throws Exception {
    byte[] hello = clientHello("Example.TEST");
    assertThat(sniff(hello, hello.length)).isEqualTo(new HostSniffer.Found("example.test"));
    for (int n : new int[] {1, 5, 40, hello.length - 1}) {
      assertThat(sniff(hello, n)).as("prefix %d", n).isInstanceOf(HostSniffer.NeedMore.class);
    }
  }

  @Test
  void findsClientHelloSplitAcrossTwoRecords() throws Exception {
    byte[] hello = clientHello("split.test");
    int body = hello.length - 5;
    int first = body / 2;
    byte[] split = new byte[hello.length + 5];
    System.arraycopy(hello, 0, split, 0, 5 + first);
    split[3] = (byte) (first >> 8);
    split[4] = (byte) first;
    System.arraycopy(hello, 0, split, 5 + first, 3);
    split[5 + first + 3] = (byte) ((body - first) >> 8);
    split[5 + first + 4] = (byte) (body - first);
    System.arraycopy(hello, 5 + first, split, 10 + first, body - first);
    assertThat(sniff(split, split.length)).isEqualTo(new HostSniffer.Found("split.test"));
  }

  @Test
  void findsHttpHostWithoutPort() {
    byte[] req = "GET /x HTTP/1.1\r\nUser-Agent: t\r\nHOST: Named.test:8080\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
    assertThat(sniff(req, req.length)).isEqualTo(new HostSniffer.Found("named.test"));
    assertThat(sniff(req, 20)).isInstanceOf(HostSniffer.NeedMore.class);
  }

  @Test
  void ipLiteralsGarbageAndMissingHostAreNotFound() {
    for (String text : List.of("GET / HTTP/1.1\r\nHost: 198.18.0.2\r\n\r\n", "GET / HTTP/1.1\r\nHost: [fd00::2]:80\r\n\r\n",
        "GET / HTTP/1.0\r\n\r\n", "SSH-2.0-OpenSSH\r\n", "\u0000\u0001binary")) {
      byte[] b = text.getBytes(StandardCharsets.ISO_8859_1);
      assertThat(sniff(b, b.length)).as(text).isInstanceOf(HostSniffer.NotFound.class);
    }
    byte[] tooLong = ("GET / HTTP/1.1\r\nX: " + "a".repeat(9000)).getBytes(StandardCharsets.US_ASCII);
    assertThat(sniff(tooLong, tooLong.length)).isInstanceOf(HostSniffer.NotFound.class);
  }

  @Test
  void truncatedLengthsInsideTheHelloAreNotFoundNotExceptions() throws Exception {
    byte[] hello = clientHello("bad.test");
    hello[5 + 4 + 2 + 32] = (byte) 200; // session id length beyond the message
    assertThat(sniff(hello, hello.length)).isInstanceOf(HostSniffer.NotFound.class);
  }
}
