package dev.conduit.core.control.push;

import static dev.conduit.core.control.push.PushFixture.CA;
import static dev.conduit.core.control.push.PushFixture.await;
import static dev.conduit.core.control.push.PushFixture.state;
import static dev.conduit.core.control.push.PushFixture.status;
import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.ConduitResources;
import dev.conduit.core.observe.CertificateExpiryGauges;
import dev.conduit.core.pki.RenewingTlsMaterial;
import dev.conduit.core.pki.TlsMaterial;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.math.BigInteger;
import java.net.InetSocketAddress;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.Test;

/**
 * The push server's certificate renews itself before it expires ({@link RenewingTlsMaterial}, lifetime of seconds):
 * new handshakes get the new certificate, the agent connected before keeps its connection (no new snapshot, same
 * address) and goes on receiving changes even after the old certificate expired; the expiry gauge follows.
 */
class PushCertificateRenewalTest {

  @Test
  void renewsBeforeExpiryWithoutDroppingTheConnectedAgent() throws Exception {
    AtomicInteger issued = new AtomicInteger();
    RenewingTlsMaterial tls = RenewingTlsMaterial.builder(() -> {
      issued.incrementAndGet();
      return TlsMaterial.of(CA.mintServerLeaf("127.0.0.1", Duration.ofSeconds(8)), CA.certificate());
    }).renewAt(0.5).name("push test").build();
    X509Certificate first = tls.get().certificate();
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    CertificateExpiryGauges expiry = CertificateExpiryGauges.create(registry);
    expiry.watch("push-server", () -> tls.get().certificate());
    ConduitResources resources = ConduitResources.create();
    PushServer server = PushServer.builder(resources).tls(tls).heartbeat(Duration.ofSeconds(1), Duration.ofSeconds(60))
        .build();
    PushFixture.RecordingApplier applier = new PushFixture.RecordingApplier();
    PushClient agent = null;
    try {
      InetSocketAddress address = server.start();
      server.publish(state(1, "node/a", "198.18.0.1"));
      agent = PushFixture.agent(resources, "a", applier, PushFixture.uri(address)).build();
      agent.start();
      await("the first snapshot", () -> applier.updates.size() == 1);
      String connectedFrom = status(server, "a").remoteAddress();
      // the agent's handshake got this certificate or an older one (on a busy machine a renewal may be past)
      X509Certificate atConnect = tls.get().certificate();
      int issuedAtConnect = issued.get();
      assertThat(expiry.secondsLeft("push-server")).isBetween(0.0, 8.0);

      // renewed at half its lifetime; the agent's certificate then expires while the agent stays connected
      await("a renewal", () -> issued.get() > issuedAtConnect);
      await("the agent's certificate's expiry", () -> System.currentTimeMillis() > atConnect.getNotAfter().getTime());
      BigInteger now = servedSerial(address);
      assertThat(now).as("a new handshake gets a renewed certificate").isNotEqualTo(first.getSerialNumber())
          .isNotEqualTo(atConnect.getSerialNumber());
      assertThat(expiry.secondsLeft("push-server")).isPositive();
      assertThat(registry.scrape()).contains("conduit_certificate_expiry_seconds{certificate=\"push-server\"}");

      server.publish(state(2, "node/a", "198.18.0.1", "node/b", "198.18.0.2"));
      await("the change on the old connection", () -> applier.last().state().version() == 2);
      assertThat(status(server, "a").snapshotsSent()).as("no reconnection: one snapshot").isEqualTo(1);
      assertThat(status(server, "a").remoteAddress()).isEqualTo(connectedFrom);
      assertThat(status(server, "a").connected()).isTrue();
    } finally {
      if (agent != null) {
        agent.close();
      }
      server.close();
      tls.close();
      resources.close();
    }
  }

  /** The serial of the certificate a fresh TLS handshake with the push server gets. */
  private static BigInteger servedSerial(InetSocketAddress address) throws Exception {
    try (SSLSocket s = (SSLSocket) PushFixture.jdkContext(PushFixture.nodeCertificate(CA, "probe"))
        .getSocketFactory().createSocket("127.0.0.1", address.getPort())) {
      s.setSoTimeout(20_000);
      s.startHandshake();
      return ((X509Certificate) s.getSession().getPeerCertificates()[0]).getSerialNumber();
    }
  }

  @Test
  void theGaugeReadsSecondsLeftAndNanWhenUnknown() {
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    X509Certificate cert = CA.mintServerLeaf("127.0.0.1", Duration.ofDays(2)).certificate();
    java.time.Clock clock = java.time.Clock.fixed(cert.getNotAfter().toInstant().minusSeconds(3600),
        java.time.ZoneOffset.UTC);
    try (CertificateExpiryGauges gauges = CertificateExpiryGauges.create(registry, clock)) {
      gauges.watch("tunnel-server", cert);
      gauges.watch("tunnel-client", () -> null);
      gauges.watch("mesh-ca", () -> {
        throw new IllegalStateException("not loaded");
      });
      assertThat(gauges.secondsLeft("tunnel-server")).isEqualTo(3600.0);
      assertThat(gauges.secondsLeft("tunnel-client")).isNaN();
      assertThat(gauges.secondsLeft("mesh-ca")).isNaN();
      assertThat(gauges.secondsLeft("unknown")).isNaN();
      assertThat(registry.scrape()).contains("conduit_certificate_expiry_seconds{certificate=\"tunnel-server\"} 3600.0");
      gauges.unwatch("tunnel-client");
      assertThat(registry.scrape()).doesNotContain("tunnel-client");
    }
    assertThat(registry.scrape()).doesNotContain("conduit_certificate_expiry_seconds{");
  }

  @Test
  void expiredCertificatesReadNegative() {
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    X509Certificate cert = CA.mintServerLeaf("127.0.0.1", Duration.ofDays(1)).certificate();
    java.time.Clock after = java.time.Clock.fixed(cert.getNotAfter().toInstant().plusSeconds(60),
        java.time.ZoneOffset.UTC);
    CertificateExpiryGauges gauges = CertificateExpiryGauges.create(registry, after);
    gauges.watch("tunnel-server", cert);
    assertThat(gauges.secondsLeft("tunnel-server")).isEqualTo(-60.0);
    assertThat(List.of(registry.scrape().split("\n"))).anyMatch(l -> l.startsWith(
        "conduit_certificate_expiry_seconds{certificate=\"tunnel-server\"} -60"));
  }
}
