package dev.conduit.core.internal.socks;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.ConnectRequest;
import dev.conduit.core.ConnectionInfo;
import dev.conduit.core.Timeouts;
import dev.conduit.core.inbound.InboundContext;
import dev.conduit.core.inbound.Upstream;
import dev.conduit.core.observe.Outcome;
import dev.conduit.core.DialException;
import dev.conduit.core.DialFailure;
import dev.conduit.core.testing.AddressedChannel;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.DatagramPacket;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ImmediateEventExecutor;
import io.netty.util.concurrent.Promise;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * One SOCKS5 UDP association's datagram paths on EmbeddedChannels (the control connection and both sockets):
 * what is relayed, what is dropped, and that it ends with its TCP connection.
 */
class UdpAssociationTest {
  private static final InetSocketAddress CLIENT_TCP = new InetSocketAddress("127.0.0.1", 40000);
  private static final InetSocketAddress CLIENT_UDP = new InetSocketAddress("127.0.0.1", 40001);
  private static final InetSocketAddress DNS = new InetSocketAddress("198.18.0.53", 53);

  /** Routes every datagram to {@link #route}, or leaves it pending when {@link #pending} is set. */
  private static final class RoutingContext implements InboundContext {
    InetSocketAddress route = DNS;
    List<Promise<InetSocketAddress>> pending;
    final List<ConnectRequest> routed = new ArrayList<>();

    @Override
    public ConnectionInfo connection() {
      return new ConnectionInfo("u1", "socks", "socks", CLIENT_TCP, new InetSocketAddress("127.0.0.1", 1080),
          Instant.EPOCH);
    }

    @Override
    public Timeouts timeouts() {
      return Timeouts.defaults();
    }

    @Override
    public Future<Upstream> connect(ConnectRequest request) {
      throw new AssertionError("an association dials nothing");
    }

    @Override
    public void relay(Upstream upstream) {
      throw new AssertionError("an association relays no stream");
    }

    @Override
    public void outcome(Outcome outcome, String detail) {
      throw new AssertionError("a datagram never decides the connection's outcome: " + outcome + " " + detail);
    }

    @Override
    public void principal(String principal) {
      throw new AssertionError("no principal here");
    }

    @Override
    public Future<InetSocketAddress> routeDatagram(ConnectRequest request) {
      routed.add(request);
      if (pending != null) {
        Promise<InetSocketAddress> p = ImmediateEventExecutor.INSTANCE.newPromise();
        pending.add(p);
        return p;
      }
      return route == null
          ? ImmediateEventExecutor.INSTANCE.newFailedFuture(new DialException(DialFailure.NOT_ALLOWED, "rejected"))
          : ImmediateEventExecutor.INSTANCE.newSucceededFuture(route);
    }
  }

  private final RoutingContext context = new RoutingContext();
  private EmbeddedChannel control;
  private EmbeddedChannel clientSide;
  private EmbeddedChannel remoteSide;
  private UdpAssociation association;

  @BeforeEach
  void associate() {
    control = AddressedChannel.of(new InetSocketAddress("127.0.0.1", 1080), CLIENT_TCP);
    association = new UdpAssociation(context, control, "alice", 0);
    clientSide = new EmbeddedChannel(association.clientHandler());
    remoteSide = new EmbeddedChannel(association.remoteHandler());
    association.attach(clientSide, remoteSide);
  }

  @AfterEach
  void finish() {
    for (EmbeddedChannel ch : List.of(control, clientSide, remoteSide)) {
      ch.finishAndReleaseAll();
    }
  }

  /** A client datagram: RSV RSV FRAG ATYP=IPv4 DST.ADDR DST.PORT DATA. */
  private static ByteBuf request(int frag, byte[] ip, int port, String data) {
    return Unpooled.buffer().writeShort(0).writeByte(frag).writeByte(0x01).writeBytes(ip).writeShort(port)
        .writeBytes(data.getBytes(StandardCharsets.US_ASCII));
  }

  private static ByteBuf domainRequest(String host, int port, String data) {
    return Unpooled.buffer().writeShort(0).writeByte(0).writeByte(0x03).writeByte(host.length())
        .writeBytes(host.getBytes(StandardCharsets.US_ASCII)).writeShort(port)
        .writeBytes(data.getBytes(StandardCharsets.US_ASCII));
  }

  private static final byte[] DNS_IP = {(byte) 198, 18, 0, 53};

  private static String payload(DatagramPacket p) {
    String s = p.content().toString(StandardCharsets.US_ASCII);
    p.release();
    return s;
  }

  @Test
  void aClientDatagramIsRoutedAndSentWithoutItsHeader() {
    clientSide.writeInbound(new DatagramPacket(request(0, DNS_IP, 53, "query"), null, CLIENT_UDP));
    assertThat(context.routed).singleElement().satisfies(r -> {
      assertThat(r.destination().host()).isEqualTo("198.18.0.53");
      assertThat(r.destination().port()).isEqualTo(53);
      assertThat(r.principal()).contains("alice");
    });
    DatagramPacket out = remoteSide.readOutbound();
    assertThat(out.recipient()).isEqualTo(DNS);
    assertThat(payload(out)).isEqualTo("query");
    assertThat(association.dropped()).isZero();
  }

