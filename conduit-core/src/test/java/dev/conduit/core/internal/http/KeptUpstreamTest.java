package dev.conduit.core.internal.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.ConnectRequest;
import dev.conduit.core.ConnectionInfo;
import dev.conduit.core.Destination;
import dev.conduit.core.inbound.Upstream;
import dev.conduit.core.testing.RecordingInboundContext;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.LastHttpContent;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The kept upstream between two {@link EmbeddedChannel}s: events, reuse, back-pressure, release. */
class KeptUpstreamTest {
  private final List<String> events = new ArrayList<>();
  private final RecordingInboundContext context = new RecordingInboundContext();

  private final KeptUpstream.Events recorder = new KeptUpstream.Events() {
    @Override
    public void response(HttpResponse response) {
      events.add("response " + response.status().code());
    }

    @Override
    public void content(HttpContent content) {
      events.add((content instanceof LastHttpContent ? "last " : "content ")
          + content.content().toString(StandardCharsets.ISO_8859_1));
      content.release();
    }

    @Override
    public void readComplete() {
      events.add("read complete");
    }

    @Override
    public void closed(Channel channel) {
      events.add("closed");
    }
  };

  private KeptUpstream kept(EmbeddedChannel downstream) {
    KeptUpstream[] k = new KeptUpstream[1];
    downstream.pipeline().addLast(new ChannelInboundHandlerAdapter() {
      @Override
      public void handlerAdded(ChannelHandlerContext ctx) {
        k[0] = new KeptUpstream(ctx, recorder, "t");
      }
    });
    return k[0];
  }

  private static Upstream upstream(EmbeddedChannel ch, String host, int port) {
    ConnectionInfo info = new ConnectionInfo("t", "http", "http", new InetSocketAddress("127.0.0.1", 40000),
        new InetSocketAddress("127.0.0.1", 8080), Instant.now());
    return new Upstream(ch, ConnectRequest.of(info, Destination.of(host, port)), "default", "direct",
        new InetSocketAddress("192.0.2.7", port));
  }

  @Test
  void responsesReachTheEventsAndTheUpstreamServesItsOwnAuthorityOnly() {
    EmbeddedChannel down = new EmbeddedChannel();
    KeptUpstream kept = kept(down);
    EmbeddedChannel up = new EmbeddedChannel();
    kept.attach(upstream(up, "example.com", 80), "example.com", null, Destination.of("example.com", 80));
    assertThat(up.pipeline().get(KeptUpstream.CODEC)).isNotNull();
    assertThat(up.pipeline().get(KeptUpstream.HANDLER)).isNotNull();

    RequestTarget same = new RequestTarget();
    same.parseAbsolute("http://example.com/x");
    RequestTarget other = new RequestTarget();
    other.parseAbsolute("http://example.org/x");
    assertThat(kept.servesFor(same, null, context)).isTrue();
    assertThat(kept.servesFor(same, "alice", context)).as("another principal").isFalse();
    assertThat(kept.servesFor(other, null, context)).isFalse();

    // the client codec pairs responses with requests: send one first
    kept.write(new io.netty.handler.codec.http.DefaultFullHttpRequest(io.netty.handler.codec.http.HttpVersion.HTTP_1_1,
        io.netty.handler.codec.http.HttpMethod.GET, "/x"));
    kept.flush();
    up.releaseOutbound();
    up.writeInbound(Unpooled.copiedBuffer("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi", StandardCharsets.ISO_8859_1));
    assertThat(events).containsExactly("response 200", "last hi", "read complete");

    up.close();
    assertThat(events).endsWith("closed");
    kept.forget();
    assertThat(kept.channel()).isNull();
    assertThat(kept.servesFor(same, null, context)).isFalse();
    down.finishAndReleaseAll();
    up.finishAndReleaseAll();
  }

  @Test
  void aForgottenUpstreamsEventsAreDropped() {
    EmbeddedChannel down = new EmbeddedChannel();
    KeptUpstream kept = kept(down);
    EmbeddedChannel up = new EmbeddedChannel();
    kept.attach(upstream(up, "example.com", 80), "example.com", null, Destination.of("example.com", 80));
    Upstream taken = kept.forget();
    assertThat(taken.channel()).isSameAs(up);
    up.writeInbound(Unpooled.copiedBuffer("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", StandardCharsets.ISO_8859_1));
    assertThat(events).isEmpty();
    KeptUpstream.removeHandlers(up);
    assertThat(up.pipeline().get(KeptUpstream.CODEC)).isNull();
    down.finishAndReleaseAll();
    up.finishAndReleaseAll();
  }

  @Test
  void theClientIsReadOnlyWhileTheUpstreamIsWritable() {
    EmbeddedChannel down = new EmbeddedChannel();
    down.config().setAutoRead(false);
    int[] reads = {0};
    down.pipeline().addFirst(new io.netty.channel.ChannelOutboundHandlerAdapter() {
      @Override
      public void read(ChannelHandlerContext ctx) {
        reads[0]++;
        ctx.read();
      }
    });
    KeptUpstream kept = kept(down);
    EmbeddedChannel up = new EmbeddedChannel();
    up.config().setWriteBufferWaterMark(new io.netty.channel.WriteBufferWaterMark(1, 2));
    kept.attach(upstream(up, "example.com", 80), "example.com", null, Destination.of("example.com", 80));
    kept.readDownstream();
    assertThat(reads[0]).isEqualTo(1);
    // fill the upstream's buffer past its water mark without flushing: unwritable
    up.unsafe().outboundBuffer().addMessage(Unpooled.copiedBuffer("xxxx", StandardCharsets.US_ASCII), 4,
        up.newPromise());
    assertThat(up.isWritable()).isFalse();
    kept.readDownstream();
    assertThat(reads[0]).as("held while the upstream is full").isEqualTo(1);
    up.flush(); // drains: writable again, and the held read goes ahead
    assertThat(up.isWritable()).isTrue();
    assertThat(reads[0]).isEqualTo(2);
    up.releaseOutbound();
    down.finishAndReleaseAll();
    up.finishAndReleaseAll();
  }
}
