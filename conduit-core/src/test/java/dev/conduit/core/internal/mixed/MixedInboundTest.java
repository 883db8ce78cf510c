package dev.conduit.core.internal.mixed;

import static dev.conduit.core.testing.RecordingInboundContext.written;
import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.ConduitPipeline;
import dev.conduit.core.ConnectRequest;
import dev.conduit.core.ConnectionInfo;
import dev.conduit.core.DialException;
import dev.conduit.core.DialFailure;
import dev.conduit.core.Timeouts;
import dev.conduit.core.inbound.HttpInboundOptions;
import dev.conduit.core.inbound.InboundContext;
import dev.conduit.core.inbound.SocksInboundOptions;
import dev.conduit.core.inbound.Upstream;
import dev.conduit.core.internal.http.HttpInbound;
import dev.conduit.core.internal.socks.SocksInbound;
import dev.conduit.core.observe.Outcome;
import dev.conduit.core.testing.RecordingInboundContext;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.socksx.v5.Socks5InitialRequestDecoder;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ImmediateEventExecutor;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The mixed port's first-byte detection, on an {@link EmbeddedChannel} with the real HTTP and SOCKS handlers. */
class MixedInboundTest {

  private final RecordingInboundContext context = new RecordingInboundContext();
  private final List<String> started = new ArrayList<>();
  private final List<EmbeddedChannel> channels = new ArrayList<>();

  @AfterEach
  void finish() {
    for (EmbeddedChannel ch : channels) {
      ch.finishAndReleaseAll();
    }
  }

  private EmbeddedChannel mixed() {
    MixedInbound mixed = new MixedInbound(
        (ch, ctx) -> {
          started.add("http");
          HttpInbound.install(ch, ctx, HttpInboundOptions.defaults());
        },
        (ch, ctx) -> {
          started.add("socks");
          SocksInbound.install(ch, ctx, SocksInboundOptions.defaults());
        });
    EmbeddedChannel ch = new EmbeddedChannel();
    mixed.init(ch, context);
    channels.add(ch);
    assertThat(ch.pipeline().names()).contains(ConduitPipeline.MIXED_DETECT);
    return ch;
  }


  private static ByteBuf bytes(int... values) {
    ByteBuf b = Unpooled.buffer(values.length);
    for (int v : values) {
      b.writeByte(v);
    }
    return b;
  }

  /**
   * 0x05 starts SOCKS on its own, before the rest of the greeting (waiting for more could deadlock a
   * client whose greeting is three bytes); the greeting then gets the SOCKS5 answer "no auth".
   */
  @Test
  void socks5ByFirstByteAlone() {
    EmbeddedChannel ch = mixed();
    ch.writeInbound(bytes(0x05));
    assertThat(started).containsExactly("socks");
    // Netty's SOCKS detection also decides on the first byte: the SOCKS5 decoder is already in place
    assertThat(ch.pipeline().names()).doesNotContain(ConduitPipeline.MIXED_DETECT, ConduitPipeline.SOCKS_DETECT, HttpInbound.HANDLER)
        .contains(ConduitPipeline.SOCKS_HANDLER);
    assertThat(ch.pipeline().get(Socks5InitialRequestDecoder.class)).isNotNull();
    assertThat(written(ch)).isEmpty();
    ch.writeInbound(bytes(0x01, 0x00));
    assertThat(written(ch)).containsExactly(0x05, 0x00);
    assertThat(ch.isActive()).isTrue();
  }

  /** 0x04 starts SOCKS: a SOCKS4 CONNECT is dialed and its failure answered with 0x5B. */
  @Test
  void socks4ByFirstByte() {
    EmbeddedChannel ch = mixed();
    // VN=4 CD=1 port 80 ip 192.0.2.9 user "bob" NUL
    ch.writeInbound(bytes(0x04, 0x01, 0x00, 0x50, 192, 0, 2, 9, 'b', 'o', 'b', 0x00));
    assertThat(started).containsExactly("socks");
    assertThat(context.requests).singleElement()
        .satisfies(r -> assertThat(r.destination().toString()).isEqualTo("192.0.2.9:80"));
    byte[] reply = written(ch);
    assertThat(reply).hasSize(8);
    assertThat(reply[0]).isEqualTo((byte) 0x00);
    assertThat(reply[1]).isEqualTo((byte) 0x5B);
    assertThat(ch.isActive()).isFalse();
    assertThat(context.outcomes).containsExactly(Outcome.DIAL_FAILED);
  }

