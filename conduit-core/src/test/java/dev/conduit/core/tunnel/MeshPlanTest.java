package dev.conduit.core.tunnel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.conduit.core.Conduit;
import dev.conduit.core.ConnectRequest;
import dev.conduit.core.ConnectionInfo;
import dev.conduit.core.Destination;
import dev.conduit.core.net.PortRange;
import dev.conduit.core.outbound.Hop;
import dev.conduit.core.pki.CertificateAuthority;
import dev.conduit.core.pki.CertificateRequest;
import dev.conduit.core.route.RouteDecision;
import dev.conduit.core.route.Router;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The mapping of typed tunnel settings, their validation, and the tunnel server's replies to bad requests. */
class MeshPlanTest {

  @TempDir
  Path dir;

  static MeshPlan.Builder plainServer() {
    return MeshPlan.builder().bindServer("127.0.0.1:0");
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
    try (MeshPlan plan = plainServer().build()) {
      assertThat(route(plan, MeshPlan.SERVER_LISTENER, null, "127.0.0.1", 80)).isInstanceOf(RouteDecision.Direct.class);
      assertThat(route(plan, MeshPlan.SERVER_LISTENER, null, "::1", 6379)).isInstanceOf(RouteDecision.Direct.class);
      assertThat(route(plan, MeshPlan.SERVER_LISTENER, null, "localhost", 3306)).isInstanceOf(RouteDecision.Direct.class);
      assertThat(route(plan, MeshPlan.SERVER_LISTENER, null, "198.18.0.1", 80)).isInstanceOf(RouteDecision.Reject.class);
      assertThat(route(plan, MeshPlan.SERVER_LISTENER, null, "example.com", 443)).isInstanceOf(RouteDecision.Reject.class);
    }
  }

  @Test
  void allowEntriesAreScopedToTheirPeer() throws IOException {
    try (MeshPlan plan = plainServer()
        .allow(TunnelAllow.builder().principal("spiffe://mesh/a").cidr("198.18.0.0/24").ports(PortRange.of(3306))
            .ports(PortRange.parse("8000-8099")).build())
        .allow(TunnelAllow.builder().domainSuffix("svc.internal").build()).build()) {
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
    try (MeshPlan plan = MeshPlan.builder().bindClient("127.0.0.1:0").peer(peer(1, 5053)).peer(peer(2, 5054))
        .forward(ForwardEntry.parse(":80", "127.0.0.1:8080"), 1).forward(ForwardEntry.parse(":5432", null), 2)
        .build()) {
      assertThat(route(plan, MeshPlan.CLIENT_LISTENER, null, "127.0.0.1", 8080)).isEqualTo(RouteDecision.via("peer-1"));
      assertThat(route(plan, MeshPlan.CLIENT_LISTENER, null, "198.18.0.3", 5432)).isEqualTo(RouteDecision.via("peer-2"));
      assertThat(route(plan, MeshPlan.CLIENT_LISTENER, null, "198.18.0.3", 22)).isInstanceOf(RouteDecision.Reject.class);
      assertThat(plan.captureEntries()).hasSize(2);
      assertThat(plan.outbounds()).hasSize(2);
    }
  }

  static TunnelPeer peer(int index, int port) {
    return TunnelPeer.builder(index).endpoint(Destination.of("127.0.0.1", port)).build();
  }

  @Test
  void invalidSettingsAreNamed() {
    assertThatThrownBy(() -> MeshPlan.builder().bindClient("127.0.0.1:0").peer(peer(1, 5053))
        .forward(ForwardEntry.parse(":80", "127.0.0.1:80"), 7).build())
        .hasMessageContaining("forward entry 0 (:80 -> 127.0.0.1:80): peer 7 (expected one of [1])");
    assertThatThrownBy(() -> MeshPlan.builder().bindClient("127.0.0.1:0").peer(peer(1, 5053)).peer(peer(1, 5054))
        .forward(ForwardEntry.parse(":80", null), 1).build())
        .hasMessageContaining("peer 1: used twice");
    assertThatThrownBy(() -> MeshPlan.builder().bindClient("127.0.0.1:0").peer(peer(1, 5053)).peer(peer(2, 5054))
        .forward(ForwardEntry.parse(":80", "127.0.0.1:80"), 1)
        .forward(ForwardEntry.parse("198.18.0.1:81", "127.0.0.1:80"), 2).build())
        .hasMessageContaining("forward entry 1: ").hasMessageContaining("overlaps entry 0");
    assertThatThrownBy(() -> MeshPlan.builder().bindClient("127.0.0.1:0").peer(peer(1, 5053)).build())
        .hasMessageContaining("client: no forward entry");
    assertThatThrownBy(() -> MeshPlan.builder().healthCheckInterval(Duration.ofSeconds(-1)))
        .hasMessageContaining("healthCheckInterval: PT-1S");
    assertThatThrownBy(() -> TunnelAllow.builder().ports(PortRange.of(80)).build())
        .hasMessageContaining("allow: no cidrs and no domains");
    assertThatThrownBy(() -> TunnelAllow.builder().cidr("10.0.0.0/99").build())
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> TunnelPeer.builder(3).build()).hasMessageContaining("peer 3: no endpoint");
    assertThatThrownBy(() -> TunnelPeer.builder(3).endpoint(Destination.of("127.0.0.1", 5053)).multiplex(true).build())
        .hasMessageContaining("peer 3: multiplex without TLS");
    assertThatThrownBy(() -> TunnelTls.builder().mutual(true).trust(Path.of("ca.pem")).build())
        .hasMessageContaining("tls: mutual without a certificate");
    assertThatThrownBy(() -> TunnelTls.builder().mutual(true).certificate(Path.of("a.pem"), Path.of("a.key")).build())
        .hasMessageContaining("tls: mutual without trust");
    assertThatThrownBy(() -> plainServer().serverTls(TunnelTls.builder().trust(Path.of("ca.pem")).build()).build())
        .hasMessageContaining("tunnel server tls: no certificate");
    assertThatThrownBy(() -> plainServer().serverTls(TunnelTls.builder()
        .certificate(Path.of("/nonexistent.pem"), Path.of("/x.key")).build()).build())
        .isInstanceOf(IOException.class);
  }

