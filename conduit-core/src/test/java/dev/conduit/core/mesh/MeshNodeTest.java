package dev.conduit.core.mesh;

import static dev.conduit.core.mesh.ManagerFixture.ADMIN_TOKEN;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.conduit.core.testing.Poll;
import dev.conduit.core.ConduitResources;
import dev.conduit.core.control.enrol.CertificateLifetime;
import dev.conduit.core.control.enrol.NodeEnrolment;
import dev.conduit.core.control.push.PushServer;
import dev.conduit.core.control.store.NodeRole;
import dev.conduit.core.control.store.NodeState;
import dev.conduit.core.control.store.StoreConfig;
import dev.conduit.core.runtime.ConduitRuntime;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real nodes against a real manager on loopback: enrolment with a token and by approval, membership pushed to the
 * data plane's listener, the state kept on disk so a node restarted while the manager is down comes up with it, a
 * renewal that the node's TLS material follows, and an expired certificate refused at start.
 */
class MeshNodeTest {

  @TempDir
  Path dir;

  private MeshManagerService manager(int pushPort, Duration lifetime) {
    Path m = dir.resolve("m");
    return new MeshManagerService(MeshManager.builder(StoreConfig.sqlite(m.resolve("manager.db")).build(), m)
        .bind(new InetSocketAddress("127.0.0.1", 0)).trustDomain("test.mesh").adminToken(ADMIN_TOKEN)
        .nodeCertificates(CertificateLifetime.of(lifetime), "conduit tests"))
        .withPush(new InetSocketAddress("127.0.0.1", pushPort));
  }

  private static MeshNode.Builder node(ConduitResources resources, String manager, int pushPort,
      Path state, String name, String ip, BlockingQueue<MeshMembership> seen) {
    return MeshNode.builder(resources, List.of(manager), state).name(name)
        .role(NodeRole.BOTH).addresses(List.of(ip, "fd00::" + ip.substring(ip.lastIndexOf('.') + 1)))
        .serverAddress(ip + ":5053")
        .pushAddresses(List.of(URI.create("wss://127.0.0.1:" + pushPort + PushServer.DEFAULT_PATH)))
        .backoff(Duration.ofMillis(50), Duration.ofMillis(500)).listener(seen::add);
  }

  @Test
  void enrolsWatchesAndComesBackFromSavedStateWithTheManagerDown() throws Exception {
    ConduitResources resources = ConduitResources.create();
    int pushPort = freePort();
    MeshManagerService service = manager(pushPort, Duration.ofDays(30));
    ConduitRuntime managerRuntime = ConduitRuntime.builder().service(service).build().start();
    String mgr = ManagerFixture.address(service.manager());
    BlockingQueue<MeshMembership> aSeen = new LinkedBlockingQueue<>();
    BlockingQueue<MeshMembership> bSeen = new LinkedBlockingQueue<>();
    Path aState = dir.resolve("a");
    MeshNode b;
    try {
      ManagerAdminClient admin = ManagerFixture.admin(service.manager());
      String token = admin.createToken(Duration.ofMinutes(10), null).get("token").asText();
      MeshNode a = node(resources, mgr, pushPort, aState, "host-a", "198.18.0.2", aSeen)
          .caPin(service.manager().caPin()).token(token).build();
      a.start();
      try {
        MeshMembership first = await(aSeen, m -> m.members().containsKey("host-a"));
        MeshMember self = first.members().get("host-a");
        assertThat(self.identity()).isEqualTo("spiffe://test.mesh/node/host-a").isEqualTo(a.identity());
        assertThat(self.serverAddress()).contains("198.18.0.2:5053");
        assertThat(self.addresses()).extracting(java.net.InetAddress::getHostAddress)
            .contains("198.18.0.2").anyMatch(s -> s.startsWith("fd00:"));
        assertThat(Files.getPosixFilePermissions(aState.resolve(NodeEnrolment.KEY_FILE)))
            .isEqualTo(Set.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE));
        assertThat(a.certificateExpirySeconds()).isBetween(29 * 86_400.0, 30 * 86_400.0);

        // host-b has no token: it waits as pending until approved, then both see each other
        b = node(resources, mgr, pushPort, dir.resolve("b"), "host-b", "198.18.0.3", bSeen)
            .caPin(service.manager().caPin()).build();
        MeshNode started = b;
        CompletableFuture<Void> bStart = CompletableFuture.runAsync(() -> {
          try {
            started.start();
          } catch (Exception e) {
            throw new IllegalStateException(e);
          }
        });
        poll("host-b pending", () -> service.manager().store().node("host-b")
            .map(n -> n.state() == NodeState.PENDING).orElse(false));
        admin.approve("host-b");
        bStart.get(30, TimeUnit.SECONDS);
        MeshMembership both = await(aSeen, m -> m.members().containsKey("host-b"));
        assertThat(both.peersOf("host-a")).extracting(MeshMember::name).containsExactly("host-b");
        await(bSeen, m -> m.members().containsKey("host-a") && m.members().containsKey("host-b"));

        // a renewal: the node's TLS material follows the new certificate
        java.math.BigInteger serial = a.tls().material().certificate().getSerialNumber();
        a.renewNow();
        assertThat(a.tls().material().certificate().getSerialNumber()).isNotEqualTo(serial);
      } finally {
        a.close();
      }
      // host-c joins while host-a is away: host-a learns it when it comes back
      admin.remove("host-b");
      await(bSeen, m -> !m.members().containsKey("host-b"));
      b.close();
    } finally {
      managerRuntime.stop();
    }

