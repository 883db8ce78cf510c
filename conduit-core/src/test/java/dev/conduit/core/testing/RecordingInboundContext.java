package dev.conduit.core.testing;

import dev.conduit.core.ConnectRequest;
import dev.conduit.core.ConnectionInfo;
import dev.conduit.core.DialException;
import dev.conduit.core.DialFailure;
import dev.conduit.core.Timeouts;
import dev.conduit.core.inbound.InboundContext;
import dev.conduit.core.inbound.Upstream;
import dev.conduit.core.observe.Outcome;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ImmediateEventExecutor;
import io.netty.util.concurrent.Promise;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * An {@link InboundContext} for protocol handler tests on an {@link EmbeddedChannel}: dials fail as told
 * ({@link #failure}), or, with {@link #dials} set, wait for the test to complete them; it records requests,
 * outcomes and relays.
 */
public final class RecordingInboundContext implements InboundContext {
  public final List<ConnectRequest> requests = new ArrayList<>();
  public final List<Outcome> outcomes = new ArrayList<>();
  public final List<String> details = new ArrayList<>();
  public final List<Upstream> relayed = new ArrayList<>();
  public DialFailure failure = DialFailure.CONNECTION_REFUSED;
  public Duration negotiation = Duration.ofSeconds(1);
  /** When set, dials return these promises for the test to complete. */
  public List<Promise<Upstream>> dials;
  public String principal;
  /** What {@link #overloaded()} answers. */
  public boolean overloaded;

  @Override
  public ConnectionInfo connection() {
    InetSocketAddress a = new InetSocketAddress("127.0.0.1", 1);
    return new ConnectionInfo("t1", "test", "http", a, a, Instant.EPOCH);
  }

  @Override
  public Timeouts timeouts() {
    return Timeouts.builder().negotiation(negotiation).build();
  }

  @Override
  public Future<Upstream> connect(ConnectRequest request) {
    requests.add(request);
    if (dials != null) {
      Promise<Upstream> p = ImmediateEventExecutor.INSTANCE.newPromise();
      dials.add(p);
      return p;
    }
    return ImmediateEventExecutor.INSTANCE.newFailedFuture(new DialException(failure, "dial failed: " + failure));
  }

  @Override
  public void relay(Upstream upstream) {
    if (dials == null) {
      throw new AssertionError("no relay expected");
    }
    relayed.add(upstream);
  }

  @Override
  public void outcome(Outcome outcome, String detail) {
    outcomes.add(outcome);
    details.add(detail);
  }

  @Override
  public boolean overloaded() {
    return overloaded;
  }

  @Override
  public void principal(String value) {
    principal = value;
  }

  /** Everything {@code ch} wrote so far, as bytes (the buffers are released). */
  public static byte[] written(EmbeddedChannel ch) {
    ByteBuf all = Unpooled.buffer();
    Object o;
    while ((o = ch.readOutbound()) != null) {
      all.writeBytes((ByteBuf) o);
      ReferenceCountUtil.release(o);
    }
    byte[] out = ByteBufUtil.getBytes(all);
    all.release();
    return out;
  }
}
