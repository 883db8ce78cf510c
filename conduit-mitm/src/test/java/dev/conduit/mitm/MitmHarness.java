package dev.conduit.mitm;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.ConnectRequest;
import dev.conduit.core.inbound.Upstream;
import dev.conduit.core.testing.Poll;
import dev.conduit.core.testing.RecordingInboundContext;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.FileRegion;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Promise;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * A {@link ProxyHandler} on an {@link EmbeddedChannel} (the client side) whose dials the test
 * answers with further embedded channels (the origins): the parts of the handler run with no socket.
 */
final class MitmHarness implements AutoCloseable {

  final RecordingInboundContext context = new RecordingInboundContext();
  final MitmProxy proxy;
  final EmbeddedChannel client = new EmbeddedChannel();
  final List<EmbeddedChannel> upstreams = new ArrayList<>();

  MitmHarness(MitmProxy proxy) {
    this.proxy = proxy;
    context.dials = new ArrayList<>();
    ProxyHandler.install(client, context, proxy);
  }

  /** Sends raw request bytes from the client. */
  void send(String request) {
    client.writeInbound(Unpooled.copiedBuffer(request, StandardCharsets.ISO_8859_1));
    client.runPendingTasks();
  }

  /** Answers dial number {@code index} with a new origin channel and returns it. */
  EmbeddedChannel answerDial(int index) {
    awaitTrue(() -> context.dials.size() > index);
    Promise<Upstream> p = context.dials.get(index);
    ConnectRequest request = context.requests.get(index);
    EmbeddedChannel origin = new EmbeddedChannel();
    upstreams.add(origin);
    p.setSuccess(new Upstream(origin, request, "test", "direct", new InetSocketAddress("127.0.0.1", 80)));
    client.runPendingTasks();
    return origin;
  }

  /** The bytes the handler wrote to an origin so far. */
  static String request(EmbeddedChannel origin) {
    origin.runPendingTasks();
    return new String(RecordingInboundContext.written(origin), StandardCharsets.ISO_8859_1);
  }

  /** An origin's response bytes arriving. */
  void respond(EmbeddedChannel origin, String response) {
    respond(origin, response.getBytes(StandardCharsets.ISO_8859_1));
  }

  void respond(EmbeddedChannel origin, byte[] response) {
    origin.writeInbound(Unpooled.wrappedBuffer(response));
    origin.runPendingTasks();
    client.runPendingTasks();
  }

  /** Everything written to the client so far (bytes and file regions), as text. */
  String written() {
    return new String(writtenBytes(), StandardCharsets.ISO_8859_1);
  }

  byte[] writtenBytes() {
    client.runPendingTasks();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    Object o;
    while ((o = client.readOutbound()) != null) {
      try {
        if (o instanceof ByteBuf b) {
          byte[] bytes = new byte[b.readableBytes()];
          b.getBytes(b.readerIndex(), bytes);
          out.writeBytes(bytes);
        } else if (o instanceof FileRegion region) {
          WritableByteChannel sink = new WritableByteChannel() {
            @Override
            public int write(ByteBuffer src) {
              int n = src.remaining();
              byte[] b = new byte[n];
              src.get(b);
              out.writeBytes(b);
              return n;
            }

            @Override
            public boolean isOpen() {
              return true;
            }

            @Override
            public void close() {
            }
          };
          while (region.transferred() < region.count()) {
            region.transferTo(sink, region.transferred());
          }
        }
      } catch (IOException e) {
        throw new AssertionError(e);
      } finally {
        ReferenceCountUtil.release(o);
      }
    }
    return out.toByteArray();
  }

  /** Polls (running the embedded loops' tasks) until {@code condition} holds, for up to 30 s. */
  void awaitTrue(BooleanSupplier condition) {
    // cache I/O completes on the cache's executor, and its results run as the embedded loops' tasks
    Poll.until("condition", Duration.ofSeconds(30), () -> {
      client.runPendingTasks();
      upstreams.forEach(EmbeddedChannel::runPendingTasks);
      return condition.getAsBoolean();
    });
  }

  /** Waits until the client received text containing {@code part}; returns all of it. */
  String awaitWritten(String part) {
    StringBuilder all = new StringBuilder();
    awaitTrue(() -> {
      all.append(written());
      return all.toString().contains(part);
    });
    return all.toString();
  }

  @Override
  public void close() {
    client.finishAndReleaseAll();
    upstreams.forEach(EmbeddedChannel::finishAndReleaseAll);
  }
}
