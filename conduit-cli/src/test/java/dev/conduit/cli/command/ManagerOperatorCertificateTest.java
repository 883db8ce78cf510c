package dev.conduit.cli.command;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.cli.Cli;
import dev.conduit.core.control.enrol.CertificateLifetime;
import dev.conduit.core.control.store.StoreConfig;
import dev.conduit.core.mesh.MeshManager;
import dev.conduit.core.pki.CertificateAuthority;
import dev.conduit.core.pki.CertificateRequest;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code conduit manager ... --cert FILE --key FILE}: an operator certificate issued by the manager's CA drives the
 * admin API without a token (the audit log names the operator); a certificate of the same name from another CA is
 * refused with one line, and so is --cert without --key.
 */
class ManagerOperatorCertificateTest {

  @TempDir
  Path dir;

  @Test
  void anOperatorCertificateStandsForTheAdminToken() throws Exception {
    try (MeshManager manager = MeshManager.builder(StoreConfig.sqlite(dir.resolve("manager.db")).build(),
            dir.resolve("data")).bind(new InetSocketAddress("127.0.0.1", 0)).trustDomain("cli.mesh")
        .adminToken("cli-admin-token-0123456789")
        .nodeCertificates(CertificateLifetime.of(Duration.ofDays(30)), "conduit tests").build().start()) {
      String address = "127.0.0.1:" + manager.address().getPort();
      manager.enrolment().issueAdminCertificate("alice", Duration.ofHours(1))
          .writeTo(dir.resolve("alice.pem"), dir.resolve("alice.key"));
      Cli.Result token = Cli.run("manager", "token", "create", "--ttl", "1h", "--manager", address, "--ca-pin",
          manager.caPin(), "--cert", dir.resolve("alice.pem").toString(), "--key", dir.resolve("alice.key").toString());
      assertThat(token.exitCode()).as(token.toString()).isZero();
      assertThat(token.out().strip()).contains(".");
      assertThat(manager.store().auditLog(5)).anySatisfy(a -> assertThat(a.actor()).isEqualTo("admin:alice"));

      CertificateAuthority other = CertificateAuthority.builder().commonName("not the mesh CA").build();
      other.issue(CertificateRequest.builder().commonName("mallory").uri("spiffe://cli.mesh/admin/mallory")
          .usages(CertificateRequest.Usage.CLIENT).build())
          .writeTo(dir.resolve("mallory.pem"), dir.resolve("mallory.key"));
      Cli.Result refused = Cli.run("manager", "status", "--manager", address, "--ca-pin", manager.caPin(), "--cert",
          dir.resolve("mallory.pem").toString(), "--key", dir.resolve("mallory.key").toString());
      assertThat(refused.exitCode()).as(refused.toString()).isNotZero();
      assertThat(refused.errLines()).hasSize(1);
      assertThat(manager.store().auditLog(20)).noneSatisfy(a -> assertThat(a.actor()).contains("mallory"));

      Cli.Result half = Cli.run("manager", "status", "--manager", address, "--ca-pin", manager.caPin(), "--cert",
          dir.resolve("alice.pem").toString());
      assertThat(half.exitCode()).isNotZero();
      assertThat(half.err()).contains("--cert and --key go together");
      Cli.Result after = Cli.run("manager", "status", "--manager", address, "--ca-pin", manager.caPin(), "--cert",
          dir.resolve("alice.pem").toString(), "--key", dir.resolve("alice.key").toString());
      assertThat(after.exitCode()).as("the manager serves on: %s", after).isZero();
    }
  }
}
