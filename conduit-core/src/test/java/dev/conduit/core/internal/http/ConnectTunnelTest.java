package dev.conduit.core.internal.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.DialFailure;
import dev.conduit.core.inbound.HttpInboundOptions;
import dev.conduit.core.observe.Outcome;
import dev.conduit.core.testing.RecordingInboundContext;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import org.junit.jupiter.api.Test;

/** CONNECT on an {@link EmbeddedChannel}: what the client gets when the dial fails or the client leaves first. */
class ConnectTunnelTest {
  private final RecordingInboundContext context = new RecordingInboundContext();

  private EmbeddedChannel channel() {
    EmbeddedChannel ch = new EmbeddedChannel();
    HttpInbound.install(ch, context, HttpInboundOptions.defaults());
    return ch;
  }

  private static String written(EmbeddedChannel ch) {
    return new String(RecordingInboundContext.written(ch), StandardCharsets.ISO_8859_1);
  }

  @Test
  void aFailedDialIsAnsweredWithItsStatusAndEarlyBytesAreReleased() {
    context.dials = new ArrayList<>();
    EmbeddedChannel ch = channel();
    ByteBuf early = Unpooled.copiedBuffer("CONNECT example.com:443 HTTP/1.1\r\n\r\nearly bytes",
        StandardCharsets.ISO_8859_1);
    ch.writeInbound(early);
    assertThat(written(ch)).as("nothing before the dial completes").isEmpty();
    context.dials.get(0).setFailure(new dev.conduit.core.DialException(DialFailure.TIMEOUT, "dial timed out"));
    assertThat(written(ch)).startsWith("HTTP/1.1 504 Gateway Timeout").contains("error=connection_timeout");
    assertThat(ch.isOpen()).isFalse();
    assertThat(context.outcomes).containsExactly(Outcome.DIAL_FAILED);
    assertThat(context.relayed).isEmpty();
    ch.finishAndReleaseAll(); // paranoid leak detection fails the build if the early bytes leaked
  }

  @Test
  void anOverloadedConduitAnswers503WithRetryAfter() {
    context.dials = new ArrayList<>();
    EmbeddedChannel ch = channel();
    ch.writeInbound(Unpooled.copiedBuffer("CONNECT example.com:443 HTTP/1.1\r\n\r\n", StandardCharsets.ISO_8859_1));
    context.dials.get(0).setFailure(new dev.conduit.core.DialException(DialFailure.OVERLOADED, "conduit is overloaded"));
    assertThat(written(ch)).startsWith("HTTP/1.1 503 Service Unavailable").contains("Retry-After: 5");
    assertThat(context.outcomes).containsExactly(Outcome.REJECTED);
    ch.finishAndReleaseAll();
  }

  @Test
  void aClientGoneBeforeTheDialCompletesClosesTheUpstream() {
    context.dials = new ArrayList<>();
    EmbeddedChannel ch = channel();
    ch.writeInbound(Unpooled.copiedBuffer("CONNECT example.com:443 HTTP/1.1\r\n\r\nearly", StandardCharsets.ISO_8859_1));
    ch.close();
    EmbeddedChannel up = new EmbeddedChannel();
    var r = context.requests.get(0);
    context.dials.get(0).setSuccess(new dev.conduit.core.inbound.Upstream(up, r, "default", "direct",
        new java.net.InetSocketAddress("192.0.2.7", 443)));
    assertThat(up.isOpen()).isFalse();
    assertThat(context.relayed).isEmpty();
    ch.finishAndReleaseAll();
    up.finishAndReleaseAll();
  }
}