    // the manager is down: host-a restarts from its certificate and saved membership (host-b still in it,
    // since host-a was away when host-b was removed)
    aSeen.clear();
    MeshNode again = node(resources, mgr, pushPort, aState, "host-a", "198.18.0.2", aSeen).build();
    again.start();
    try {
      MeshMembership restored = await(aSeen, m -> true);
      assertThat(restored.members()).containsKeys("host-a", "host-b");
      assertThat(again.connectedTo()).isEmpty();

      // the manager comes back: host-b, removed meanwhile, disappears (a snapshot, not an add-only resync)
      MeshManagerService back = manager(pushPort, Duration.ofDays(30));
      ConduitRuntime second = ConduitRuntime.builder().service(back).build().start();
      try {
        MeshMembership resynced = await(aSeen, m -> !m.members().containsKey("host-b"));
        assertThat(resynced.members()).containsOnlyKeys("host-a");
      } finally {
        again.close();
        second.stop();
      }
    } finally {
      again.close();
      resources.close();
    }
  }

  @Test
  void anExpiredCertificateIsRefusedAtStart() throws Exception {
    ConduitResources resources = ConduitResources.create();
    int pushPort = freePort();
    MeshManagerService service = manager(pushPort, Duration.ofSeconds(3));
    ConduitRuntime managerRuntime = ConduitRuntime.builder().service(service).build().start();
    String mgr = ManagerFixture.address(service.manager());
    Path state = dir.resolve("short");
    BlockingQueue<MeshMembership> seen = new LinkedBlockingQueue<>();
    try {
      String token = ManagerFixture.admin(service.manager()).createToken(Duration.ofMinutes(10), null)
          .get("token").asText();
      MeshNode n = node(resources, mgr, pushPort, state, "host-s", "198.18.0.9", seen).token(token).build();
      n.start();
      Instant expiry = n.certificateExpiry();
      n.close();
      // a node waiting for approval can be stopped: close() wakes its start()
      MeshNode pending = node(resources, mgr, pushPort, dir.resolve("p"), "host-p", "198.18.0.10", seen).build();
      CompletableFuture<Void> waiting = CompletableFuture.runAsync(() -> {
        try {
          pending.start();
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
      });
      poll("host-p pending", () -> service.manager().store().node("host-p")
          .map(x -> x.state() == NodeState.PENDING).orElse(false));
      pending.close();
      assertThatThrownBy(() -> waiting.get(30, TimeUnit.SECONDS)).hasRootCauseInstanceOf(InterruptedException.class);
      managerRuntime.stop();
      poll("certificate expired", () -> Instant.now().isAfter(expiry));
      MeshNode again = node(resources, mgr, pushPort, state, "host-s", "198.18.0.9", seen).build();
      assertThatThrownBy(again::start).isInstanceOf(IllegalStateException.class).hasMessageContaining("expired");
      again.close();
    } finally {
      managerRuntime.stop();
      resources.close();
    }
  }

  @Test
  void changedAddressesAreReportedAndReachTheOtherMembers() throws Exception {
    ConduitResources resources = ConduitResources.create();
    int pushPort = freePort();
    MeshManagerService service = manager(pushPort, Duration.ofDays(30));
    ConduitRuntime managerRuntime = ConduitRuntime.builder().service(service).build().start();
    String mgr = ManagerFixture.address(service.manager());
    BlockingQueue<MeshMembership> seen = new LinkedBlockingQueue<>();
    try {
      ManagerAdminClient admin = ManagerFixture.admin(service.manager());
      MeshNode a = node(resources, mgr, pushPort, dir.resolve("a"), "host-a", "198.18.0.2", seen)
          .token(admin.createToken(Duration.ofMinutes(10), null).get("token").asText()).build();
      a.start();
      try (NodeEnrolment d = ManagerFixture.node(service.manager(), dir.resolve("d"), "host-d", "198.18.0.7")
          .role(NodeRole.CLIENT).token(admin.createToken(Duration.ofMinutes(10), null).get("token").asText())
          .build()) {
        d.start();
        await(seen, m -> m.members().containsKey("host-d"));
        // host-d moved: it reports its new addresses by renewing, and its certificate names them
        var renewed = d.renewNow(List.of("198.18.0.8", "fd00::8"));
        assertThat(dev.conduit.core.pki.CertificateInfo.subjectAlternativeNames(renewed.certificate()))
            .extracting(Object::toString).anyMatch(n -> n.contains("198.18.0.8"))
            .noneMatch(n -> n.contains("198.18.0.7"));
        MeshMembership moved = await(seen, m -> m.member("host-d").map(x -> x.addresses().stream()
            .anyMatch(ip -> ip.getHostAddress().equals("198.18.0.8"))).orElse(false));
        assertThat(moved.members().get("host-d").addresses()).extracting(java.net.InetAddress::getHostAddress)
            .doesNotContain("198.18.0.7");
        assertThat(d.addresses()).containsExactly("198.18.0.8", "fd00::8");
        // the manager refuses an empty report; the node keeps reporting what it had
        assertThatThrownBy(() -> d.renewNow(List.of())).isInstanceOf(IllegalArgumentException.class);
        assertThat(d.addresses()).containsExactly("198.18.0.8", "fd00::8");
      } finally {
        a.close();
      }
    } finally {
      managerRuntime.stop();
      resources.close();
    }
  }

  private static int freePort() throws java.io.IOException {
    try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  private static MeshMembership await(BlockingQueue<MeshMembership> seen, Predicate<MeshMembership> condition)
      throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (true) {
      MeshMembership m = seen.poll(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      if (m == null) {
        throw new AssertionError("no matching membership within 30 s");
      }
      if (condition.test(m)) {
        return m;
      }
    }
  }

  private static void poll(String what, BooleanSupplier condition) {
    Poll.until(what, java.time.Duration.ofSeconds(30), condition);
  }
}
