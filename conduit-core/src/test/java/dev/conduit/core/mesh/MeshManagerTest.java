package dev.conduit.core.mesh;

import static dev.conduit.core.mesh.ManagerFixture.address;
import static dev.conduit.core.mesh.ManagerFixture.admin;
import static dev.conduit.core.mesh.ManagerFixture.node;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Level;
import com.fasterxml.jackson.databind.JsonNode;
import dev.conduit.core.control.enrol.CaPin;
import dev.conduit.core.control.enrol.EnrolmentException;
import dev.conduit.core.control.enrol.JoinToken;
import dev.conduit.core.control.enrol.NodeEnrolment;
import dev.conduit.core.control.store.NodeState;
import dev.conduit.core.pki.CertificateInfo;
import dev.conduit.core.pki.IssuedCertificate;
import dev.conduit.core.pki.PeerIdentity;
import dev.conduit.core.pki.SubjectAlternativeName;
import dev.conduit.core.pki.TlsMaterial;
import dev.conduit.core.testing.CapturedLog;
import dev.conduit.core.testing.Poll;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Enrolment, approval, renewal and revocation against a real manager over real TLS. */
class MeshManagerTest {

  @TempDir
  Path dir;

  @Test
  void enrolsWithATokenOnceAndRenewsOverMutualTls() throws Exception {
    try (MeshManager manager = ManagerFixture.start(dir.resolve("manager"))) {
      String token = admin(manager).createToken(Duration.ofMinutes(10), "host a").get("token").asText();
      Path state = dir.resolve("a");
      TlsMaterial tls;
      try (NodeEnrolment a = node(manager, state, "host-a", "198.18.0.10").token(token).caPin(manager.caPin())
          .build()) {
        tls = a.start();
        assertThat(PeerIdentity.of(tls.certificate()).value()).isEqualTo("spiffe://test.mesh/node/host-a");
        assertThat(CertificateInfo.subjectAlternativeNames(tls.certificate())).contains(
            SubjectAlternativeName.ip("198.18.0.10"), SubjectAlternativeName.ip("fd00::10"));
        assertThat(tls.certificate().getNotAfter().toInstant())
            .isBetween(Instant.now().plus(Duration.ofDays(29)), Instant.now().plus(Duration.ofDays(31)));
        assertThat(Files.getPosixFilePermissions(state.resolve(NodeEnrolment.KEY_FILE)))
            .isEqualTo(PosixFilePermissions.fromString("rw-------"));
        assertThat(Files.readString(state.resolve(NodeEnrolment.PIN_FILE)).trim()).isEqualTo(manager.caPin());
        assertThat(a.expirySeconds()).isGreaterThan(Duration.ofDays(29).toSeconds());

        TlsMaterial renewed = a.renewNow();
        assertThat(renewed.certificate().getSerialNumber()).isNotEqualTo(tls.certificate().getSerialNumber());
        assertThat(renewed.certificate().getPublicKey()).isEqualTo(tls.certificate().getPublicKey());
      }
      // the same token again: refused, and nothing is stored for the second node
      try (NodeEnrolment b = node(manager, dir.resolve("b"), "host-b", "198.18.0.11").token(token)
          .caPin(manager.caPin()).build()) {
        assertThatThrownBy(b::start).isInstanceOf(EnrolmentException.class)
            .hasMessageContaining("was used already").extracting(e -> ((EnrolmentException) e).status()).isEqualTo(401);
      }
      assertThat(manager.store().node("host-b")).isEmpty();
      JsonNode status = admin(manager).status();
      assertThat(status.get("approved").asInt()).isEqualTo(1);
      assertThat(status.get("nodes").get(0).get("certificate_not_after").asText()).isNotEmpty();
      assertThat(status.get("ca_pin").asText()).isEqualTo(manager.caPin());
    }
  }

