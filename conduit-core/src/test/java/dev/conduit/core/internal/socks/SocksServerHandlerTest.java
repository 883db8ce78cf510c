package dev.conduit.core.internal.socks;

import static dev.conduit.core.testing.RecordingInboundContext.written;
import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.ConduitPipeline;
import dev.conduit.core.Authenticator;
import dev.conduit.core.ConnectRequest;
import dev.conduit.core.ConnectionInfo;
import dev.conduit.core.Credentials;
import dev.conduit.core.Destination;
import dev.conduit.core.DialException;
import dev.conduit.core.DialFailure;
import dev.conduit.core.Timeouts;
import dev.conduit.core.inbound.InboundContext;
import dev.conduit.core.inbound.SocksInboundOptions;
import dev.conduit.core.inbound.Upstream;
import dev.conduit.core.observe.Outcome;
import dev.conduit.core.testing.RecordingInboundContext;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.socksx.v4.DefaultSocks4CommandRequest;
import io.netty.handler.codec.socksx.v4.Socks4ClientEncoder;
import io.netty.handler.codec.socksx.v4.Socks4CommandType;
import io.netty.handler.codec.socksx.v5.DefaultSocks5CommandRequest;
import io.netty.handler.codec.socksx.v5.DefaultSocks5InitialRequest;
import io.netty.handler.codec.socksx.v5.DefaultSocks5PasswordAuthRequest;
import io.netty.handler.codec.socksx.v5.Socks5AddressType;
import io.netty.handler.codec.socksx.v5.Socks5AuthMethod;
import io.netty.handler.codec.socksx.v5.Socks5ClientEncoder;
import io.netty.handler.codec.socksx.v5.Socks5CommandType;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The SOCKS protocol paths on an EmbeddedChannel, with input made by Netty's client encoders. */
class SocksServerHandlerTest {

  private static final Authenticator ALICE = Authenticator.of(new Credentials("alice", "s3cret"));

  private final List<EmbeddedChannel> channels = new ArrayList<>();

  @AfterEach
  void finish() {
    for (EmbeddedChannel ch : channels) {
      ch.finishAndReleaseAll();
    }
  }

  /** An InboundContext that records what the protocol did and lets the test complete the dial. */
  static final class FakeContext implements InboundContext {
    final List<ConnectRequest> requests = new ArrayList<>();
    final List<Upstream> relayed = new ArrayList<>();
    Promise<Upstream> pending;
    Outcome outcome = Outcome.OK;
    String detail = "";
    String principal;
    EmbeddedChannel channel;

    @Override
    public ConnectionInfo connection() {
      return new ConnectionInfo("t1", "socks", "socks", new InetSocketAddress("127.0.0.1", 40000),
          new InetSocketAddress("127.0.0.1", 1080), Instant.now());
    }

    @Override
    public Timeouts timeouts() {
      return Timeouts.defaults();
    }

    @Override
    public Future<Upstream> connect(ConnectRequest request) {
      requests.add(request);
      pending = channel.eventLoop().newPromise();
      return pending;
    }

    @Override
    public void relay(Upstream upstream) {
      relayed.add(upstream);
      // what the relay would receive: bytes after the handshake
      channel.pipeline().addLast("relay-probe", new ChannelInboundHandlerAdapter() {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
          ByteBuf b = (ByteBuf) msg;
          relayedBytes.append(b.toString(StandardCharsets.US_ASCII));
          b.release();
        }
      });
    }

    final StringBuilder relayedBytes = new StringBuilder();

    @Override
    public void outcome(Outcome value, String text) {
      if (outcome == Outcome.OK) {
        outcome = value;
        detail = text;
      }
    }

