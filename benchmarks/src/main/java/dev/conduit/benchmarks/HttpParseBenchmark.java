package dev.conduit.benchmarks;

import dev.conduit.core.inbound.HttpInboundOptions;
import dev.conduit.core.internal.http.HttpInbound;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.HttpRequestEncoder;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpRequestDecoder;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * CPU time per proxied HTTP request head in the codec layer ({@code ns/op}, lower is better): a
 * typical browser-like absolute-form {@code GET http://host/path} with 9 headers (about 600 bytes).
 *
 * <ul>
 *   <li>{@code decode}: {@link HttpRequestDecoder} (the decoding half of {@code HttpServerCodec}; the
 *       codec itself would queue one entry per request until a response is encoded) turns the bytes
 *       into a request and its (empty) last content, as conduit's HTTP inbound sees them;</li>
 *   <li>{@code decodeRewriteEncode}: decode, then what a forward proxy does to the head (absolute-form
 *       to origin-form, drop {@code Proxy-Connection}, add {@code Via}) and encode it with
 *       {@link HttpRequestEncoder} towards the origin (the encoding half of
 *       {@code HttpClientCodec}, which would queue the method until a response is decoded).</li>
 *   <li>{@code conduitForward}: one whole keep-alive exchange through conduit's HTTP inbound
 *       ({@code internal.http.HttpInbound}): the request bytes in from the client, routed through a
 *       fake {@link FakeInboundContext} (the first request dials, later ones reuse the kept upstream),
 *       rewritten and encoded to the upstream; then a 1 KiB {@code 200} response from the upstream
 *       decoded and encoded back to the client. Everything but the sockets and the router.</li>
 * </ul>
 * Channels are long-lived (keep-alive), so channel setup is not included.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class HttpParseBenchmark {

  static final byte[] REQUEST = ("GET http://registry.example.com:8080/v2/library/alpine/manifests/3.20?arch=amd64 HTTP/1.1\r\n"
      + "Host: registry.example.com:8080\r\n"
      + "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n"
      + "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
      + "Accept-Language: en-US,en;q=0.5\r\n"
      + "Accept-Encoding: gzip, deflate\r\n"
      + "Proxy-Connection: keep-alive\r\n"
      + "Cookie: session=7f3a9c2b1e4d5f6a8b9c0d1e2f3a4b5c; theme=dark\r\n"
      + "Cache-Control: no-cache\r\n"
      + "If-None-Match: \"sha256:4bcff63911fcb4448bd4fdacec207030997caf25e9bea4045fa6c8c44de311d1\"\r\n"
      + "\r\n").getBytes(StandardCharsets.US_ASCII);

  static final byte[] RESPONSE;

  static {
    String head = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 1024\r\n"
        + "ETag: \"abc\"\r\n\r\n";
    byte[] h = head.getBytes(StandardCharsets.US_ASCII);
    RESPONSE = new byte[h.length + 1024];
    System.arraycopy(h, 0, RESPONSE, 0, h.length);
  }

  private ByteBuf request;
  private ByteBuf response;
  private EmbeddedChannel server;
  private EmbeddedChannel client;
  private EmbeddedChannel proxyClientSide;
  private EmbeddedChannel proxyUpstream;
  private FakeInboundContext context;


  /** Long-lived server and client codec channels. */
  @Setup
  public void setUp() {
    request = Unpooled.unreleasableBuffer(Unpooled.directBuffer(REQUEST.length).writeBytes(REQUEST));
    server = new EmbeddedChannel(new HttpRequestDecoder());
    client = new EmbeddedChannel(new HttpRequestEncoder());
    response = Unpooled.unreleasableBuffer(Unpooled.directBuffer(RESPONSE.length).writeBytes(RESPONSE));
    proxyUpstream = new EmbeddedChannel();
    context = new FakeInboundContext("http", 3128, proxyUpstream);
    proxyClientSide = new EmbeddedChannel();
    HttpInbound.install(proxyClientSide, context, HttpInboundOptions.defaults());
  }

  /** Closes the channels. */
  @TearDown
  public void tearDown() {
    server.finishAndReleaseAll();
    client.finishAndReleaseAll();
    proxyClientSide.finishAndReleaseAll();
    proxyUpstream.finishAndReleaseAll();
  }

  /** One keep-alive request and 1 KiB response through conduit's HTTP inbound. */
  @Benchmark
  public int conduitForward() {
    proxyClientSide.writeInbound(request.duplicate());
    int toOrigin = FakeInboundContext.drainOutbound(proxyUpstream);
    proxyUpstream.writeInbound(response.duplicate());
    int toClient = FakeInboundContext.drainOutbound(proxyClientSide);
    if (toOrigin == 0 || toClient < 1024 || context.dials != 1 || context.relays != 0) {
      throw new IllegalStateException("exchange incomplete: " + toOrigin + " bytes to the origin, " + toClient
          + " to the client, " + context.dials + " dials; pipeline " + proxyClientSide.pipeline().names());
    }
    return toOrigin + toClient;
  }


  /** Decode only. */
  @Benchmark
  public int decode() {
    HttpRequest head = decodeHead();
    int n = head.headers().size();
    ReferenceCountUtil.release(head);
    return n;
  }

  /** Decode, rewrite to origin-form and encode towards the origin. */
  @Benchmark
  public int decodeRewriteEncode() {
    HttpRequest head = decodeHead();
    URI uri = URI.create(head.uri());
    String originForm = uri.getRawQuery() == null ? uri.getRawPath() : uri.getRawPath() + "?" + uri.getRawQuery();
    head.setUri(originForm);
    head.headers().remove(HttpHeaderNames.PROXY_CONNECTION);
    head.headers().add(HttpHeaderNames.VIA, "1.1 conduit");
    client.writeOutbound(head, LastHttpContent.EMPTY_LAST_CONTENT);
    int bytes = 0;
    for (Object o; (o = client.readOutbound()) != null; ) {
      ByteBuf b = (ByteBuf) o;
      bytes += b.readableBytes();
      b.release();
    }
    return bytes;
  }

  private HttpRequest decodeHead() {
    server.writeInbound(request.duplicate());
    HttpRequest head = server.readInbound();
    Object last = server.readInbound();
    if (head == null || !(last instanceof LastHttpContent) || head.decoderResult().isFailure()) {
      throw new IllegalStateException("request not decoded: " + head + " / " + last);
    }
    ReferenceCountUtil.release(last);
    return head;
  }
}