  @Test
  void twoNodesRacingWithOneTokenGetOneCertificate() throws Exception {
    try (MeshManager manager = ManagerFixture.start(dir.resolve("manager"))) {
      String token = admin(manager).createToken(Duration.ofMinutes(10), null).get("token").asText();
      List<CompletableFuture<String>> racers = new java.util.ArrayList<>();
      java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
      for (int i = 0; i < 4; i++) {
        NodeEnrolment n = node(manager, dir.resolve("r" + i), "racer-" + i, "198.18.0." + (70 + i)).token(token)
            .caPin(manager.caPin()).build();
        racers.add(CompletableFuture.supplyAsync(() -> {
          try (n) {
            go.await();
            n.start();
            return "enrolled";
          } catch (EnrolmentException e) {
            return e.status() + " " + e.getMessage();
          } catch (Exception e) {
            return e.toString();
          }
        }));
      }
      go.countDown();
      List<String> outcomes = new java.util.ArrayList<>();
      for (CompletableFuture<String> r : racers) {
        outcomes.add(r.get(60, TimeUnit.SECONDS));
      }
      assertThat(outcomes).filteredOn(o -> o.equals("enrolled")).hasSize(1);
      assertThat(outcomes).filteredOn(o -> !o.equals("enrolled")).hasSize(3)
          .allSatisfy(o -> assertThat(o).startsWith("401 ").contains("was used already"));
      assertThat(manager.store().nodes()).hasSize(1);
    }
  }

  @Test
  void expiredAndUnknownTokensGetNothing() throws Exception {
    try (MeshManager manager = ManagerFixture.start(dir.resolve("manager"))) {
      JoinToken expired = JoinToken.generate();
      manager.store().createToken(expired.id(), expired.secretHash(), Instant.now().minusSeconds(5), "test", "");
      try (NodeEnrolment c = node(manager, dir.resolve("c"), "host-c", "198.18.0.12").token(expired.value())
          .caPin(manager.caPin()).build()) {
        assertThatThrownBy(c::start).isInstanceOf(EnrolmentException.class).hasMessageContaining("has expired");
      }
      try (NodeEnrolment c = node(manager, dir.resolve("c2"), "host-c", "198.18.0.12")
          .token(JoinToken.generate().value()).caPin(manager.caPin()).build()) {
        assertThatThrownBy(c::start).isInstanceOf(EnrolmentException.class).hasMessageContaining("unknown");
      }
      assertThat(manager.store().nodes()).isEmpty();
    }
  }

