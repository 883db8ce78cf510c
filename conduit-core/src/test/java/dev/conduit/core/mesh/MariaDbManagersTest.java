package dev.conduit.core.mesh;

import dev.conduit.core.control.store.StoreConfig;
import dev.conduit.core.testing.MariaDbServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** Two managers sharing one real MariaDB database started by the test (the change feed polls). */
class MariaDbManagersTest extends SharedDatabaseManagersTest {

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
  protected StoreConfig newDatabase() throws Exception {
    return StoreConfig.mysql(server.createDatabase("mesh" + (++databases)))
        .user(MariaDbServer.USER).password(MariaDbServer.PASSWORD).build();
  }
}
