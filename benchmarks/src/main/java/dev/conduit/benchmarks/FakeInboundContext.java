package dev.conduit.benchmarks;

import dev.conduit.core.ConnectRequest;
import dev.conduit.core.ConnectionInfo;
import dev.conduit.core.Timeouts;
import dev.conduit.core.inbound.InboundContext;
import dev.conduit.core.inbound.Upstream;
import dev.conduit.core.observe.Outcome;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ImmediateEventExecutor;
import java.net.InetSocketAddress;
import java.time.Instant;

/**
 * An {@link InboundContext} for protocol benchmarks on embedded channels: every connect succeeds at once
 * with the given upstream channel, so routing, dialing and the kernel are excluded. Counts dials and
 * relays; a failed outcome throws, so a broken exchange cannot pass as a fast one.
 */
final class FakeInboundContext implements InboundContext {
  private final ConnectionInfo info;
  private final Channel upstream;
  int dials;
  int relays;

  FakeInboundContext(String protocol, int listenerPort, Channel upstream) {
    this.info = new ConnectionInfo("bench", protocol, protocol, new InetSocketAddress("127.0.0.1", 40000),
        new InetSocketAddress("127.0.0.1", listenerPort), Instant.EPOCH);
    this.upstream = upstream;
  }

  @Override
  public ConnectionInfo connection() {
    return info;
  }

  @Override
  public Timeouts timeouts() {
    return Timeouts.defaults();
  }

  @Override
  public Future<Upstream> connect(ConnectRequest request) {
    dials++;
    return ImmediateEventExecutor.INSTANCE.newSucceededFuture(
        new Upstream(upstream, request, "default", "direct", new InetSocketAddress("127.0.0.1", 8080)));
  }

  @Override
  public void relay(Upstream upstream) {
    relays++;
  }

  @Override
  public void outcome(Outcome outcome, String detail) {
    throw new IllegalStateException("exchange failed: " + outcome + " " + detail);
  }

  @Override
  public void principal(String principal) {}

  /** Reads and releases everything {@code ch} wrote; returns the byte count. */
  static int drainOutbound(EmbeddedChannel ch) {
    int n = 0;
    for (Object o; (o = ch.readOutbound()) != null; ) {
      ByteBuf b = (ByteBuf) o;
      n += b.readableBytes();
      b.release();
    }
    return n;
  }
}
