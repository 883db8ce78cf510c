package dev.conduit.core.mesh;

import static dev.conduit.core.mesh.ManagerFixture.admin;
import static dev.conduit.core.mesh.ManagerFixture.node;
import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.testing.Poll;
import dev.conduit.core.ConduitResources;
import dev.conduit.core.control.enrol.MeshIdentity;
import dev.conduit.core.control.enrol.NodeEnrolment;
import dev.conduit.core.control.push.PushAuthorizer;
import dev.conduit.core.control.push.PushClient;
import dev.conduit.core.control.push.PushServer;
import dev.conduit.core.control.push.PushState;
import dev.conduit.core.pki.TlsMaterial;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The store's membership reaches an enrolled node over the push channel, with mutual TLS from the mesh CA. */
class MembershipPublisherTest {

  @TempDir
  Path dir;

  private static PushState await(BlockingQueue<PushState> seen, Predicate<PushState> condition) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (true) {
      PushState s = seen.poll(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      if (s == null) {
        throw new AssertionError("no matching state within 30 s");
      }
      if (condition.test(s)) {
        return s;
      }
    }
  }

  @Test
  void membershipChangesReachAnEnrolledNode() throws Exception {
    ConduitResources resources = ConduitResources.create();
    try (MeshManager manager = ManagerFixture.start(dir.resolve("m"), b -> b.autoApprove(true));
         NodeEnrolment a = node(manager, dir.resolve("a"), "host-a", "198.18.0.80").caPin(manager.caPin()).build();
         NodeEnrolment b = node(manager, dir.resolve("b"), "host-b", "198.18.0.81").caPin(manager.caPin()).build()) {
      TlsMaterial aTls = a.start();
      b.start();
      TlsMaterial serverTls = TlsMaterial.of(manager.enrolment().issueManagerCertificate(List.of("127.0.0.1"),
          Duration.ofDays(1)), manager.enrolment().certificateAuthority().certificate());
      PushServer server = PushServer.builder(resources).bind(new InetSocketAddress("127.0.0.1", 0)).tls(serverTls)
          .authorizer(PushAuthorizer.certificateIdentity()).build();
      InetSocketAddress address = server.start();
      BlockingQueue<PushState> seen = new LinkedBlockingQueue<>();
      try (MembershipPublisher publisher = MembershipPublisher.start(manager.store(), server,
          new MeshIdentity("test.mesh"), Duration.ofMillis(100))) {
        PushClient client = PushClient.builder(resources)
            .addresses(List.of(URI.create("wss://127.0.0.1:" + address.getPort() + PushServer.DEFAULT_PATH)))
            .trustAnchors(List.of(manager.enrolment().certificateAuthority().certificate()))
            .clientCertificate(aTls).identity("host-a", "both").stateFile(dir.resolve("a/push-state.json"))
            .backoff(Duration.ofMillis(50), Duration.ofMillis(500))
            .applier(update -> {
              seen.add(update.state());
              return update.state().hash();
            }).build();
        client.start();
        try {
          PushState first = await(seen, s -> s.resources().containsKey("node/host-b"));
          assertThat(first.resources()).containsKeys("node/host-a", "node/host-b");
          assertThat(first.resources().get("node/host-b").get("addresses").toString()).contains("198.18.0.81");

          admin(manager).revoke("host-b");
          PushState revoked = await(seen, s -> s.resources().containsKey("denied/host-b"));
          assertThat(revoked.resources()).doesNotContainKey("node/host-b")
              .containsKey("revoked/" + b.material().certificate().getSerialNumber().toString(16));

          // what host-a acknowledged is recorded for 'conduit manager status'
          Poll.until("ack recorded", java.time.Duration.ofSeconds(30), () -> manager.store().node("host-a")
              .orElseThrow().appliedVersion().orElse(0) >= revoked.version());
          assertThat(manager.store().node("host-a").orElseThrow().appliedHash()).contains(revoked.hash());
        } finally {
          client.close();
        }
      } finally {
        server.close();
      }
    } finally {
      resources.close();
    }
  }
}
