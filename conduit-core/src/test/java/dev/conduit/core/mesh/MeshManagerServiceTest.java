package dev.conduit.core.mesh;

import static dev.conduit.core.mesh.ManagerFixture.ADMIN_TOKEN;
import static dev.conduit.core.mesh.ManagerFixture.node;
import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.testing.Poll;
import com.fasterxml.jackson.databind.JsonNode;
import dev.conduit.core.ConduitResources;
import dev.conduit.core.control.enrol.CertificateLifetime;
import dev.conduit.core.control.enrol.NodeEnrolment;
import dev.conduit.core.control.push.PushClient;
import dev.conduit.core.control.push.PushServer;
import dev.conduit.core.control.push.PushUpdate;
import dev.conduit.core.control.store.NodeState;
import dev.conduit.core.control.store.StoreConfig;
import dev.conduit.core.pki.CertificateAuthority;
import dev.conduit.core.pki.CertificateRequest;
import dev.conduit.core.pki.TlsMaterial;
import dev.conduit.core.runtime.ConduitRuntime;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A manager run by the runtime publishes the membership on its push channel: a real node enrolled with a join
 * token watches it with a real {@link PushClient} and its node certificate.
 */
class MeshManagerServiceTest {

  @TempDir
  Path dir;

  private MeshManagerService service() {
    Path m = dir.resolve("m");
    return new MeshManagerService(MeshManager.builder(StoreConfig.sqlite(m.resolve("manager.db")).build(), m)
        .bind(new InetSocketAddress("127.0.0.1", 0)).trustDomain("test.mesh").adminToken(ADMIN_TOKEN)
        .nodeCertificates(CertificateLifetime.of(Duration.ofDays(30)), "conduit tests"))
        .withPush(new InetSocketAddress("127.0.0.1", 0));
  }

  private static PushClient client(ConduitResources resources, MeshManagerService service, TlsMaterial tls,
      Path stateFile, BlockingQueue<PushUpdate> seen) {
    int port = service.push().orElseThrow().address().orElseThrow().getPort();
    return PushClient.builder(resources)
        .addresses(List.of(URI.create("wss://127.0.0.1:" + port + PushServer.DEFAULT_PATH)))
        .trustAnchors(List.of(service.manager().enrolment().certificateAuthority().certificate()))
        .clientCertificate(tls).identity("host-a", "both").stateFile(stateFile)
        .backoff(Duration.ofMillis(50), Duration.ofMillis(500))
        .applier(update -> {
          seen.add(update);
          return update.state().hash();
        }).build();
  }

  private static PushUpdate await(BlockingQueue<PushUpdate> seen, Predicate<PushUpdate> condition) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (true) {
      PushUpdate u = seen.poll(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      if (u == null) {
        throw new AssertionError("no matching update within 30 s");
      }
      if (condition.test(u)) {
        return u;
      }
    }
  }

  private static void poll(String what, BooleanSupplier condition) {
    Poll.until(what, java.time.Duration.ofSeconds(30), condition);
  }

