package dev.conduit.cli.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.conduit.core.outbound.Hop;
import dev.conduit.core.pki.CertificateAuthority;
import dev.conduit.core.pki.CertificateRequest;
import dev.conduit.core.route.RouteDecision;
import dev.conduit.core.tunnel.MeshPlan;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The {@code client} and {@code server} sections as written, mapped onto core's typed tunnel settings. */
class MeshConfigTest {

  @TempDir
  Path dir;

  static MeshConfig.Server plainServer(List<MeshConfig.Allow> allow) {
    return new MeshConfig.Server(true, new MeshConfig.Listen("tcp", "127.0.0.1:0", null), allow);
  }

  @Test
  void sectionsMapOntoTheTypedPlan() throws IOException {
    MeshConfig.Client client = new MeshConfig.Client(true, "", "127.0.0.1:0", 0,
        List.of(new MeshConfig.Forward(":80", "127.0.0.1:8080", 1), new MeshConfig.Forward(":5432", null, 2)),
        List.of(new MeshConfig.Peer(1, "tcp", List.of("127.0.0.1:5053"), null),
            new MeshConfig.Peer(2, "tcp", List.of("127.0.0.1:5054"), null)));
    MeshConfig.Server server = plainServer(List.of(
        new MeshConfig.Allow("spiffe://mesh/a", List.of("198.18.0.0/24"), List.of("3306", "8000-8099"), List.of()),
        new MeshConfig.Allow("*", List.of(), List.of(), List.of(".svc.internal", "*.corp.internal", "db"))));
    try (MeshPlan plan = new MeshConfig(client, server).plan()) {
      assertThat(plan.outbounds()).extracting(o -> o.name()).containsExactly("peer-1", "peer-2");
      assertThat(plan.captureEntries()).hasSize(2);
      assertThat(plan.listeners()).extracting(l -> l.name())
          .containsExactly(MeshPlan.CLIENT_LISTENER, MeshPlan.SERVER_LISTENER);
      // the "*" peer is any peer: only the spiffe entry's principal can fail to match without mtls
      assertThat(plan.warnings()).filteredOn(w -> w.contains("never matches")).singleElement().asString()
          .contains("spiffe://mesh/a");
      assertThat(plan.rules()).extracting(r -> r.decision()).contains(RouteDecision.via("peer-1"),
          RouteDecision.via("peer-2"));
    }
    try (MeshPlan none = new MeshConfig(new MeshConfig.Client(false, null, null, 0, null, null),
        new MeshConfig.Server(false, null, null)).plan()) {
      assertThat(none.listeners()).isEmpty();
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
    assertThatThrownBy(() -> new MeshConfig(new MeshConfig.Client(true, "tcp", "127.0.0.1:0", 0,
        List.of(new MeshConfig.Forward(":80", null, 1)), List.of(new MeshConfig.Peer(1, "tcp", List.of("nohost"),
            null))), null).plan())
        .hasMessageContaining("client.peers[0].addresses: nohost (expected: host:port)");
    assertThatThrownBy(() -> new MeshConfig(null, plainServer(List.of(
        new MeshConfig.Allow("x", List.of(), List.of("80"), List.of())))).plan())
        .hasMessageContaining("server.allow[0]: no cidrs and no domains");
    assertThatThrownBy(() -> new MeshConfig(null, plainServer(List.of(
        new MeshConfig.Allow("x", List.of("10.0.0.0/8"), List.of("70000"), List.of())))).plan())
        .hasMessageStartingWith("server.allow[0]: ").hasMessageContaining("70000");
    assertThatThrownBy(() -> new MeshConfig(null, new MeshConfig.Server(true, new MeshConfig.Listen("tcp", "127.0.0.1:0",
        new MeshConfig.Tls(true, true, List.of(), List.of(new MeshConfig.CertKey("/nonexistent.pem", "/x.key")),
            false)), null)).plan())
        .hasMessageContaining("server.listen.tls.cas: empty");
    assertThatThrownBy(() -> new MeshConfig(null, new MeshConfig.Server(true, new MeshConfig.Listen("tcp", "127.0.0.1:0",
        new MeshConfig.Tls(true, true, List.of("/ca.pem"), List.of(new MeshConfig.CertKey("", "/x.key")),
            false)), null)).plan())
        .hasMessageContaining("server.listen.tls.certs[0].cert: empty (expected: a PEM file path)");
  }

  @Test
  void multiplexKeyMakesAMultiplexedPeerHopAndIsValidated() throws IOException {
    CertificateAuthority ca = CertificateAuthority.builder().commonName("mesh CA").build();
    Files.writeString(dir.resolve("ca.pem"), ca.certificatePem());
    ca.issue(CertificateRequest.builder().commonName("a").uri("spiffe://mesh/a")
        .usages(CertificateRequest.Usage.CLIENT).build()).writeTo(dir.resolve("a.pem"), dir.resolve("a.key"));
    List<String> cas = List.of(dir.resolve("ca.pem").toString());
    List<MeshConfig.CertKey> certs = List.of(new MeshConfig.CertKey(dir.resolve("a.pem").toString(),
        dir.resolve("a.key").toString()));
    for (MeshConfig.Tls tls : List.of(new MeshConfig.Tls(true, true, cas, certs, false, true),
        new MeshConfig.Tls(true, true, cas, certs, true, true), new MeshConfig.Tls(true, false, cas, List.of(), false,
            true))) {
      try (MeshPlan plan = new MeshConfig(client(tls), null).plan()) {
        Hop hop = plan.outbounds().get(0).hops().get(0);
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
    assertThatThrownBy(() -> new MeshConfig(client(new MeshConfig.Tls(true, true, List.of(), certs, false)), null)
        .plan())
        .hasMessageContaining("client.peers[0].tls: mtls needs certs");
  }

  private static MeshConfig.Client client(MeshConfig.Tls tls) {
    return new MeshConfig.Client(true, "tcp", "127.0.0.1:0", 0, List.of(new MeshConfig.Forward(":80", "127.0.0.1:80", 1)),
        List.of(new MeshConfig.Peer(1, "tcp", List.of("127.0.0.1:5053"), tls)));
  }
}
