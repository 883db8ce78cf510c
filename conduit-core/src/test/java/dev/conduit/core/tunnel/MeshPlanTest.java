package dev.conduit.core.tunnel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.conduit.core.Conduit;
import dev.conduit.core.ConnectRequest;
import dev.conduit.core.ConnectionInfo;
import dev.conduit.core.Destination;
import dev.conduit.core.route.RouteDecision;
import dev.conduit.core.route.Router;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The mapping of seed 000's sections, its validation, and the tunnel server's replies to bad requests. */
class MeshPlanTest {

  static MeshConfig.Server plainServer(List<MeshConfig.Allow> allow) {
    return new MeshConfig.Server(true, new MeshConfig.Listen("tcp", "127.0.0.1:0", null), allow);
  }

  static RouteDecision route(MeshPlan plan, String listener, String principal, String host, int port) {
    Router.Builder b = Router.builder();
    plan.rules().forEach(b::rule);
    ConnectionInfo info = new ConnectionInfo("t", listener, "tunnel", new InetSocketAddress("127.0.0.1", 40000),
        new InetSocketAddress("127.0.0.1", 5053), Instant.now());
    return b.build().route(new ConnectRequest(info, Destination.of(host, port), Optional.ofNullable(principal),
        Optional.empty())).decision();
  }

  @Test
  void defaultAllowsOnlyTheServersOwnHost() throws IOException {
    try (MeshPlan plan = new MeshConfig(null, plainServer(null)).plan()) {
      assertThat(route(plan, MeshPlan.SERVER_LISTENER, null, "127.0.0.1", 80)).isInstanceOf(RouteDecision.Direct.class);
      assertThat(route(plan, MeshPlan.SERVER_LISTENER, null, "::1", 6379)).isInstanceOf(RouteDecision.Direct.class);
      assertThat(route(plan, MeshPlan.SERVER_LISTENER, null, "localhost", 3306)).isInstanceOf(RouteDecision.Direct.class);
      assertThat(route(plan, MeshPlan.SERVER_LISTENER, null, "198.18.0.1", 80)).isInstanceOf(RouteDecision.Reject.class);
      assertThat(route(plan, MeshPlan.SERVER_LISTENER, null, "example.com", 443)).isInstanceOf(RouteDecision.Reject.class);
    }
  }

  @Test
  void allowEntriesAreScopedToTheirPeer() throws IOException {
    try (MeshPlan plan = new MeshConfig(null, plainServer(List.of(
        new MeshConfig.Allow("spiffe://mesh/a", List.of("198.18.0.0/24"), List.of("3306", "8000-8099"), List.of()),
        new MeshConfig.Allow(null, List.of(), List.of(), List.of(".svc.internal"))))).plan()) {
      assertThat(route(plan, MeshPlan.SERVER_LISTENER, "spiffe://mesh/a", "198.18.0.7", 8050))
          .isInstanceOf(RouteDecision.Direct.class);
      assertThat(route(plan, MeshPlan.SERVER_LISTENER, "spiffe://mesh/b", "198.18.0.7", 8050))
          .isInstanceOf(RouteDecision.Reject.class);
      assertThat(route(plan, MeshPlan.SERVER_LISTENER, "spiffe://mesh/a", "198.18.0.7", 22))
          .isInstanceOf(RouteDecision.Reject.class);
      assertThat(route(plan, MeshPlan.SERVER_LISTENER, "spiffe://mesh/b", "db.svc.internal", 5432))
          .isInstanceOf(RouteDecision.Direct.class);
      // an explicit allow list replaces the loopback default
      assertThat(route(plan, MeshPlan.SERVER_LISTENER, "spiffe://mesh/a", "127.0.0.1", 80))
          .isInstanceOf(RouteDecision.Reject.class);
      assertThat(plan.warnings()).anyMatch(w -> w.contains("never matches"));
    }
  }

  @Test
  void clientRulesSendEachForwardEntryToItsPeer() throws IOException {
    MeshConfig.Client client = new MeshConfig.Client(true, "", "127.0.0.1:0", 0,
        List.of(new MeshConfig.Forward(":80", "127.0.0.1:8080", 1), new MeshConfig.Forward(":5432", null, 2)),
        List.of(new MeshConfig.Peer(1, "tcp", List.of("127.0.0.1:5053"), null),
            new MeshConfig.Peer(2, "tcp", List.of("127.0.0.1:5054"), null)));
    try (MeshPlan plan = new MeshConfig(client, null).plan()) {
      assertThat(route(plan, MeshPlan.CLIENT_LISTENER, null, "127.0.0.1", 8080)).isEqualTo(RouteDecision.via("peer-1"));
      assertThat(route(plan, MeshPlan.CLIENT_LISTENER, null, "198.18.0.3", 5432)).isEqualTo(RouteDecision.via("peer-2"));
      assertThat(route(plan, MeshPlan.CLIENT_LISTENER, null, "198.18.0.3", 22)).isInstanceOf(RouteDecision.Reject.class);
      assertThat(plan.captureEntries()).hasSize(2);
      assertThat(plan.outbounds()).hasSize(2);
    }
  }