  @Test
  void membershipIsPushedToEnrolledNodesAndRefusedToOthers() throws Exception {
    ConduitResources resources = ConduitResources.create();
    MeshManagerService service = service();
    ConduitRuntime runtime = ConduitRuntime.builder().service(service).build().start();
    long servedVersion;
    TlsMaterial aMaterial;
    try {
      MeshManager manager = service.manager();
      ManagerAdminClient admin = ManagerFixture.admin(manager);
      String token = admin.createToken(Duration.ofMinutes(10), null).get("token").asText();
      try (NodeEnrolment a = node(manager, dir.resolve("a"), "host-a", "198.18.0.90").caPin(manager.caPin())
          .token(token).build();
           NodeEnrolment b = node(manager, dir.resolve("b"), "host-b", "198.18.0.91").caPin(manager.caPin())
               .build()) {
        TlsMaterial aTls = a.start();
        aMaterial = aTls;
        BlockingQueue<PushUpdate> seen = new LinkedBlockingQueue<>();
        PushClient client = client(resources, service, aTls, dir.resolve("a/push-state.json"), seen);
        client.start();
        try {
          PushUpdate snapshot = await(seen, u -> u.kind() == PushUpdate.Kind.SNAPSHOT);
          assertThat(snapshot.state().resources()).containsKey("node/host-a").doesNotContainKey("node/host-b");
          assertThat(snapshot.state().version()).isEqualTo(manager.store().version());
          JsonNode self = snapshot.state().resources().get("node/host-a");
          assertThat(self.get("identity").asText()).isEqualTo("spiffe://test.mesh/node/host-a");
          assertThat(self.get("server_address").asText()).isEqualTo("198.18.0.90:5053");
          assertThat(self.get("addresses").toString()).contains("198.18.0.90", "fd00::90");

          // host-b waits for approval (no token); approving it reaches host-a as a delta
          CompletableFuture<TlsMaterial> bTls = CompletableFuture.supplyAsync(() -> {
            try {
              return b.start();
            } catch (Exception e) {
              throw new IllegalStateException(e);
            }
          });
          poll("host-b pending", () -> manager.store().node("host-b").map(n -> n.state() == NodeState.PENDING)
              .orElse(false));
          admin.approve("host-b");
          PushUpdate approved = await(seen, u -> u.state().resources().containsKey("node/host-b"));
          assertThat(approved.kind()).isEqualTo(PushUpdate.Kind.DELTA);
          TlsMaterial bMaterial = bTls.get(30, TimeUnit.SECONDS);

          // host-b watches too; revoking it closes its channel and refuses it from then on
          BlockingQueue<PushUpdate> bSeen = new LinkedBlockingQueue<>();
          PushClient clientB = client(resources, service, bMaterial, dir.resolve("b/push-state.json"), bSeen);
          CertificateAuthority other = CertificateAuthority.builder().commonName("not the mesh").build();
          TlsMaterial forged = TlsMaterial.of(other.issue(CertificateRequest.builder().commonName("host-a")
              .uri("spiffe://test.mesh/node/host-a").build()), other.certificate());
          BlockingQueue<PushUpdate> xSeen = new LinkedBlockingQueue<>();
          PushClient refusedX = client(resources, service, forged, dir.resolve("x-push-state.json"), xSeen);
          clientB.start();
          try {
            await(bSeen, u -> u.state().resources().containsKey("node/host-b"));
            poll("host-b connected", () -> clientB.connectedTo().isPresent());

            admin.revoke("host-b");
            PushUpdate revoked = await(seen, u -> u.state().resources().containsKey("denied/host-b"));
            assertThat(revoked.state().resources()).doesNotContainKey("node/host-b").containsKey("node/host-a");

            // status: host-a acknowledged the newest version
            long version = revoked.state().version();
            poll("host-a acknowledged " + version, () -> service.status().get("agents").findValues("acked_version")
                .stream().anyMatch(v -> v.asLong() == version));
            JsonNode agentA = service.status().get("agents").findParents("agent").stream()
                .filter(n -> n.get("agent").asText().equals("spiffe://test.mesh/node/host-a")).findFirst()
                .orElseThrow();
            assertThat(agentA.get("lag").asLong()).isZero();
            poll("ack recorded in the store", () -> manager.store().node("host-a").orElseThrow().appliedVersion()
                .orElse(0) == version);

            // the revoked node's channel is closed and it is refused on reconnecting (authenticated, not
            // authorised); a certificate from another CA fails at the handshake
            poll("host-b refused", () -> clientB.lastFailure().map(f -> f.contains("403")).orElse(false));
            assertThat(clientB.connectedTo()).isEmpty();
            refusedX.start();
            poll("foreign CA refused", () -> refusedX.lastFailure().isPresent());
            assertThat(refusedX.lastFailure().orElseThrow()).doesNotContain("403");
            assertThat(refusedX.connectedTo()).isEmpty();
            assertThat(xSeen).isEmpty();
            servedVersion = version;
          } finally {
            clientB.close();
            refusedX.close();
          }
        } finally {
          client.close();
        }
      }
    } finally {
      runtime.stop();
    }

    // a restarted manager serves the same version: nothing changed, so nothing new is pushed
    MeshManagerService again = service();
    ConduitRuntime second = ConduitRuntime.builder().service(again).build().start();
    try {
      assertThat(again.push().orElseThrow().state().orElseThrow().version()).isEqualTo(servedVersion);
      BlockingQueue<PushUpdate> seen = new LinkedBlockingQueue<>();
      PushClient client = client(resources, again, aMaterial, dir.resolve("a/push-state.json"), seen);
      client.start();
      try {
        PushUpdate restored = await(seen, u -> u.kind() == PushUpdate.Kind.RESTORED);
        assertThat(restored.state().version()).isEqualTo(servedVersion);
        poll("reconnected", () -> client.connectedTo().isPresent());
        poll("acknowledged after restart", () -> again.status().get("agents").findValues("acked_version").stream()
            .anyMatch(v -> v.asLong() == servedVersion));
        assertThat(client.state().version()).isEqualTo(servedVersion);
      } finally {
        client.close();
      }
    } finally {
      second.stop();
      resources.close();
    }
  }
}
