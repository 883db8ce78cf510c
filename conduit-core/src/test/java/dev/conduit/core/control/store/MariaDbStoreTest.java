package dev.conduit.core.control.store;

import static dev.conduit.core.control.store.StoreFixtures.node;
import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.testing.MariaDbServer;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The store contract, and two stores (two managers) on one real MariaDB server from Debian's package, started by
 * the test; the change feed polls the version row.
 */
class MariaDbStoreTest extends SharedStoreContractTest {

  private static final String FEED = "conduit-change-feed";
  private static MariaDbServer server;
  private static int databases;

  @BeforeAll
  static void startServer() throws Exception {
    server = MariaDbServer.start();
  }

  @AfterAll
  static void stopServer() throws Exception {
    if (server != null) {
      server.close();
    }
  }

  @Override
  protected StoreConfig newStore() throws Exception {
    String url = server.createDatabase("conduit" + (++databases));
    return StoreConfig.mysql(url).user(MariaDbServer.USER).password(MariaDbServer.PASSWORD).build();
  }

  @Override
  protected int killChangeFeedSessions() throws Exception {
    return server.killSessionsOf(FEED);
  }

  @Override
  protected int changeFeedSessions() throws Exception {
    return server.sessionsOf(FEED).size();
  }

  @Test
  void theSeedsKeysReachTheServer() throws Exception {
    // host, port and database name, as seed configurations give them, with a jdbc:mysql:// URL's twin
    server.createDatabase("seeded");
    StoreConfig config = StoreConfig.mysql("127.0.0.1", server.port(), "seeded").user(MariaDbServer.USER)
        .password(MariaDbServer.PASSWORD).changePollInterval(Duration.ofMillis(50)).build();
    assertThat(config.toString()).doesNotContain(MariaDbServer.PASSWORD).contains("password=****");
    try (ControlStore a = ControlStore.open(config);
         ControlStore b = ControlStore.open(StoreConfig.mysql("jdbc:mysql://127.0.0.1:" + server.port() + "/seeded")
             .user(MariaDbServer.USER).password(MariaDbServer.PASSWORD).build())) {
      StoreFixtures.Versions seenByA = new StoreFixtures.Versions();
      a.subscribe(seenByA);
      b.insertNode(node("s1", "198.18.0.21"), true, "admin");
      assertThat(seenByA.awaitAtLeast(1)).isEqualTo(1);
      assertThat(a.node("s1")).isPresent();
    }
  }
}
