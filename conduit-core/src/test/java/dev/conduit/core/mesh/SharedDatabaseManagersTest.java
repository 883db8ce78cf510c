package dev.conduit.core.mesh;

import static dev.conduit.core.mesh.ManagerFixture.ADMIN_TOKEN;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.conduit.core.testing.Poll;
import dev.conduit.core.ConduitResources;
import dev.conduit.core.control.enrol.CertificateLifetime;
import dev.conduit.core.control.enrol.NodeEnrolment;
import dev.conduit.core.control.push.PushClient;
import dev.conduit.core.control.push.PushServer;
import dev.conduit.core.control.push.PushState;
import dev.conduit.core.control.push.PushUpdate;
import dev.conduit.core.control.store.StoreConfig;
import dev.conduit.core.pki.TlsMaterial;
import dev.conduit.core.runtime.ConduitRuntime;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two managers sharing one real database server started by the test (high availability): one CA, one membership,
 * a change made through either reaches agents connected to the other, and an agent whose manager goes away fails
 * over to the other and ends with the current state. Run on PostgreSQL ({@link PostgresManagersTest}) and on
 * MariaDB ({@link MariaDbManagersTest}).
 */
abstract class SharedDatabaseManagersTest {

  @TempDir
  Path dir;

  /** Returns the configuration of a new, empty database on the test's server. */
  protected abstract StoreConfig newDatabase() throws Exception;

  private static MeshManager.Builder manager(StoreConfig store, Path data) {
    return MeshManager.builder(store, data).bind(new InetSocketAddress("127.0.0.1", 0)).trustDomain("test.mesh")
        .adminToken(ADMIN_TOKEN).nodeCertificates(CertificateLifetime.of(Duration.ofDays(30)), "conduit tests");
  }

  private static MeshManager start(StoreConfig store, Path data) throws Exception {
    return manager(store, data).build().start();
  }

  @Test
  void twoManagersShareTheCaAndTheMembership() throws Exception {
    StoreConfig store = newDatabase();
    try (MeshManager a = start(store, dir.resolve("a"))) {
      // a second manager without the CA's key file is told what to copy; it creates no second CA
      assertThatThrownBy(() -> start(store, dir.resolve("b"))).isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("copy that file here");
      copyCaKey(dir.resolve("a"), dir.resolve("b2"));
      try (MeshManager b = start(store, dir.resolve("b2"))) {
        assertThat(b.caPin()).isEqualTo(a.caPin());
        BlockingQueue<Long> seenByA = new LinkedBlockingQueue<>();
        a.store().subscribe(seenByA::add);

        // a token made through B admits a node through A
        String token = ManagerFixture.admin(b).createToken(Duration.ofMinutes(5), null).get("token").asText();
        try (NodeEnrolment n = NodeEnrolment.builder(List.of(ManagerFixture.address(a)), dir.resolve("n"))
            .name("host-n").addresses(List.of("198.18.0.50")).serverAddress("198.18.0.50:5053").token(token)
            .caPin(a.caPin()).build()) {
          n.start();
          // renewal through B: same CA, same membership
          NodeEnrolment viaB = NodeEnrolment.builder(List.of(ManagerFixture.address(b)), dir.resolve("n"))
              .name("host-n").addresses(List.of("198.18.0.50")).serverAddress("198.18.0.50:5053").build();
          viaB.start();
          viaB.renewNow();
          viaB.close();
        }
        assertThat(seenByA.poll(30, TimeUnit.SECONDS)).isEqualTo(1L);
        // a revocation through B reaches A's change feed
        ManagerFixture.admin(b).revoke("host-n");
        assertThat(seenByA.poll(30, TimeUnit.SECONDS)).isEqualTo(2L);
        assertThat(ManagerFixture.admin(a).node("host-n").get("state").asText()).isEqualTo("revoked");
      }
    }
  }

