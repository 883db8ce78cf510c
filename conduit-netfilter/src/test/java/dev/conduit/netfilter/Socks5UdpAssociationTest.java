package dev.conduit.netfilter;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.outbound.Hop;
import dev.conduit.core.outbound.Outbound;
import dev.conduit.core.route.RouteDecision;
import dev.conduit.core.route.Router;
import dev.conduit.core.route.Rule;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * The SOCKS5 UDP header (RFC 1928 §7) as the relay writes and reads it, which outbounds carry UDP, and
 * how a flow is routed by the rules in force. The association itself runs against dante in {@link
 * UdpTproxySystemTest}.
 */
class Socks5UdpAssociationTest {

  @Test
  void headerRoundTripsForBothFamilies() {
    for (InetSocketAddress target : List.of(new InetSocketAddress("198.18.2.2", 53),
        new InetSocketAddress("fd00:2::2", 65535))) {
      ByteBuf payload = Unpooled.copiedBuffer("query", StandardCharsets.US_ASCII);
      ByteBuf datagram = Socks5UdpAssociation.encode(ByteBufAllocator.DEFAULT, target, payload);
      try {
        assertThat(payload.readerIndex()).as("payload not consumed").isZero();
        InetSocketAddress[] source = new InetSocketAddress[1];
        int header = Socks5UdpAssociation.decode(datagram, source);
        assertThat(header).isEqualTo(target.getAddress().getAddress().length == 4 ? 10 : 22);
        assertThat(source[0]).isEqualTo(target);
        assertThat(datagram.toString(header, datagram.readableBytes() - header, StandardCharsets.US_ASCII))
            .isEqualTo("query");
      } finally {
        payload.release();
        datagram.release();
      }
    }
  }

  @Test
  void fragmentsAndBrokenHeadersAreRefused() {
    InetSocketAddress[] source = new InetSocketAddress[1];
    byte[] fragment = {0, 0, 1, 1, (byte) 198, 18, 2, 2, 0, 53, 'x'};
    assertThat(Socks5UdpAssociation.decode(Unpooled.wrappedBuffer(fragment), source))
        .isEqualTo(Socks5UdpAssociation.FRAGMENT);
    byte[] reserved = {0, 1, 0, 1, (byte) 198, 18, 2, 2, 0, 53};
    assertThat(Socks5UdpAssociation.decode(Unpooled.wrappedBuffer(reserved), source))
        .isEqualTo(Socks5UdpAssociation.MALFORMED);
    byte[] cut = {0, 0, 0, 4, (byte) 0xfd, 0, 0, 2};
    assertThat(Socks5UdpAssociation.decode(Unpooled.wrappedBuffer(cut), source))
        .isEqualTo(Socks5UdpAssociation.MALFORMED);
    byte[] unknownType = {0, 0, 0, 9, 1, 2, 3, 4, 0, 53};
    assertThat(Socks5UdpAssociation.decode(Unpooled.wrappedBuffer(unknownType), source))
        .isEqualTo(Socks5UdpAssociation.MALFORMED);
    // a domain source is read (the relay then refuses it: it is not the flow's destination)
    byte[] domain = {0, 0, 0, 3, 3, 'd', 'n', 's', 0, 53, 'x'};
    source[0] = new InetSocketAddress(1);
    assertThat(Socks5UdpAssociation.decode(Unpooled.wrappedBuffer(domain), source)).isEqualTo(10);
    assertThat(source[0]).isNull();
  }

  @Test
  void directAndOneSocks5HopCarryUdpOthersDoNot() {
    assertThat(TransparentUdpRelay.carriesUdp(Outbound.direct("d"))).isTrue();
    assertThat(TransparentUdpRelay.carriesUdp(socks("s", "socks5://u:p@198.18.3.2:1080"))).isTrue();
    assertThat(TransparentUdpRelay.carriesUdp(socks("t", "https://198.18.3.2:3128"))).isFalse();
    assertThat(TransparentUdpRelay.carriesUdp(socks("h", "http://198.18.3.2:3128"))).isFalse();
    assertThat(TransparentUdpRelay.carriesUdp(Outbound.builder("chain").hop(Hop.parse("socks5://198.18.3.2:1080"))
        .hop(Hop.parse("socks5://198.18.3.3:1080")).build())).isFalse();
  }

  @Test
  void flowsAreRoutedByTheRulesInForce() {
    Router viaSocks = Router.builder().rule(Rule.builder("dns").port(53).decision(RouteDecision.via("s")).build())
        .rule(Rule.builder("web").port(443).decision(RouteDecision.via("h")).build())
        .rule(Rule.builder("nine").port(9).decision(RouteDecision.reject("no")).build()).build();
    List<Outbound> outbounds = List.of(socks("s", "socks5://198.18.3.2:1080"), socks("h", "http://198.18.3.2:3128"));
    TransparentUdpRelay.Routing routing = TransparentUdpRelay.Routing.of(viaSocks, outbounds);
    InetSocketAddress client = new InetSocketAddress("198.18.1.2", 40000);
    AtomicLong ids = new AtomicLong();
    assertThat(TransparentUdpRelay.route(routing, "l", client, new InetSocketAddress("198.18.2.2", 53), ids).socks()
        .endpoints().get(0).toString()).isEqualTo("198.18.3.2:1080");
    assertThat(TransparentUdpRelay.route(routing, "l", client, new InetSocketAddress("198.18.2.2", 443), ids)
        .dropReason()).isEqualTo(TransparentUdpRelay.DROP_NO_UDP_OUTBOUND);
    assertThat(TransparentUdpRelay.route(routing, "l", client, new InetSocketAddress("198.18.2.2", 9), ids)
        .dropReason()).isEqualTo(TransparentUdpRelay.DROP_REJECTED);
    assertThat(TransparentUdpRelay.route(routing, "l", client, new InetSocketAddress("198.18.2.2", 7), ids))
        .isEqualTo(TransparentUdpRelay.FlowRoute.DIRECT);
    // a rule naming an outbound the relay was not given: dropped, counted, never relayed direct
    TransparentUdpRelay.Routing missing = TransparentUdpRelay.Routing.of(viaSocks, List.of());
    assertThat(TransparentUdpRelay.route(missing, "l", client, new InetSocketAddress("198.18.2.2", 53), ids)
        .dropReason()).isEqualTo(TransparentUdpRelay.DROP_NO_UDP_OUTBOUND);
  }

  private static Outbound socks(String name, String url) {
    return Outbound.builder(name).hop(Hop.parse(url)).build();
  }
}