    @Override
    public void principal(String value) {
      principal = value;
    }
  }

  /** An upstream whose local address is a real socket address, as SOCKS5 replies carry it. */
  static final class FakeUpstreamChannel extends EmbeddedChannel {
    @Override
    protected SocketAddress localAddress0() {
      return new InetSocketAddress("127.0.0.1", 54321);
    }
  }

  private FakeContext context = new FakeContext();

  private EmbeddedChannel server(SocksInboundOptions options) {
    EmbeddedChannel ch = new EmbeddedChannel();
    context.channel = ch;
    SocksInbound.install(ch, context, options);
    channels.add(ch);
    return ch;
  }

  private static ByteBuf encode5(Object msg) {
    EmbeddedChannel enc = new EmbeddedChannel(Socks5ClientEncoder.DEFAULT);
    enc.writeOutbound(msg);
    ByteBuf b = enc.readOutbound();
    enc.finishAndReleaseAll();
    return b;
  }

  private static ByteBuf encode4(Object msg) {
    EmbeddedChannel enc = new EmbeddedChannel(Socks4ClientEncoder.INSTANCE);
    enc.writeOutbound(msg);
    ByteBuf b = enc.readOutbound();
    enc.finishAndReleaseAll();
    return b;
  }


  private static byte[] bytes(int... values) {
    byte[] b = new byte[values.length];
    for (int i = 0; i < values.length; i++) {
      b[i] = (byte) values[i];
    }
    return b;
  }

  @Test
  void greetingNoAuth() {
    EmbeddedChannel ch = server(SocksInboundOptions.defaults());
    ch.writeInbound(encode5(new DefaultSocks5InitialRequest(Socks5AuthMethod.NO_AUTH)));
    assertThat(written(ch)).containsExactly(bytes(5, 0));
    assertThat(ch.isActive()).isTrue();
  }

  @Test
  void greetingPasswordRequired() {
    EmbeddedChannel ch = server(SocksInboundOptions.builder().authenticator(ALICE).build());
    ch.writeInbound(encode5(new DefaultSocks5InitialRequest(Socks5AuthMethod.NO_AUTH, Socks5AuthMethod.PASSWORD)));
    assertThat(written(ch)).containsExactly(bytes(5, 2));
    assertThat(ch.isActive()).isTrue();
  }

  @Test
  void greetingWithoutAcceptableMethod() {
    EmbeddedChannel ch = server(SocksInboundOptions.builder().authenticator(ALICE).build());
    ch.writeInbound(encode5(new DefaultSocks5InitialRequest(Socks5AuthMethod.NO_AUTH, Socks5AuthMethod.GSSAPI)));
    assertThat(written(ch)).containsExactly(bytes(5, 0xFF));
    assertThat(ch.isActive()).isFalse();
    assertThat(context.outcome).isEqualTo(Outcome.AUTH_FAILED);
  }

  @Test
  void greetingWithNoMethodsAtAll() {
    EmbeddedChannel ch = server(SocksInboundOptions.defaults());
    ch.writeInbound(Unpooled.wrappedBuffer(bytes(5, 0)));
    assertThat(written(ch)).containsExactly(bytes(5, 0xFF));
    assertThat(ch.isActive()).isFalse();
  }

  @Test
  void passwordAuthSuccessThenConnect() {
    EmbeddedChannel ch = server(SocksInboundOptions.builder().authenticator(ALICE).build());
    ch.writeInbound(encode5(new DefaultSocks5InitialRequest(Socks5AuthMethod.PASSWORD)));
    assertThat(written(ch)).containsExactly(bytes(5, 2));
    ch.writeInbound(encode5(new DefaultSocks5PasswordAuthRequest("alice", "s3cret")));
    assertThat(written(ch)).containsExactly(bytes(1, 0));
    assertThat(context.principal).isEqualTo("alice");
    ch.writeInbound(encode5(new DefaultSocks5CommandRequest(Socks5CommandType.CONNECT, Socks5AddressType.DOMAIN,
        "origin.test", 443)));
    assertThat(context.requests).hasSize(1);
    assertThat(context.requests.get(0).principal()).contains("alice");
    assertThat(context.requests.get(0).destination()).isEqualTo(Destination.of("origin.test", 443));
  }

  @Test
  void passwordAuthFailure() {
    EmbeddedChannel ch = server(SocksInboundOptions.builder().authenticator(ALICE).build());
    ch.writeInbound(encode5(new DefaultSocks5InitialRequest(Socks5AuthMethod.PASSWORD)));
    written(ch);
    ch.writeInbound(encode5(new DefaultSocks5PasswordAuthRequest("alice", "hunter2")));
    assertThat(written(ch)).containsExactly(bytes(1, 0xFF)); // RFC 1929: any non-zero status
    assertThat(ch.isActive()).isFalse();
    assertThat(context.outcome).isEqualTo(Outcome.AUTH_FAILED);
    assertThat(context.detail).contains("alice").doesNotContain("hunter2");
    assertThat(context.requests).isEmpty();
  }

  @Test
  void malformedPasswordSubnegotiation() {
    EmbeddedChannel ch = server(SocksInboundOptions.builder().authenticator(ALICE).build());
    ch.writeInbound(encode5(new DefaultSocks5InitialRequest(Socks5AuthMethod.PASSWORD)));
    written(ch);
    ch.writeInbound(Unpooled.wrappedBuffer(bytes(9, 1, 'a', 1, 'b'))); // version 9
    assertThat(written(ch)).containsExactly(bytes(1, 0xFF));
    assertThat(ch.isActive()).isFalse();
    assertThat(context.outcome).isEqualTo(Outcome.PROTOCOL_ERROR);
  }

  private EmbeddedChannel greeted() {
    EmbeddedChannel ch = server(SocksInboundOptions.defaults());
    ch.writeInbound(encode5(new DefaultSocks5InitialRequest(Socks5AuthMethod.NO_AUTH)));
    written(ch);
    return ch;
  }

  @Test
  void connectIpv4SucceedsAndHandsOverPipelinedBytes() {
    EmbeddedChannel ch = greeted();
    ByteBuf cmd = encode5(new DefaultSocks5CommandRequest(Socks5CommandType.CONNECT, Socks5AddressType.IPv4,
        "192.0.2.7", 8080));
    // a client that does not wait for the reply before sending its first bytes
    ch.writeInbound(Unpooled.wrappedBuffer(cmd, Unpooled.copiedBuffer("early", StandardCharsets.US_ASCII)));
    assertThat(context.requests).extracting(ConnectRequest::destination)
        .containsExactly(Destination.of("192.0.2.7", 8080));
    assertThat(written(ch)).isEmpty(); // nothing until the dial finishes
    dialSucceedsAndEarlyBytesFollow(ch);
    // the SOCKS handlers are gone: later bytes reach the relay untouched
    assertThat(ch.pipeline().get(ConduitPipeline.SOCKS_HANDLER)).isNull();
    ch.writeInbound(Unpooled.copiedBuffer("\u0005later", StandardCharsets.ISO_8859_1));
    assertThat(context.relayedBytes.toString()).isEqualTo("\u0005later");
    assertThat(context.outcome).isEqualTo(Outcome.OK);
  }

  @Test
  void greetingCommandAndDataInOneSegmentAreAllServed() {
    // an optimistic client (no authentication offered) sends everything before any reply
    EmbeddedChannel ch = server(SocksInboundOptions.defaults());
    ch.writeInbound(Unpooled.wrappedBuffer(encode5(new DefaultSocks5InitialRequest(Socks5AuthMethod.NO_AUTH)),
        encode5(new DefaultSocks5CommandRequest(Socks5CommandType.CONNECT, Socks5AddressType.IPv4, "192.0.2.7", 8080)),
        Unpooled.copiedBuffer("early", StandardCharsets.US_ASCII)));
    assertThat(written(ch)).containsExactly(bytes(5, 0)); // the method choice; the reply waits for the dial
    assertThat(context.requests).extracting(ConnectRequest::destination)
        .containsExactly(Destination.of("192.0.2.7", 8080));
    dialSucceedsAndEarlyBytesFollow(ch);
  }

  /** The dial to 192.0.2.7:8080 succeeds: the success reply goes out and the client's "early" bytes upstream. */
  private void dialSucceedsAndEarlyBytesFollow(EmbeddedChannel ch) {
    FakeUpstreamChannel upstream = new FakeUpstreamChannel();
    channels.add(upstream);
    context.pending.setSuccess(new Upstream(upstream, context.requests.get(0), "default", "direct",
        new InetSocketAddress("192.0.2.7", 8080)));
    ch.runPendingTasks();
    // VER REP RSV ATYP=1 127.0.0.1 port 54321
    assertThat(written(ch)).containsExactly(bytes(5, 0, 0, 1, 127, 0, 0, 1, 54321 >> 8, 54321 & 0xFF));
    ByteBuf early = upstream.readOutbound();
    assertThat(early.toString(StandardCharsets.US_ASCII)).isEqualTo("early");
    early.release();
    assertThat(context.relayed).hasSize(1);
  }

  @Test
  void connectIpv6() {
    EmbeddedChannel ch = greeted();
    ch.writeInbound(encode5(new DefaultSocks5CommandRequest(Socks5CommandType.CONNECT, Socks5AddressType.IPv6,
        "2001:db8::7", 443)));
    assertThat(context.requests.get(0).destination()).isEqualTo(Destination.of("2001:db8::7", 443));
  }

  @Test
  void connectDomain() {
    EmbeddedChannel ch = greeted();
    ch.writeInbound(encode5(new DefaultSocks5CommandRequest(Socks5CommandType.CONNECT, Socks5AddressType.DOMAIN,
        "Example.TEST", 80)));
    assertThat(context.requests.get(0).destination()).isEqualTo(Destination.of("Example.TEST", 80));
  }

  @Test
  void dialFailureRepliesWithItsCode() {
    for (DialFailure failure : DialFailure.values()) {
      context = new FakeContext();
      EmbeddedChannel ch = greeted();
      ch.writeInbound(encode5(new DefaultSocks5CommandRequest(Socks5CommandType.CONNECT, Socks5AddressType.DOMAIN,
          "origin.test", 80)));
      context.pending.setFailure(new DialException(failure, "because"));
      ch.runPendingTasks();
      byte[] reply = written(ch);
      assertThat(reply[1]).as(failure.name()).isEqualTo((byte) failure.socks5Reply());
      assertThat(ch.isActive()).isFalse();
      // refused by rule, or refused busy by the overload manager: not a failed dial
      boolean refused = failure == DialFailure.NOT_ALLOWED || failure == DialFailure.OVERLOADED;
      assertThat(context.outcome).isEqualTo(refused ? Outcome.REJECTED : Outcome.DIAL_FAILED);
    }
  }

  @Test
  void unsupportedCommand() {
    EmbeddedChannel ch = greeted();
    ch.writeInbound(encode5(new DefaultSocks5CommandRequest(Socks5CommandType.BIND, Socks5AddressType.IPv4,
        "0.0.0.0", 1)));
    assertThat(written(ch)[1]).isEqualTo((byte) 0x07);
    assertThat(ch.isActive()).isFalse();
    assertThat(context.requests).isEmpty();
    assertThat(context.outcome).isEqualTo(Outcome.PROTOCOL_ERROR);
  }

  @Test
  void unknownAddressType() {
    EmbeddedChannel ch = greeted();
    ch.writeInbound(Unpooled.wrappedBuffer(bytes(5, 1, 0, 9, 1, 2, 3, 4, 0, 80)));
    assertThat(written(ch)[1]).isEqualTo((byte) 0x08);
    assertThat(ch.isActive()).isFalse();
    assertThat(context.requests).isEmpty();
    assertThat(context.outcome).isEqualTo(Outcome.PROTOCOL_ERROR);
  }

  @Test
  void domainThatIsNotAHostName() {
    EmbeddedChannel ch = greeted();
    ch.writeInbound(encode5(new DefaultSocks5CommandRequest(Socks5CommandType.CONNECT, Socks5AddressType.DOMAIN,
        "a.test\r\nX: y", 80)));
    assertThat(written(ch)[1]).isEqualTo((byte) 0x01);
    assertThat(ch.isActive()).isFalse();
    assertThat(context.requests).isEmpty();
    assertThat(context.detail).startsWith("host: ");
  }

  @Test
  void truncatedGreetingWaitsWithoutAnswering() {
    EmbeddedChannel ch = server(SocksInboundOptions.defaults());
    ch.writeInbound(Unpooled.wrappedBuffer(bytes(5, 2, 0))); // announces two methods, sends one
    assertThat(written(ch)).isEmpty();
    assertThat(ch.isActive()).isTrue(); // the negotiation timeout or the client's EOF ends it
    ch.writeInbound(Unpooled.wrappedBuffer(bytes(2)));
    assertThat(written(ch)).containsExactly(bytes(5, 0));
  }

  @Test
  void greetingSplitIntoSingleBytes() {
    EmbeddedChannel ch = server(SocksInboundOptions.defaults());
    for (int b : new int[] {5, 1, 0}) {
      ch.writeInbound(Unpooled.wrappedBuffer(bytes(b)));
    }
    assertThat(written(ch)).containsExactly(bytes(5, 0));
  }

  @Test
  void unknownVersionIsClosed() {
    EmbeddedChannel ch = server(SocksInboundOptions.defaults());
    ch.writeInbound(Unpooled.wrappedBuffer(bytes(0x16, 3, 1, 0, 5)));
    assertThat(written(ch)).isEmpty();
    assertThat(ch.isActive()).isFalse();
  }

  @Test
  void socks4AndSocks4a() {
    EmbeddedChannel ch = server(SocksInboundOptions.defaults());
    ch.writeInbound(encode4(new DefaultSocks4CommandRequest(Socks4CommandType.CONNECT, "192.0.2.9", 8080, "bob")));
    assertThat(context.requests.get(0).destination()).isEqualTo(Destination.of("192.0.2.9", 8080));
    FakeUpstreamChannel upstream = new FakeUpstreamChannel();
    channels.add(upstream);
    context.pending.setSuccess(new Upstream(upstream, context.requests.get(0), "default", "direct",
        new InetSocketAddress("192.0.2.9", 8080)));
    ch.runPendingTasks();
    byte[] reply = written(ch);
    assertThat(reply).hasSize(8);
    assertThat(reply[0]).isEqualTo((byte) 0);
    assertThat(reply[1]).isEqualTo((byte) 0x5A);

    context = new FakeContext();
    EmbeddedChannel ch4a = server(SocksInboundOptions.defaults());
    // SOCKS4a: the encoder sends 0.0.0.1 and the name after the user id
    ch4a.writeInbound(encode4(new DefaultSocks4CommandRequest(Socks4CommandType.CONNECT, "origin.test", 80, "bob")));
    assertThat(context.requests.get(0).destination()).isEqualTo(Destination.of("origin.test", 80));
    context.pending.setFailure(new DialException(DialFailure.CONNECTION_REFUSED, "refused"));
    ch4a.runPendingTasks();
    assertThat(written(ch4a)[1]).isEqualTo((byte) 0x5B);
    assertThat(ch4a.isActive()).isFalse();
  }

  @Test
  void socks4RefusedWhenAuthenticationIsRequired() {
    EmbeddedChannel ch = server(SocksInboundOptions.builder().authenticator(ALICE).build());
    ch.writeInbound(encode4(new DefaultSocks4CommandRequest(Socks4CommandType.CONNECT, "192.0.2.9", 80, "alice")));
    assertThat(written(ch)[1]).isEqualTo((byte) 0x5B);
    assertThat(ch.isActive()).isFalse();
    assertThat(context.requests).isEmpty();
    assertThat(context.outcome).isEqualTo(Outcome.AUTH_FAILED);
  }

  @Test
  void socks4Bind() {
    EmbeddedChannel ch = server(SocksInboundOptions.defaults());
    ch.writeInbound(encode4(new DefaultSocks4CommandRequest(Socks4CommandType.BIND, "192.0.2.9", 80)));
    assertThat(written(ch)[1]).isEqualTo((byte) 0x5B);
    assertThat(ch.isActive()).isFalse();
    assertThat(context.outcome).isEqualTo(Outcome.PROTOCOL_ERROR);
  }

  @Test
  void clientGoneWhileDialingClosesTheUpstream() {
    EmbeddedChannel ch = greeted();
    ch.writeInbound(Unpooled.wrappedBuffer(
        encode5(new DefaultSocks5CommandRequest(Socks5CommandType.CONNECT, Socks5AddressType.IPv4, "192.0.2.1", 80)),
        Unpooled.copiedBuffer("early", StandardCharsets.US_ASCII)));
    ch.close();
    FakeUpstreamChannel upstream = new FakeUpstreamChannel();
    channels.add(upstream);
    context.pending.setSuccess(new Upstream(upstream, context.requests.get(0), "default", "direct",
        new InetSocketAddress("192.0.2.1", 80)));
    ch.runPendingTasks();
    assertThat(upstream.isOpen()).isFalse();
    assertThat(context.relayed).isEmpty();
    assertThat(Optional.ofNullable(upstream.readOutbound())).isEmpty();
  }
}