  @Test
  void aReplyFromADestinationTheClientSentToGoesBackWithItsAddress() {
    clientSide.writeInbound(new DatagramPacket(domainRequest("dns.test", 53, "query"), null, CLIENT_UDP));
    ((DatagramPacket) remoteSide.readOutbound()).release();

    remoteSide.writeInbound(new DatagramPacket(Unpooled.copiedBuffer("answer", StandardCharsets.US_ASCII), null, DNS));
    DatagramPacket back = clientSide.readOutbound();
    assertThat(back.recipient()).isEqualTo(CLIENT_UDP); // the port the client sent from
    ByteBuf c = back.content();
    byte[] header = ByteBufUtil.getBytes(c, c.readerIndex(), 10);
    assertThat(header).containsExactly(0, 0, 0, 1, (byte) 198, 18, 0, 53, 0, 53);
    c.skipBytes(10);
    assertThat(payload(back)).isEqualTo("answer");
  }

  @Test
  void whatTheAssociationMustNotPassIsDropped() {
    // not from the client's IP
    clientSide.writeInbound(new DatagramPacket(request(0, DNS_IP, 53, "x"), null,
        new InetSocketAddress("198.18.0.66", CLIENT_UDP.getPort())));
    // a fragment
    clientSide.writeInbound(new DatagramPacket(request(1, DNS_IP, 53, "x"), null, CLIENT_UDP));
    // a malformed header (address type 9; then a truncated one)
    clientSide.writeInbound(new DatagramPacket(Unpooled.buffer().writeShort(0).writeByte(0).writeByte(9), null,
        CLIENT_UDP));
    clientSide.writeInbound(new DatagramPacket(Unpooled.buffer().writeShort(0).writeByte(0).writeByte(1)
        .writeByte(10), null, CLIENT_UDP));
    // a reply from an address the client has not sent to
    remoteSide.writeInbound(new DatagramPacket(Unpooled.copiedBuffer("spoof", StandardCharsets.US_ASCII), null,
        new InetSocketAddress("198.18.0.99", 53)));
    // a rejected destination
    context.route = null;
    clientSide.writeInbound(new DatagramPacket(request(0, DNS_IP, 53, "x"), null, CLIENT_UDP));

    assertThat(association.dropped()).isEqualTo(6);
    assertThat((Object) remoteSide.readOutbound()).isNull();
    assertThat((Object) clientSide.readOutbound()).isNull();
    assertThat(context.routed).hasSize(1); // only the rejected one reached routing
  }

  @Test
  void onceTheClientSentFromAPortOthersOfItsIpAreDropped() {
    clientSide.writeInbound(new DatagramPacket(request(0, DNS_IP, 53, "first"), null, CLIENT_UDP));
    ((DatagramPacket) remoteSide.readOutbound()).release();
    clientSide.writeInbound(new DatagramPacket(request(0, DNS_IP, 53, "other port"), null,
        new InetSocketAddress("127.0.0.1", 40002)));
    assertThat((Object) remoteSide.readOutbound()).isNull();
    assertThat(association.dropped()).isEqualTo(1);
  }

  @Test
  void datagramsWaitingForDnsAreCopiedAndBounded() {
    context.pending = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      clientSide.writeInbound(new DatagramPacket(domainRequest("slow.test", 53, "q" + i), null, CLIENT_UDP));
    }
    assertThat(context.pending).hasSize(40); // each was routed
    assertThat(association.dropped()).isEqualTo(8); // 32 may wait at once
    for (Promise<InetSocketAddress> p : context.pending) {
      p.trySuccess(DNS);
    }
    int sent = 0;
    DatagramPacket out;
    while ((out = remoteSide.readOutbound()) != null) {
      assertThat(payload(out)).isEqualTo("q" + sent);
      sent++;
    }
    assertThat(sent).isEqualTo(32);
  }

  @Test
  void theAssociationEndsWithItsTcpConnectionAndTheConnectionWithASocket() {
    control.close();
    assertThat(clientSide.isActive()).isFalse();
    assertThat(remoteSide.isActive()).isFalse();

    RoutingContext ctx = new RoutingContext();
    EmbeddedChannel tcp = AddressedChannel.of(new InetSocketAddress("127.0.0.1", 1080), CLIENT_TCP);
    UdpAssociation a = new UdpAssociation(ctx, tcp, null, 0);
    EmbeddedChannel c = new EmbeddedChannel(a.clientHandler());
    EmbeddedChannel r = new EmbeddedChannel(a.remoteHandler());
    a.attach(c, r);
    r.close();
    assertThat(tcp.isActive()).isFalse();
    assertThat(c.isActive()).isFalse();
    for (EmbeddedChannel ch : List.of(tcp, c, r)) {
      ch.finishAndReleaseAll();
    }
  }
}
