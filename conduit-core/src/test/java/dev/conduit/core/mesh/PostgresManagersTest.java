package dev.conduit.core.mesh;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.conduit.core.control.enrol.NodeEnrolment;
import dev.conduit.core.control.store.StoreConfig;
import dev.conduit.core.testing.PostgresServer;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Two managers sharing one real PostgreSQL database: one CA, one membership, changes seen by both. */
class PostgresManagersTest {

  @TempDir
  Path dir;

  private static MeshManager start(StoreConfig store, Path data) throws Exception {
    return MeshManager.builder(store, data).bind(new InetSocketAddress("127.0.0.1", 0)).trustDomain("test.mesh")
        .adminToken(ManagerFixture.ADMIN_TOKEN).build().start();
  }

  @Test
  void twoManagersShareTheCaAndTheMembership() throws Exception {
    try (PostgresServer server = PostgresServer.start()) {
      StoreConfig store = StoreConfig.postgres(server.createDatabase("mesh")).user(PostgresServer.USER)
          .password(PostgresServer.PASSWORD).build();
      try (MeshManager a = start(store, dir.resolve("a"))) {
        // a second manager without the CA's key file is told what to copy; it creates no second CA
        assertThatThrownBy(() -> start(store, dir.resolve("b"))).isInstanceOf(IllegalArgumentException.class)
            .hasMessageContaining("copy that file here");
        Files.createDirectories(dir.resolve("b2"));
        Files.copy(dir.resolve("a").resolve(MeshManager.CA_KEY_FILE), dir.resolve("b2").resolve(MeshManager.CA_KEY_FILE));
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
  }
}
