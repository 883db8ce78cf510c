package dev.conduit.core.control.store;

import static dev.conduit.core.control.store.StoreFixtures.node;
import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.testing.Poll;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;

/**
 * What a store on a database server does for several managers sharing it (two stores on one database): a change
 * through one reaches the other's feed, the feed recovers from a lost connection, a token races safely. Run by
 * {@link PostgresStoreTest} and {@link MariaDbStoreTest} against real servers started by the tests.
 */
abstract class SharedStoreContractTest extends StoreContractTest {

  /** Kills the database sessions of every store's change feed (not their pools); returns how many. */
  protected abstract int killChangeFeedSessions() throws Exception;

  /** Returns how many change-feed sessions the database has. */
  protected abstract int changeFeedSessions() throws Exception;

  @Test
  void aChangeThroughOneManagerReachesTheOthersFeed() throws Exception {
    StoreConfig config = newStore();
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
    StoreConfig config = newStore();
    try (ControlStore a = ControlStore.open(config); ControlStore b = ControlStore.open(config)) {
      StoreFixtures.Versions seenByB = new StoreFixtures.Versions();
      b.subscribe(seenByB);
      a.insertNode(node("k1", "198.18.0.11"), true, "admin");
      seenByB.awaitAtLeast(1);
      awaitChangeFeedSessions(2);
      // kill every feed's session: the changes made meanwhile are not seen through them
      assertThat(killChangeFeedSessions()).isEqualTo(2);
      a.insertNode(node("k2", "198.18.0.12"), true, "admin");
      a.insertNode(node("k3", "198.18.0.13"), true, "admin");
      // whether B heard it before the kill took effect or resynchronised after reconnecting, it reaches 3
      assertThat(seenByB.awaitAtLeast(3)).isEqualTo(3);
      // and it listens again: a later change arrives too
      a.deleteNode("k1", "admin");
      assertThat(seenByB.awaitAtLeast(4)).isEqualTo(4);
      // both managers' feeds are back (A's may still be in its reconnection back-off for a moment)
      awaitChangeFeedSessions(2);
    }
  }

  private void awaitChangeFeedSessions(int expected) {
    Poll.until(expected + " change feeds connected", java.time.Duration.ofSeconds(30),
        () -> sessions() == expected);
  }

  private int sessions() {
    try {
      return changeFeedSessions();
    } catch (Exception e) {
      throw new IllegalStateException("listing the database's sessions failed", e);
    }
  }

  @Test
  void oneTokenRacedThroughTwoManagersAdmitsExactlyOne() throws Exception {
    StoreConfig config = newStore();
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
