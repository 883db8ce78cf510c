package dev.conduit.core.internal.tunnel;

import static dev.conduit.core.testing.RecordingInboundContext.written;
import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.ConduitPipeline;
import dev.conduit.core.Destination;
import dev.conduit.core.DialException;
import dev.conduit.core.DialFailure;
import dev.conduit.core.inbound.OriginalDestinationResolver;
import dev.conduit.core.inbound.Upstream;
import dev.conduit.core.observe.Outcome;
import dev.conduit.core.testing.AddressedChannel;
import dev.conduit.core.testing.RecordingInboundContext;
import dev.conduit.core.tunnel.ForwardEntry;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Port forwarding on an EmbeddedChannel: which entry takes a connection, early bytes, dial failures. */
class ForwardInboundTest {
  private static final InetSocketAddress LISTENER = new InetSocketAddress("127.0.0.1", 8022);
  private static final InetSocketAddress CLIENT = new InetSocketAddress("127.0.0.1", 40000);

  private final RecordingInboundContext context = new RecordingInboundContext();
  private final List<EmbeddedChannel> channels = new ArrayList<>();

  @AfterEach
  void finish() {
    for (EmbeddedChannel ch : channels) {
      ch.finishAndReleaseAll();
    }
  }

  private EmbeddedChannel accept(List<ForwardEntry> entries, OriginalDestinationResolver resolver) {
    EmbeddedChannel ch = AddressedChannel.of(LISTENER, CLIENT);
    channels.add(ch);
    new ForwardInbound(entries, resolver).init(ch, context);
    return ch;
  }

  private static OriginalDestinationResolver redirectedTo(String ip, int port) {
    return channel -> Optional.of(new InetSocketAddress(ip, port));
  }

  private Destination dialed() {
    assertThat(context.requests).hasSize(1);
    return context.requests.get(0).destination();
  }

  @Test
  void aLocalListenerTakesTheEntryOfItsPortAndRelaysEarlyBytesFirst() {
    context.dials = new ArrayList<>();
    EmbeddedChannel ch = accept(List.of(ForwardEntry.parse(":9000", "10.0.0.9:9000"),
        ForwardEntry.parse(":8022", "10.0.0.22:22")), OriginalDestinationResolver.NONE);
    assertThat(dialed()).isEqualTo(Destination.of("10.0.0.22", 22));

    ch.writeInbound(Unpooled.copiedBuffer("SSH-2.0-client\r\n", StandardCharsets.US_ASCII)); // before the dial ends
    EmbeddedChannel upCh = new EmbeddedChannel();
    channels.add(upCh);
    context.dials.get(0).setSuccess(new Upstream(upCh, context.requests.get(0), "default", "direct",
        new InetSocketAddress("10.0.0.22", 22)));

    assertThat(new String(written(upCh), StandardCharsets.US_ASCII)).isEqualTo("SSH-2.0-client\r\n");
    assertThat(context.relayed).hasSize(1);
    assertThat(ch.pipeline().get(ConduitPipeline.TUNNEL_FORWARD)).isNull();
  }

  @Test
  void theOnlyEntryTakesAnyPort() {
    context.dials = new ArrayList<>();
    accept(List.of(ForwardEntry.parse(":9000", "10.0.0.9:9000")), OriginalDestinationResolver.NONE);
    assertThat(dialed()).isEqualTo(Destination.of("10.0.0.9", 9000));
  }

  @Test
  void aRedirectedConnectionTakesTheExactEntryBeforeThePortEntry() {
    context.dials = new ArrayList<>();
    List<ForwardEntry> entries = List.of(ForwardEntry.parse(":443", "10.0.0.1:443"),
        ForwardEntry.parse("192.0.2.7:443", "10.0.0.7:443"));
    accept(entries, redirectedTo("192.0.2.7", 443));
    assertThat(dialed()).isEqualTo(Destination.of("10.0.0.7", 443));

    RecordingInboundContext other = new RecordingInboundContext();
    other.dials = new ArrayList<>();
    EmbeddedChannel ch = AddressedChannel.of(LISTENER, CLIENT);
    channels.add(ch);
    new ForwardInbound(entries, redirectedTo("192.0.2.8", 443)).init(ch, other);
    assertThat(other.requests).singleElement()
        .satisfies(r -> assertThat(r.destination()).isEqualTo(Destination.of("10.0.0.1", 443)));
  }

  @Test
  void aConnectionNoEntryTakesIsRejectedAndClosed() {
    EmbeddedChannel ch = accept(List.of(ForwardEntry.parse(":9000", "10.0.0.9:9000"),
        ForwardEntry.parse(":9001", "10.0.0.9:9001")), OriginalDestinationResolver.NONE);
    assertThat(context.requests).isEmpty();
    assertThat(context.outcomes).containsExactly(Outcome.REJECTED);
    assertThat(context.details.get(0)).contains("listener's port 8022");
    assertThat(ch.isActive()).isFalse();
  }

  @Test
  void aResolverThatThrowsCountsAsNotRedirected() {
    context.dials = new ArrayList<>();
    accept(List.of(ForwardEntry.parse(":8022", "10.0.0.22:22")), channel -> {
      throw new IllegalStateException("no SO_ORIGINAL_DST here");
    });
    assertThat(dialed()).isEqualTo(Destination.of("10.0.0.22", 22));
  }

  @Test
  void aFailedDialClosesTheClientAndReleasesItsEarlyBytes() {
    context.dials = new ArrayList<>();
    EmbeddedChannel ch = accept(List.of(ForwardEntry.parse(":8022", "10.0.0.22:22")), OriginalDestinationResolver.NONE);
    ByteBuf early = Unpooled.copiedBuffer("hello", StandardCharsets.US_ASCII);
    ch.writeInbound(early);
    context.dials.get(0).setFailure(new DialException(DialFailure.CONNECTION_REFUSED, "connection refused"));
    assertThat(context.outcomes).containsExactly(Outcome.DIAL_FAILED);
    assertThat(ch.isActive()).isFalse();
    assertThat(early.refCnt()).isZero();
    assertThat(written(ch)).isEmpty(); // a raw TCP client is told by the reset only
  }
}
