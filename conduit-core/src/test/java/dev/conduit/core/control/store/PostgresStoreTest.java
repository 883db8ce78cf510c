package dev.conduit.core.control.store;

import static dev.conduit.core.control.store.StoreFixtures.node;
import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.testing.PostgresServer;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Two stores (two managers) on one real PostgreSQL server started by the test. */
class PostgresStoreTest {

  private static PostgresServer server;
  private static int databases;

  @BeforeAll
  static void startServer() throws Exception {
    server = PostgresServer.start();
  }

  @AfterAll
  static void stopServer() throws Exception {
    if (server != null) {
      server.close();
    }
  }

  private static StoreConfig newDatabase() throws Exception {
    String url = server.createDatabase("conduit" + (++databases));
    return StoreConfig.postgres(url).user(PostgresServer.USER).password(PostgresServer.PASSWORD).build();
  }

  @Test
  void aChangeThroughOneManagerReachesTheOthersFeed() throws Exception {
    StoreConfig config = newDatabase();
    // both managers start at once: Flyway's lock lets one migrate, the other sees the result
    CompletableFuture<ControlStore> first = CompletableFuture.supplyAsync(() -> ControlStore.open(config));
    CompletableFuture<ControlStore> second = CompletableFuture.supplyAsync(() -> ControlStore.open(config));
    try (ControlStore a = first.get(); ControlStore b = second.get()) {
      StoreFixtures.Versions seenByB = new StoreFixtures.Versions();
      b.subscribe(seenByB);
      assertThat(a.insertNode(node("n1", "198.18.0.1", "fd00::1"), true, "admin")).isTrue();
      assertThat(seenByB.awaitAtLeast(1)).isEqualTo(1);
      assertThat(b.node("n1").orElseThrow().addresses()).containsExactly("198.18.0.1", "fd00::1");

      StoreFixtures.Versions seenByA = new StoreFixtures.Versions();
      a.subscribe(seenByA);
      assertThat(b.changeState("n1", NodeState.APPROVED, NodeState.REVOKED, "admin")).isTrue();
      assertThat(seenByA.awaitAtLeast(2)).isEqualTo(2);
      assertThat(a.node("n1").orElseThrow().state()).isEqualTo(NodeState.REVOKED);
    }
  }

  @Test
  void theFeedResynchronisesAfterItsConnectionIsKilled() throws Exception {
    StoreConfig config = newDatabase();
    try (ControlStore a = ControlStore.open(config); ControlStore b = ControlStore.open(config)) {
      StoreFixtures.Versions seenByB = new StoreFixtures.Versions();
      b.subscribe(seenByB);
      a.insertNode(node("k1", "198.18.0.11"), true, "admin");
      seenByB.awaitAtLeast(1);
      // kill every listening connection: the changes made meanwhile are not notified to them
      try (Connection c = server.connect("postgres"); Statement s = c.createStatement()) {
        s.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = "
            + "'conduit change feed'");
      }
      a.insertNode(node("k2", "198.18.0.12"), true, "admin");
      a.insertNode(node("k3", "198.18.0.13"), true, "admin");
      // whether B heard it before the kill took effect or resynchronised after reconnecting, it reaches 3
      assertThat(seenByB.awaitAtLeast(3)).isEqualTo(3);
      // and it listens again: a later change arrives too
      a.deleteNode("k1", "admin");
      assertThat(seenByB.awaitAtLeast(4)).isEqualTo(4);
      // both managers' listeners are back (A's may still be in its reconnection back-off for a moment)
      long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(30);
      while (listeners() != 2) {
        assertThat(System.nanoTime()).as("both change feeds listen again within 30 s").isLessThan(deadline);
        Thread.sleep(50); // polling pg_stat_activity with a deadline
      }
    }
  }

  private static int listeners() throws Exception {
    try (Connection c = server.connect("postgres"); Statement s = c.createStatement();
         ResultSet r = s.executeQuery("SELECT count(*) FROM pg_stat_activity WHERE application_name = "
             + "'conduit change feed'")) {
      r.next();
      return r.getInt(1);
    }
  }

  @Test
  void oneTokenRacedThroughTwoManagersAdmitsExactlyOne() throws Exception {
    StoreConfig config = newDatabase();
    try (ControlStore a = ControlStore.open(config); ControlStore b = ControlStore.open(config)) {
      for (int round = 0; round < 5; round++) {
        String id = "tok" + round;
        a.createToken(id, "secret-hash", Instant.now().plusSeconds(600), "admin", "");
        CountDownLatch go = new CountDownLatch(1);
        List<CompletableFuture<TokenAdmission>> outcomes = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
          ControlStore via = i % 2 == 0 ? a : b;
          NewNode n = node("p" + round + "-" + i, "198.18.2." + (i + 1));
          outcomes.add(CompletableFuture.supplyAsync(() -> {
            try {
              go.await();
            } catch (InterruptedException e) {
              throw new IllegalStateException(e);
            }
            return via.admitWithToken(id, "secret-hash", n, Instant.now(), "node");
          }));
        }
        go.countDown();
        List<TokenAdmission> results = new ArrayList<>();
        for (CompletableFuture<TokenAdmission> f : outcomes) {
          results.add(f.get());
        }
        assertThat(results).filteredOn(r -> r == TokenAdmission.ADMITTED).hasSize(1);
        assertThat(results).filteredOn(r -> r != TokenAdmission.ADMITTED).containsOnly(TokenAdmission.USED);
      }
      assertThat(b.nodes()).hasSize(5);
      assertThat(a.version()).isEqualTo(5);
    }
  }
}
