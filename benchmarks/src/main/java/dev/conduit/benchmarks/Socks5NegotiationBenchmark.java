package dev.conduit.benchmarks;

import dev.conduit.core.inbound.SocksInboundOptions;
import dev.conduit.core.internal.socks.SocksInbound;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * CPU time of one SOCKS5 handshake in conduit's SOCKS server path ({@code us/op}, lower is better):
 * greeting (no auth) → method reply → CONNECT to an IPv4 literal or a domain name → success reply,
 * then the handlers remove themselves as they do before the relay starts.
 *
 * <p>Runs on an {@link EmbeddedChannel} with a fake {@link FakeInboundContext} whose connect succeeds at
 * once, so routing, dialing and the kernel are excluded: this is the Netty SOCKS codec plus
 * conduit's {@code SocksServerHandler} per handshake (including the channel and pipeline setup).
 * The end-to-end tunnel rate is in the e2e harness.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class Socks5NegotiationBenchmark {

  private static final byte[] GREETING = {5, 1, 0};
  private static final byte[] CONNECT_IPV4 = {5, 1, 0, 1, 127, 0, 0, 1, 0x1f, (byte) 0x90};
  private static final byte[] CONNECT_DOMAIN;

  static {
    byte[] name = "registry.example.com".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    CONNECT_DOMAIN = new byte[7 + name.length];
    CONNECT_DOMAIN[0] = 5;
    CONNECT_DOMAIN[1] = 1;
    CONNECT_DOMAIN[3] = 3;
    CONNECT_DOMAIN[4] = (byte) name.length;
    System.arraycopy(name, 0, CONNECT_DOMAIN, 5, name.length);
    CONNECT_DOMAIN[5 + name.length] = 0x01;
    CONNECT_DOMAIN[6 + name.length] = (byte) 0xbb;
  }

  private SocksInboundOptions options;
  private UpstreamChannel upstreamChannel;

  /** An embedded channel with an IP local address, as conduit's SOCKS5 reply carries the bound address. */
  static final class UpstreamChannel extends EmbeddedChannel {
    @Override
    protected SocketAddress localAddress0() {
      return new InetSocketAddress("127.0.0.1", 50000);
    }
  }


  /** The options and the shared upstream channel. */
  @Setup(Level.Trial)
  public void setUp() {
    options = SocksInboundOptions.defaults();
    upstreamChannel = new UpstreamChannel();
  }

  /** Closes the upstream channel. */
  @TearDown(Level.Trial)
  public void tearDown() {
    upstreamChannel.finishAndReleaseAll();
  }

  /** Handshake for {@code CONNECT 127.0.0.1:8080}. */
  @Benchmark
  public int connectIpv4() {
    return handshake(CONNECT_IPV4);
  }

  /** Handshake for {@code CONNECT registry.example.com:443}. */
  @Benchmark
  public int connectDomain() {
    return handshake(CONNECT_DOMAIN);
  }

  private int handshake(byte[] connect) {
    FakeInboundContext context = new FakeInboundContext("socks", 1080, upstreamChannel);
    EmbeddedChannel ch = new EmbeddedChannel();
    SocksInbound.install(ch, context, options);
    ch.writeInbound(Unpooled.wrappedBuffer(GREETING));
    int replied = FakeInboundContext.drainOutbound(ch);
    ch.writeInbound(Unpooled.wrappedBuffer(connect));
    replied += FakeInboundContext.drainOutbound(ch);
    if (context.relays != 1 || replied != 2 + 10) {
      throw new IllegalStateException("handshake did not complete: replied " + replied + " bytes, relays "
          + context.relays + ", pipeline " + ch.pipeline().names());
    }
    ch.finishAndReleaseAll();
    return replied;
  }

}