  @Test
  void multiplexedPeerHopsNegotiateH2() throws IOException {
    CertificateAuthority ca = CertificateAuthority.builder().commonName("mesh CA").build();
    TunnelTestPki.write(dir, ca, "ca", null);
    TunnelTestPki.write(dir, ca, "a", CertificateRequest.builder().commonName("a").uri("spiffe://mesh/a")
        .usages(CertificateRequest.Usage.CLIENT).build());
    TunnelTls mtls = TunnelTls.builder().certificate(dir.resolve("a.pem"), dir.resolve("a.key"))
        .trust(dir.resolve("ca.pem")).mutual(true).build();
    for (TunnelTls tls : List.of(mtls, TunnelTls.builder().certificate(dir.resolve("a.pem"), dir.resolve("a.key"))
        .trust(dir.resolve("ca.pem")).mutual(true).insecureSkipVerify(true).build(),
        TunnelTls.builder().trust(dir.resolve("ca.pem")).build())) {
      try (MeshPlan plan = client(tls, true)) {
        Hop hop = plan.outbounds().get(0).hops().get(0);
        assertThat(hop.multiplex()).as(tls.toString()).isTrue();
        assertThat(hop.sslContext().orElseThrow().applicationProtocolNegotiator().protocols()).containsExactly("h2");
      }
    }
    try (MeshPlan plan = client(mtls, false)) {
      assertThat(plan.outbounds().get(0).hops().get(0).multiplex()).isFalse();
      assertThat(plan.certificates()).containsOnlyKeys(MeshPlan.CLIENT_LISTENER);
    }
  }

  private static MeshPlan client(TunnelTls tls, boolean multiplex) throws IOException {
    return MeshPlan.builder().bindClient("127.0.0.1:0")
        .peer(TunnelPeer.builder(1).endpoint(Destination.of("127.0.0.1", 5053)).tls(tls).multiplex(multiplex).build())
        .forward(ForwardEntry.parse(":80", "127.0.0.1:80"), 1).build();
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
    try (MeshPlan plan = plainServer().build();
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