  @Test
  void anAgentFailsOverToTheOtherManagerAndEndsWithTheCurrentState() throws Exception {
    StoreConfig store = newDatabase();
    ConduitResources resources = ConduitResources.create();
    MeshManagerService serviceA = new MeshManagerService(manager(store, dir.resolve("a")))
        .withPush(new InetSocketAddress("127.0.0.1", 0));
    ConduitRuntime runtimeA = ConduitRuntime.builder().service(serviceA).build().start();
    ConduitRuntime runtimeB = null;
    PushClient agent = null;
    try {
      copyCaKey(dir.resolve("a"), dir.resolve("b"));
      MeshManagerService serviceB = new MeshManagerService(manager(store, dir.resolve("b")))
          .withPush(new InetSocketAddress("127.0.0.1", 0));
      runtimeB = ConduitRuntime.builder().service(serviceB).build().start();
      MeshManager a = serviceA.manager();
      MeshManager b = serviceB.manager();
      assertThat(b.caPin()).isEqualTo(a.caPin());

      // three members, admitted with tokens through either manager
      TlsMaterial hostA = enrol(a, b, "host-a", "198.18.0.60");
      enrol(b, a, "host-b", "198.18.0.61");
      enrol(a, b, "host-c", "198.18.0.62");

      URI pushA = pushUri(serviceA);
      URI pushB = pushUri(serviceB);
      BlockingQueue<PushUpdate> seen = new LinkedBlockingQueue<>();
      PushClient client = PushClient.builder(resources).addresses(List.of(pushA, pushB))
          .trustAnchors(List.of(a.enrolment().certificateAuthority().certificate()))
          .clientCertificate(hostA).identity("host-a", "both").stateFile(dir.resolve("host-a/push-state.json"))
          // the first retry after losing a manager waits 0.5-1 s: the removal below is made while it waits
          .backoff(Duration.ofSeconds(1), Duration.ofSeconds(2))
          .applier(update -> {
            seen.add(update);
            return update.state().hash();
          }).build();
      agent = client;
      client.start();
      PushUpdate first = await(seen, u -> u.state().resources().keySet().containsAll(
          List.of("node/host-a", "node/host-b", "node/host-c")));
      assertThat(first.state().version()).isEqualTo(a.store().version());
      poll("connected to manager A", () -> client.connectedTo().equals(java.util.Optional.of(pushA)));

      // a change made through B reaches the agent connected to A (through the database's change feed)
      ManagerFixture.admin(b).revoke("host-c");
      PushUpdate revoked = await(seen, u -> u.state().resources().containsKey("denied/host-c"));
      assertThat(revoked.state().resources()).doesNotContainKey("node/host-c").containsKeys("node/host-a",
          "node/host-b");
      assertThat(client.connectedTo()).contains(pushA);

      // manager A goes away; host-b is removed through B while the agent is without a manager
      runtimeA.stop();
      runtimeA = null;
      ManagerFixture.admin(b).remove("host-b");
      long current = b.store().version();
      PushUpdate last = await(seen, u -> u.state().version() == current);
      poll("connected to manager B", () -> client.connectedTo().equals(java.util.Optional.of(pushB)));

      // the full current state: what B publishes, host-b gone, host-c still denied
      PushState published = serviceB.push().orElseThrow().state().orElseThrow();
      assertThat(last.state()).isEqualTo(published);
      assertThat(last.state().resources()).containsKey("node/host-a").doesNotContainKeys("node/host-b",
          "node/host-c").containsKey("denied/host-c");
      // the applier saw it; the client records it as installed once the applier has returned
      poll("the agent recorded version " + current, () -> client.state().version() == current
          && client.installedHash().equals(published.hash()));
      assertThat(MembershipState.read(b.store()).resources()).isEqualTo(published.resources());
      poll("the agent's acknowledgement recorded", () -> b.store().node("host-a").orElseThrow().appliedVersion()
          .orElse(0) == current);
    } finally {
      if (agent != null) {
        agent.close();
      }
      if (runtimeA != null) {
        runtimeA.stop();
      }
      if (runtimeB != null) {
        runtimeB.stop();
      }
      resources.close();
    }
  }

  /** Enrols {@code name} through {@code via} with a token made through {@code tokenFrom}. */
  private TlsMaterial enrol(MeshManager via, MeshManager tokenFrom, String name, String ip) throws Exception {
    String token = ManagerFixture.admin(tokenFrom).createToken(Duration.ofMinutes(5), null).get("token").asText();
    NodeEnrolment node = ManagerFixture.node(via, dir.resolve(name), name, ip).caPin(via.caPin()).token(token)
        .build();
    TlsMaterial material = node.start();
    node.close();
    return material;
  }

  private static URI pushUri(MeshManagerService service) {
    int port = service.push().orElseThrow().address().orElseThrow().getPort();
    return URI.create("wss://127.0.0.1:" + port + PushServer.DEFAULT_PATH);
  }

  private static void copyCaKey(Path from, Path to) throws Exception {
    Files.createDirectories(to);
    Files.copy(from.resolve(MeshManager.CA_KEY_FILE), to.resolve(MeshManager.CA_KEY_FILE));
  }

  private static PushUpdate await(BlockingQueue<PushUpdate> seen, Predicate<PushUpdate> condition) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (true) {
      PushUpdate u = seen.poll(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      if (u == null) {
        throw new AssertionError("no matching update within 60 s");
      }
      if (condition.test(u)) {
        return u;
      }
    }
  }

  private static void poll(String what, BooleanSupplier condition) {
    Poll.until(what, java.time.Duration.ofSeconds(60), condition);
  }
}