  /** An ASCII method letter starts HTTP: the request is parsed and dialed, the refusal answered with 502. */
  @Test
  void httpByMethodLetter() {
    EmbeddedChannel ch = mixed();
    ch.writeInbound(Unpooled.copiedBuffer("G", StandardCharsets.US_ASCII));
    assertThat(started).containsExactly("http");
    assertThat(ch.pipeline().names()).doesNotContain(ConduitPipeline.MIXED_DETECT, ConduitPipeline.SOCKS_DETECT)
        .contains(HttpInbound.CODEC, HttpInbound.HANDLER);
    ch.writeInbound(Unpooled.copiedBuffer("ET http://example.com:8080/ HTTP/1.1\r\n\r\n", StandardCharsets.US_ASCII));
    ch.runPendingTasks();
    assertThat(new String(written(ch), StandardCharsets.ISO_8859_1)).startsWith("HTTP/1.1 502 Bad Gateway\r\n");
    assertThat(context.requests).singleElement()
        .satisfies(r -> assertThat(r.destination().toString()).isEqualTo("example.com:8080"));
    assertThat(ch.isActive()).isFalse();
  }

  /** CONNECT's 'C' goes to HTTP as well, in the same read as the whole request. */
  @Test
  void httpConnectInOneRead() {
    EmbeddedChannel ch = mixed();
    ch.writeInbound(Unpooled.copiedBuffer("CONNECT example.com:443 HTTP/1.1\r\n\r\n", StandardCharsets.US_ASCII));
    ch.runPendingTasks();
    assertThat(started).containsExactly("http");
    assertThat(new String(written(ch), StandardCharsets.ISO_8859_1)).startsWith("HTTP/1.1 502 Bad Gateway\r\n");
    assertThat(context.requests).singleElement()
        .satisfies(r -> assertThat(r.destination().toString()).isEqualTo("example.com:443"));
  }

  /**
   * A garbage first byte (0xFF) is neither SOCKS version: it goes to HTTP, whose parser answers a
   * malformed request line with 400 and closes; nothing is dialed.
   */
  @Test
  void garbageFirstByteIs400AndClosed() {
    EmbeddedChannel ch = mixed();
    ch.writeInbound(bytes(0xFF, 0xFE, 0x00, 0x01, '\r', '\n', '\r', '\n'));
    ch.runPendingTasks();
    assertThat(started).containsExactly("http");
    assertThat(new String(written(ch), StandardCharsets.ISO_8859_1)).startsWith("HTTP/1.1 400 Bad Request\r\n")
        .contains("Connection: close\r\n");
    assertThat(ch.isActive()).isFalse();
    assertThat(context.requests).isEmpty();
    assertThat(context.outcomes).containsExactly(Outcome.PROTOCOL_ERROR);
  }

  /** A NUL first byte also goes to HTTP; a TLS ClientHello (0x16) too, and is answered 400. */
  @Test
  void nulAndTlsFirstBytesGoToHttp() {
    EmbeddedChannel nul = mixed();
    nul.writeInbound(bytes(0x00, 0x00, 'x', ' ', 'y', '\r', '\n', '\r', '\n'));
    nul.runPendingTasks();
    assertThat(new String(written(nul), StandardCharsets.ISO_8859_1)).startsWith("HTTP/1.1 400 ");
    assertThat(nul.isActive()).isFalse();

    EmbeddedChannel tls = mixed();
    tls.writeInbound(bytes(0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x03, '\r', '\n', '\r', '\n'));
    tls.runPendingTasks();
    assertThat(new String(written(tls), StandardCharsets.ISO_8859_1)).startsWith("HTTP/1.1 400 ");
    assertThat(tls.isActive()).isFalse();
    assertThat(started).containsExactly("http", "http");
    assertThat(context.requests).isEmpty();
  }

  /** A protocol that throws while starting closes this connection only, records ERROR, and leaks nothing. */
  @Test
  void protocolThatFailsToStartClosesTheConnection() {
    MixedInbound mixed = new MixedInbound(
        (ch, ctx) -> {
          throw new IllegalStateException("no HTTP today");
        },
        (ch, ctx) -> SocksInbound.install(ch, ctx, SocksInboundOptions.defaults()));
    EmbeddedChannel ch = new EmbeddedChannel();
    channels.add(ch);
    mixed.init(ch, context);
    ch.writeInbound(Unpooled.copiedBuffer("GET http://example.com/ HTTP/1.1\r\n\r\n", StandardCharsets.US_ASCII));
    assertThat(ch.isActive()).isFalse();
    assertThat(written(ch)).isEmpty();
    assertThat(context.outcomes).containsExactly(Outcome.ERROR);
    assertThat(context.details).singleElement().asString().isEqualTo(
        "http protocol failed to start: java.lang.IllegalStateException: no HTTP today");
    assertThat(context.requests).isEmpty();
  }
}