  @Test
  void withoutATokenTheNodeWaitsUntilApproved() throws Exception {
    try (MeshManager manager = ManagerFixture.start(dir.resolve("manager"));
         CapturedLog log = CapturedLog.of("dev.conduit.core.control.enrol", Level.WARN);
         NodeEnrolment d = node(manager, dir.resolve("d"), "host-d", "198.18.0.13").caPin(manager.caPin()).build()) {
      CompletableFuture<TlsMaterial> enrolled = CompletableFuture.supplyAsync(() -> {
        try {
          return d.start();
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
      });
      Poll.until("host-d registered as pending", Duration.ofSeconds(30),
          () -> manager.store().node("host-d").isPresent());
      assertThat(manager.store().node("host-d").orElseThrow().state()).isEqualTo(NodeState.PENDING);
      assertThat(enrolled).isNotDone();
      Poll.until("the approve command logged", Duration.ofSeconds(30), () -> log.events().stream()
          .anyMatch(e -> e.getFormattedMessage().contains("to admit it run: conduit manager nodes approve host-d")));
      assertThat(admin(manager).node("host-d").get("state").asText()).isEqualTo("pending");

      admin(manager).approve("host-d");
      TlsMaterial tls = enrolled.get(30, TimeUnit.SECONDS);
      assertThat(PeerIdentity.of(tls.certificate()).value()).isEqualTo("spiffe://test.mesh/node/host-d");
      assertThat(manager.store().node("host-d").orElseThrow().certificateSerial())
          .contains(tls.certificate().getSerialNumber().toString(16));
    }
  }

  @Test
  void aPendingNodeThatComesBackWithATokenIsAdmitted() throws Exception {
    try (MeshManager manager = ManagerFixture.start(dir.resolve("manager"))) {
      Path state = dir.resolve("p");
      NodeEnrolment waiting = node(manager, state, "host-p", "198.18.0.19").caPin(manager.caPin()).build();
      CompletableFuture<TlsMaterial> first = CompletableFuture.supplyAsync(() -> {
        try {
          return waiting.start();
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
      });
      Poll.until("host-p pending", Duration.ofSeconds(30), () -> manager.store().node("host-p").isPresent());
      waiting.close(); // the node stops waiting (a restart), keeping its key
      assertThat(first).failsWithin(Duration.ofSeconds(30));
      String token = admin(manager).createToken(Duration.ofMinutes(5), null).get("token").asText();
      try (NodeEnrolment again = node(manager, state, "host-p", "198.18.0.19").token(token).caPin(manager.caPin())
          .build()) {
        again.start();
      }
      assertThat(manager.store().node("host-p").orElseThrow().state()).isEqualTo(NodeState.APPROVED);
    }
  }

  @Test
  void revokedNodesCannotRenewAndAreListed() throws Exception {
    try (MeshManager manager = ManagerFixture.start(dir.resolve("manager"), b -> b.autoApprove(true));
         NodeEnrolment e = node(manager, dir.resolve("e"), "host-e", "198.18.0.14").caPin(manager.caPin()).build()) {
      TlsMaterial tls = e.start();
      admin(manager).revoke("host-e");
      assertThatThrownBy(e::renewNow).isInstanceOf(EnrolmentException.class)
          .hasMessageContaining("not an approved node").extracting(x -> ((EnrolmentException) x).status())
          .isEqualTo(403);
      assertThat(manager.store().isRevoked(tls.certificate().getSerialNumber().toString(16))).isTrue();
      assertThat(manager.store().auditLog(20)).anySatisfy(a -> {
        assertThat(a.action()).isEqualTo("node.revoke");
        assertThat(a.actor()).isEqualTo("admin-token");
      });
      // a revoked node does not come back by enrolling again with its key
      try (NodeEnrolment again = node(manager, dir.resolve("e"), "host-e", "198.18.0.14").caPin(manager.caPin())
          .build()) {
        Files.delete(dir.resolve("e").resolve(NodeEnrolment.CERTIFICATE_FILE));
        assertThatThrownBy(again::start).isInstanceOf(EnrolmentException.class).hasMessageContaining("is revoked");
      }
      admin(manager).remove("host-e");
      assertThat(manager.store().node("host-e")).isEmpty();
    }
  }

  @Test
  void aRestartKeepsTheCertificateAuthority() throws Exception {
    Path managerDir = dir.resolve("manager");
    String pin;
    try (MeshManager manager = ManagerFixture.start(managerDir, b -> b.autoApprove(true))) {
      pin = manager.caPin();
      try (NodeEnrolment f = node(manager, dir.resolve("f"), "host-f", "198.18.0.15").caPin(pin).build()) {
        f.start();
      }
    }
    assertThat(Files.getPosixFilePermissions(managerDir.resolve(MeshManager.CA_KEY_FILE)))
        .isEqualTo(PosixFilePermissions.fromString("rw-------"));
    try (MeshManager manager = ManagerFixture.start(managerDir)) {
      assertThat(manager.caPin()).isEqualTo(pin);
      // the node's certificate from before the restart still renews (same CA, stored state)
      try (NodeEnrolment f = node(manager, dir.resolve("f"), "host-f", "198.18.0.15").build()) {
        f.start();
        assertThat(f.renewNow().trustedCertificates().get(0).getPublicKey().getEncoded())
            .isEqualTo(manager.enrolment().certificateAuthority().certificate().getPublicKey().getEncoded());
      }
    }
  }

  @Test
  void trustOnFirstUsePinsTheCaAndRefusesAnotherLater() throws Exception {
    Path state = dir.resolve("g");
    try (MeshManager first = ManagerFixture.start(dir.resolve("m1"), b -> b.autoApprove(true))) {
      try (NodeEnrolment g = node(first, state, "host-g", "198.18.0.16").build()) {
        g.start();
      }
      assertThat(Files.readString(state.resolve(NodeEnrolment.PIN_FILE)).trim()).isEqualTo(first.caPin());
    }
    Files.delete(state.resolve(NodeEnrolment.CERTIFICATE_FILE));
    try (MeshManager impostor = ManagerFixture.start(dir.resolve("m2"), b -> b.autoApprove(true));
         NodeEnrolment g = node(impostor, state, "host-g", "198.18.0.16").build()) {
      assertThat(impostor.caPin()).isNotEqualTo(Files.readString(state.resolve(NodeEnrolment.PIN_FILE)).trim());
      assertThatThrownBy(g::start).isInstanceOf(IllegalStateException.class).hasMessageContaining("not the pinned");
      assertThat(impostor.store().nodes()).as("the CSR never reached it").isEmpty();
    }
  }

  @Test
  void aNodeRefusesToStartWithAnExpiredCertificate() throws Exception {
    try (MeshManager manager = ManagerFixture.start(dir.resolve("manager"), b -> b.autoApprove(true)
        .nodeCertificates(dev.conduit.core.control.enrol.CertificateLifetime.of(Duration.ofSeconds(2)), null))) {
      Path state = dir.resolve("h");
      try (NodeEnrolment h = node(manager, state, "host-h", "198.18.0.17").caPin(manager.caPin()).build()) {
        Instant notAfter = h.start().certificate().getNotAfter().toInstant();
        h.close();
        // the wall clock passing the certificate's notAfter announces no event
        Poll.until("the certificate's expiry at " + notAfter, Duration.ofSeconds(30),
            () -> Instant.now().isAfter(notAfter));
      }
      try (NodeEnrolment h = node(manager, state, "host-h", "198.18.0.17").caPin(manager.caPin()).build()) {
        assertThatThrownBy(h::start).isInstanceOf(IllegalStateException.class).hasMessageContaining("expired");
      }
    }
  }

  @Test
  void certificatesRenewByThemselvesAtTwoThirdsOfTheirLifetime() throws Exception {
    try (MeshManager manager = ManagerFixture.start(dir.resolve("manager"), b -> b.autoApprove(true)
        .nodeCertificates(dev.conduit.core.control.enrol.CertificateLifetime.of(Duration.ofSeconds(6)), null));
         NodeEnrolment i = node(manager, dir.resolve("i"), "host-i", "198.18.0.18").caPin(manager.caPin()).build()) {
      CompletableFuture<TlsMaterial> renewed = new CompletableFuture<>();
      i.onRenewed(renewed::complete);
      TlsMaterial first = i.start();
      TlsMaterial next = renewed.get(60, TimeUnit.SECONDS);
      assertThat(next.certificate().getSerialNumber()).isNotEqualTo(first.certificate().getSerialNumber());
      assertThat(i.material()).isSameAs(next);
    }
  }

  @Test
  void operatorsAuthenticateByTokenOrCertificate() throws Exception {
    try (MeshManager manager = ManagerFixture.start(dir.resolve("manager"))) {
      ManagerAdminClient wrong = ManagerAdminClient.withToken(List.of(address(manager)), manager.caPin(),
          "not-the-admin-token-at-all");
      assertThatThrownBy(wrong::status).isInstanceOf(EnrolmentException.class).hasMessageContaining("Bearer");
      IssuedCertificate operator = manager.enrolment().issueAdminCertificate("alice", Duration.ofHours(1));
      ManagerAdminClient alice = ManagerAdminClient.withCertificate(List.of(address(manager)), manager.caPin(),
          operator.privateKey().orElseThrow(), operator.chain());
      assertThat(alice.createToken(Duration.ofMinutes(5), null).get("token").asText()).contains(".");
      assertThat(manager.store().auditLog(5)).anySatisfy(a -> assertThat(a.actor()).isEqualTo("admin:alice"));
      assertThat(CaPin.of(manager.enrolment().certificateAuthority().certificate())).isEqualTo(manager.caPin());
    }
  }
}