  @Test
  void invalidConfigurationsNameTheirField() {
    MeshConfig.Peer peer = new MeshConfig.Peer(1, "tcp", List.of("127.0.0.1:5053"), null);
    assertThatThrownBy(() -> new MeshConfig(new MeshConfig.Client(true, "tcp", "127.0.0.1:0", -1,
        List.of(new MeshConfig.Forward(":80", "127.0.0.1:80", 1)), List.of(peer)), null).plan())
        .hasMessageContaining("client.check_time: -1");
    assertThatThrownBy(() -> new MeshConfig(new MeshConfig.Client(true, "tcp", "127.0.0.1:0", 0,
        List.of(new MeshConfig.Forward(":80", "127.0.0.1:80", 7)), List.of(peer)), null).plan())
        .hasMessageContaining("client.forward_table[0].peer_index: 7");
    assertThatThrownBy(() -> new MeshConfig(new MeshConfig.Client(true, "tcp", "127.0.0.1:0", 0,
        List.of(new MeshConfig.Forward(":80", "127.0.0.1:80", 1)), List.of(peer, peer)), null).plan())
        .hasMessageContaining("client.peers[1].index: 1 used twice");
    assertThatThrownBy(() -> new MeshConfig(new MeshConfig.Client(true, "udp", "127.0.0.1:0", 0,
        List.of(new MeshConfig.Forward(":80", "127.0.0.1:80", 1)), List.of(peer)), null).plan())
        .hasMessageContaining("client.network: udp");
    assertThatThrownBy(() -> new MeshConfig(new MeshConfig.Client(true, "tcp", "127.0.0.1:0", 0,
        List.of(new MeshConfig.Forward(":80", "127.0.0.1:80", 1), new MeshConfig.Forward("198.18.0.1:81",
            "127.0.0.1:80", 2)), List.of(peer, new MeshConfig.Peer(2, "tcp", List.of("127.0.0.1:5054"), null))),
        null).plan())
        .hasMessageContaining("overlaps entry 0");
    assertThatThrownBy(() -> new MeshConfig(new MeshConfig.Client(true, "tcp", "127.0.0.1:0", 0,
        List.of(new MeshConfig.Forward("db:80", null, 1)), List.of(peer)), null).plan())
        .hasMessageContaining("client.forward_table[0].dst: db:80");
    assertThatThrownBy(() -> new MeshConfig(null, plainServer(List.of(
        new MeshConfig.Allow("x", List.of(), List.of("80"), List.of())))).plan())
        .hasMessageContaining("server.allow[0]: no cidrs and no domains");
    assertThatThrownBy(() -> new MeshConfig(null, new MeshConfig.Server(true, new MeshConfig.Listen("tcp", "127.0.0.1:0",
        new MeshConfig.Tls(true, true, List.of(), List.of(new MeshConfig.CertKey("/nonexistent.pem", "/x.key")),
            false)), null)).plan())
        .hasMessageContaining("server.listen.tls.cas: empty");
  }

  @Test
  void multiplexKeyMakesAMultiplexedPeerHopAndIsValidated() throws IOException {
    dev.conduit.core.pki.CertificateAuthority ca = dev.conduit.core.pki.CertificateAuthority.builder()
        .commonName("mesh CA").build();
    java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("meshplan");
    try {
      TunnelTestPki.write(dir, ca, "ca", null);
      TunnelTestPki.write(dir, ca, "a", dev.conduit.core.pki.CertificateRequest.builder().commonName("a")
          .uri("spiffe://mesh/a").usages(dev.conduit.core.pki.CertificateRequest.Usage.CLIENT).build());
      List<String> cas = List.of(dir.resolve("ca.pem").toString());
      List<MeshConfig.CertKey> certs = List.of(new MeshConfig.CertKey(dir.resolve("a.pem").toString(),
          dir.resolve("a.key").toString()));
      for (MeshConfig.Tls tls : List.of(new MeshConfig.Tls(true, true, cas, certs, false, true),
          new MeshConfig.Tls(true, true, cas, certs, true, true), new MeshConfig.Tls(true, false, cas, List.of(), false,
              true))) {
        try (MeshPlan plan = new MeshConfig(client(tls), null).plan()) {
          dev.conduit.core.outbound.Hop hop = plan.outbounds().get(0).hops().get(0);
          assertThat(hop.multiplex()).as(tls.toString()).isTrue();
          assertThat(hop.sslContext().orElseThrow().applicationProtocolNegotiator().protocols()).containsExactly("h2");
        }
      }
      try (MeshPlan plan = new MeshConfig(client(new MeshConfig.Tls(true, true, cas, certs, false)), null).plan()) {
        assertThat(plan.outbounds().get(0).hops().get(0).multiplex()).isFalse();
      }
      assertThatThrownBy(() -> new MeshConfig(client(new MeshConfig.Tls(false, false, List.of(), List.of(), false,
          true)), null).plan())
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("client.peers[0].tls.multiplex: true without TLS");
      assertThatThrownBy(() -> new MeshConfig(null, new MeshConfig.Server(true, new MeshConfig.Listen("tcp",
          "127.0.0.1:0", new MeshConfig.Tls(true, true, cas, certs, false, true)), null)).plan())
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("server.listen.tls.multiplex: true (expected: only in client peers[].tls");
    } finally {
      for (String f : List.of("ca.pem", "a.pem", "a.key")) {
        java.nio.file.Files.deleteIfExists(dir.resolve(f));
      }
      java.nio.file.Files.deleteIfExists(dir);
    }
  }

