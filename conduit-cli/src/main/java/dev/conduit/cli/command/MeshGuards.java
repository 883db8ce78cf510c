package dev.conduit.cli.command;

import dev.conduit.cli.config.ConduitConfig;
import dev.conduit.cli.config.MeshServerSection;
import dev.conduit.core.observe.CertificateExpiryGauges;
import dev.conduit.core.runtime.Service;
import dev.conduit.core.tunnel.MeshPlan;
import dev.conduit.netfilter.CommandRunner;
import dev.conduit.netfilter.IpNetwork;
import dev.conduit.netfilter.PortRange;
import dev.conduit.netfilter.mesh.InboundEnforcementConfig;
import dev.conduit.netfilter.mesh.InboundEnforcementService;
import java.util.Optional;

/**
 * The mesh's security and data-plane guarantees in a conduit role: {@code server.enforce} (the inbound enforcement
 * table) and {@code conduit_certificate_expiry_seconds} for the tunnels' certificates. The node role adds the deny
 * list ({@link dev.conduit.core.pki.PeerDenyList} fed by {@link dev.conduit.core.mesh.MembershipDenials}) and the
 * policy ({@link dev.conduit.core.mesh.MeshPolicy}) where it applies the membership.
 */
final class MeshGuards {
  private MeshGuards() {}

  /** The enforcement service of {@code server.enforce}, when the tunnel server runs and enforces ports. */
  static Optional<Service> enforcement(ConduitConfig config) {
    return enforcementConfig(config).map(c -> new InboundEnforcementService(c, CommandRunner.system()));
  }

  /** The enforced ports of {@code server.enforce}, when the tunnel server runs and enforces ports. */
  static Optional<InboundEnforcementConfig> enforcementConfig(ConduitConfig config) {
    return config.section(MeshServerSection.SECTION)
        .filter(s -> s.server().enable() && !s.enforcePorts().isEmpty())
        .map(s -> {
          InboundEnforcementConfig.Builder b = InboundEnforcementConfig.builder();
          s.enforcePorts().forEach(p -> b.port(PortRange.parse(p)));
          s.enforceAllowSources().forEach(c -> b.allowSource(IpNetwork.parse(c)));
          return b.build();
        });
  }

  /**
   * Gauges a mesh node's certificate ({@code mesh-node}: its tunnel server and client certificate, following
   * renewals) and the mesh CA it trusts ({@code mesh-ca}).
   */
  static void gaugeNode(MetricsService metrics, dev.conduit.core.mesh.MeshNode node) {
    CertificateExpiryGauges gauges = CertificateExpiryGauges.create(metrics.registry());
    gauges.watch("mesh-node", () -> node.tls().material().certificate()); // throws (NaN) before start
    gauges.watch("mesh-ca", () -> node.tls().material().trustedCertificates().get(0));
  }

  /** Gauges the certificates of {@code plan}'s tunnels in the metrics' registry. */
  static void gaugeCertificates(MetricsService metrics, MeshPlan plan) {
    CertificateExpiryGauges gauges = CertificateExpiryGauges.create(metrics.registry());
    plan.certificates().forEach(gauges::watch);
  }
}
