package dev.conduit.cli.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** {@code client.multiplex}: every mesh member's tunnels (mesh mode), every TLS peer's (client mode). */
class ClientMultiplexConfigTest {
  private static final String MEMBER = """
      manager:
        enable: true
        dial: {network: tcp, addresses: [198.18.0.17:5051]}
      client:
        enable: true
        network: tcp
        listen: 127.0.0.1:5052
        check_time: 60
      """;

  private static ConduitConfig load(String yaml) {
    return ConfigLoader.standard().load(yaml, "conduit.yaml");
  }

  @Test
  void aMeshMemberReadsItAndDescribesIt() {
    ConduitConfig on = load(MEMBER + "  multiplex: true\n");
    assertThat(on.section(MeshClientSection.SECTION).orElseThrow().multiplex()).isTrue();
    assertThat(on.describe()).contains("  multiplex: true");
    ConduitConfig off = load(MEMBER);
    assertThat(off.section(MeshClientSection.SECTION).orElseThrow().multiplex()).isFalse();
    assertThat(off.describe()).doesNotContain("multiplex");
    assertThatThrownBy(() -> load(MEMBER + "  multiplex: often\n")).isInstanceOf(ConfigException.class)
        .hasMessageStartingWith("conduit.yaml:9:").hasMessageContaining("often");
  }

  @Test
  void inClientModeItMultiplexesEveryPeerWithTls() {
    MeshConfig.Tls tls = new MeshConfig.Tls(true, true, List.of("ca.pem"), List.of(), false);
    MeshConfig.Client client = new MeshConfig.Client(true, "tcp", "127.0.0.1:5052", 60,
        List.of(new MeshConfig.Forward(":80", null, 1)),
        List.of(new MeshConfig.Peer(1, "tcp", List.of("198.18.0.11:5053"), tls),
            new MeshConfig.Peer(2, "tcp", List.of("198.18.0.12:5053"), null)));
    List<MeshConfig.Peer> peers = new MeshClientSection(client, Optional.empty(), true).effectiveClient().peers();
    assertThat(peers.get(0).tls().multiplex()).isTrue();
    assertThat(peers.get(1).tls()).as("plain TCP stays plain").isNull();
    assertThat(new MeshClientSection(client, Optional.empty()).effectiveClient()).isSameAs(client);
  }
}
