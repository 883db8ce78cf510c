package dev.conduit.netfilter;

import dev.conduit.netfilter.testing.NetNs;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.conduit.core.pki.CertificateAuthority;
import dev.conduit.core.pki.CertificateRequest;
import dev.conduit.core.pki.CertificateRequest.Usage;
import dev.conduit.netfilter.mesh.InboundEnforcement;
import dev.conduit.netfilter.mesh.InboundEnforcementConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code server.enforce} in network namespaces made by the test: host S runs a service on port 8306 and a conduit
 * mTLS tunnel server; host P, outside S, runs a conduit tunnel client. With the enforcement installed, P connecting
 * to the service in clear is refused over IPv4 and IPv6, while a connection P sends through the tunnel reaches it
 * (the service sees it come from S itself). The table is conduit's, replaced after a crash, removed on close.
 * Root only; skipped elsewhere, failed under CI=true.
 */
class MeshEnforceSystemTest {
  static final int SERVICE = 8306;
  static final String S4 = "198.18.6.1";
  static final String S6 = "fd00:6::1";

  @TempDir
  Path dir;

  private static CommandRunner.Result curl(NetNs ns, String... args) throws NetfilterException {
    List<String> argv = new ArrayList<>(List.of("curl", "-sS", "--max-time", "15"));
    argv.addAll(List.of(args));
    return ns.runner.run(argv, "");
  }

  @Test
  void anOutsideHostIsRefusedOnAnEnforcedPortAndTheMeshReachesIt() throws Exception {
    NetNs.requireRootAnd("nft", "curl");
    CertificateAuthority ca = CertificateAuthority.builder().commonName("mesh CA").build();
    Files.writeString(dir.resolve("ca.pem"), ca.certificatePem());
    ca.issue(CertificateRequest.builder().commonName("s").uri("spiffe://mesh/node/s").ipAddress(S4)
        .usages(Usage.SERVER, Usage.CLIENT).build()).writeTo(dir.resolve("s.pem"), dir.resolve("s.key"));
    ca.issue(CertificateRequest.builder().commonName("p").uri("spiffe://mesh/node/p").usages(Usage.CLIENT)
        .build()).writeTo(dir.resolve("p.pem"), dir.resolve("p.key"));

    try (NetNs s = NetNs.bare(); NetNs p = NetNs.bare()) {
      NetNs.link(s, "ms0", List.of(S4 + "/24", S6 + "/64"), p, "mp0", List.of("198.18.6.2/24", "fd00:6::2/64"));
      try (Child origin = Child.start(s, OriginServer.class, String.valueOf(SERVICE));
           Child server = Child.start(s, MeshTunnelMain.class, "server", dir.toString(), "s", S4 + ":5053",
               "127.0.0.1/32", S4 + "/32");
           Child client = Child.start(p, MeshTunnelMain.class, "client", dir.toString(), "p", S4 + ":5053")) {
        origin.awaitPrefix("READY", 60);
        server.awaitPrefix("READY", 60);
        client.awaitPrefix("READY", 60);
        String direct4 = "http://" + S4 + ":" + SERVICE + "/";
        String direct6 = "http://[" + S6 + "]:" + SERVICE + "/";
        // before: the service is open to anyone who reaches S
        assertThat(curl(p, direct4).stdout()).startsWith("peer=198.18.6.2:");
        assertThat(curl(p, direct6).stdout()).startsWith("peer=fd00:6:0:0:0:0:0:2:");

        InboundEnforcementConfig config = InboundEnforcementConfig.builder().port(PortRange.of(SERVICE)).build();
        try (InboundEnforcement enforcement = InboundEnforcement.install(config, s.runner)) {
          CommandRunner.Result refused4 = curl(p, direct4);
          assertThat(refused4.exitCode()).as("curl exit (7: connection refused) %s", refused4.stderr()).isEqualTo(7);
          CommandRunner.Result refused6 = curl(p, direct6);
          assertThat(refused6.exitCode()).as("curl exit %s", refused6.stderr()).isEqualTo(7);

          // through the mesh: P's conduit tunnels to S's, which dials the service on its own host
          // the first tunnel warms two cold JVMs up: on a busy machine its dial may time out, so retry to a deadline
          CommandRunner.Result viaLoopback = curl(p, "--socks5", "127.0.0.1:1080", "http://127.0.0.1:" + SERVICE + "/");
          long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(90);
          while (!viaLoopback.stdout().startsWith("peer=") && System.nanoTime() < deadline) {
            viaLoopback = curl(p, "--socks5", "127.0.0.1:1080", "http://127.0.0.1:" + SERVICE + "/");
          }
          assertThat(viaLoopback.stdout()).as("%s\nclient: %s\nserver: %s", viaLoopback.stderr(), client.lines(),
              server.lines()).startsWith("peer=127.0.0.1:");
          CommandRunner.Result viaOwnAddress = curl(p, "--socks5", "127.0.0.1:1080", direct4);
          assertThat(viaOwnAddress.stdout()).as(viaOwnAddress.stderr()).startsWith("peer=" + S4 + ":");
          // S's own processes keep reaching it
          assertThat(curl(s, direct4).stdout()).startsWith("peer=" + S4 + ":");
          assertThat(enforcement.show()).contains(InboundEnforcement.OWNER).contains(String.valueOf(SERVICE));

          // a conduit that crashed left its table: the next install replaces it, one table remains
          try (InboundEnforcement again = InboundEnforcement.install(config, s.runner)) {
            assertThat(s.run("nft", "list", "tables").lines().filter(l -> l.contains("conduit_enforce")))
                .hasSize(1);
            assertThat(curl(p, direct4).exitCode()).isEqualTo(7);
          }
        }
        // removed on close: open again
        assertThat(s.run("nft", "list", "tables")).doesNotContain("conduit_enforce");
        assertThat(curl(p, direct4).stdout()).startsWith("peer=198.18.6.2:");

        // crash clean-up without a restart, and a foreign table of the same name is never touched
        InboundEnforcement.install(config, s.runner); // "crashes": never closed
        assertThat(InboundEnforcement.removeStale(config.table(), s.runner)).isTrue();
        assertThat(InboundEnforcement.removeStale(config.table(), s.runner)).isFalse();
        s.run("nft", "add", "table", "inet", "conduit_enforce");
        assertThatThrownBy(() -> InboundEnforcement.install(config, s.runner))
            .isInstanceOf(NetfilterException.class).hasMessageContaining("is not conduit's");
        assertThat(s.run("nft", "list", "tables")).contains("conduit_enforce");
      }
    }
  }
}
