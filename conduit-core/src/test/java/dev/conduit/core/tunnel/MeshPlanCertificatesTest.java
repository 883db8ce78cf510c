package dev.conduit.core.tunnel;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.Destination;
import dev.conduit.core.testing.Poll;
import dev.conduit.core.inbound.OriginalDestinationResolver;
import dev.conduit.core.observe.CertificateExpiryGauges;
import dev.conduit.core.pki.CertificateAuthority;
import dev.conduit.core.pki.CertificateRequest;
import dev.conduit.core.pki.CertificateRequest.Usage;
import dev.conduit.core.pki.PeerDenyList;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A mesh plan names the certificates its tunnels present for the expiry gauge, and follows renewed files. */
class MeshPlanCertificatesTest {
  static final CertificateAuthority CA = CertificateAuthority.builder().commonName("mesh CA").build();

  @TempDir
  Path dir;

  TunnelTls mtls(String name) {
    return TunnelTls.builder().certificate(dir.resolve(name + ".pem"), dir.resolve(name + ".key"))
        .trust(dir.resolve("ca.pem")).mutual(true).build();
  }

  @Test
  void tunnelCertificatesAreGaugedAndRenewalsShow() throws Exception {
    TunnelTestPki.write(dir, CA, "ca", null);
    TunnelTestPki.write(dir, CA, "b", CertificateRequest.builder().commonName("b").ipAddress("127.0.0.1")
        .usages(Usage.SERVER, Usage.CLIENT).validity(Duration.ofDays(10)).build());
    MeshPlan.Builder config = MeshPlan.builder().bindClient("127.0.0.1:0")
        .peer(TunnelPeer.builder(1).endpoint(Destination.of("127.0.0.1", 5053)).tls(mtls("b")).build())
        .peer(TunnelPeer.builder(7).endpoint(Destination.of("127.0.0.1", 5054)).tls(mtls("b")).build())
        .forward(ForwardEntry.parse(":80", null), 1)
        .bindServer("127.0.0.1:0").serverTls(mtls("b"));
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    try (MeshPlan plan = config.resolver(OriginalDestinationResolver.NONE)
        .tlsCheckInterval(Duration.ofMillis(50)).peerGuard(PeerDenyList.create()).build()) {
      assertThat(plan.certificates()).containsOnlyKeys("tunnel-server", "tunnel-client", "tunnel-client-7");
      assertThat(plan.listeners().get(1).peerGuard()).isPresent();
      assertThat(plan.outbounds().get(0).hops().get(0).peerGuard()).isPresent();
      CertificateExpiryGauges gauges = CertificateExpiryGauges.create(registry);
      plan.certificates().forEach(gauges::watch);
      assertThat(gauges.secondsLeft("tunnel-server")).isBetween(9.0 * 86400, 10.0 * 86400);

      TunnelTestPki.write(dir, CA, "b", CertificateRequest.builder().commonName("b").ipAddress("127.0.0.1")
          .usages(Usage.SERVER, Usage.CLIENT).validity(Duration.ofDays(30)).build());
      Poll.until("the renewed file read", Duration.ofSeconds(30),
          () -> gauges.secondsLeft("tunnel-server") >= 29.0 * 86400);
      assertThat(registry.scrape()).contains("conduit_certificate_expiry_seconds{certificate=\"tunnel-client\"}");
    }
  }
}