  private static MeshConfig.Client client(MeshConfig.Tls tls) {
    return new MeshConfig.Client(true, "tcp", "127.0.0.1:0", 0, List.of(new MeshConfig.Forward(":80", "127.0.0.1:80", 1)),
        List.of(new MeshConfig.Peer(1, "tcp", List.of("127.0.0.1:5053"), tls)));
  }

  @Test
  void multiplexedHopsAreValidated() throws Exception {
    dev.conduit.core.pki.CertificateAuthority ca = dev.conduit.core.pki.CertificateAuthority.builder()
        .commonName("mesh CA").build();
    dev.conduit.core.pki.TlsMaterial material = dev.conduit.core.pki.TlsMaterial.of(ca.issue(
        dev.conduit.core.pki.CertificateRequest.builder().commonName("a")
            .usages(dev.conduit.core.pki.CertificateRequest.Usage.CLIENT).build()), ca.certificate());
    List<Destination> endpoints = List.of(Destination.of("127.0.0.1", 5053));
    assertThatThrownBy(() -> Tunnel.multiplexedClientHop(endpoints, material::clientContext))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("offers no ALPN h2");
    dev.conduit.core.outbound.Hop hop = Tunnel.multiplexedClientHop(endpoints, material::multiplexClientContext);
    assertThat(hop.multiplex()).isTrue();
    assertThat(hop.forwardClientAddress()).isTrue();
    assertThatThrownBy(() -> dev.conduit.core.outbound.Outbound.builder("two").hop(hop)
        .hop(dev.conduit.core.outbound.Hop.parse("http://127.0.0.1:3128")).build())
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("a multiplexed hop is an outbound's only hop");
    assertThatThrownBy(() -> dev.conduit.core.outbound.Hop.builder(dev.conduit.core.outbound.Hop.Protocol.SOCKS5)
        .endpoint(endpoints.get(0)).multiplex(true).build())
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("multiplex needs an HTTP hop");
  }

  @Test
  void tunnelServerAnswersBadRequestsWithAStatus() throws Exception {
    try (MeshPlan plan = new MeshConfig(null, plainServer(null)).plan();
        Conduit server = plan.apply(Conduit.builder()).build().start()) {
      InetSocketAddress address = server.address(MeshPlan.SERVER_LISTENER);
      assertThat(ask(address, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")).startsWith("HTTP/1.1 405 ").contains("Allow: CONNECT");
      assertThat(ask(address, "CONNECT nohost HTTP/1.1\r\n\r\n")).startsWith("HTTP/1.1 400 ");
      assertThat(ask(address, "CONNECT 198.18.0.1:80 HTTP/1.1\r\n\r\n")).startsWith("HTTP/1.1 403 ")
          .contains("Proxy-Status: conduit; error=destination_ip_prohibited");
      assertThat(ask(address, "CONNECT 127.0.0.1:1 HTTP/1.1\r\n\r\n")).startsWith("HTTP/1.1 502 ")
          .contains("error=connection_refused");
      assertThat(ask(address, "CONNECT 127.0.0.1:80 HTTP/1.1\r\nX: " + "a".repeat(9000) + "\r\n\r\n"))
          .startsWith("HTTP/1.1 431 ");
    }
  }

  static String ask(InetSocketAddress address, String request) throws IOException {
    try (Socket s = new Socket()) {
      s.connect(address, 5000);
      s.setSoTimeout(10_000);
      s.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
      s.getOutputStream().flush();
      InputStream in = s.getInputStream();
      return new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);
    }
  }
}
