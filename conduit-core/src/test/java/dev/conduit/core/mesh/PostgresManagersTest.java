package dev.conduit.core.mesh;

import dev.conduit.core.control.store.StoreConfig;
import dev.conduit.core.testing.PostgresServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** Two managers sharing one real PostgreSQL database started by the test. */
class PostgresManagersTest extends SharedDatabaseManagersTest {

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

  @Override
  protected StoreConfig newDatabase() throws Exception {
    return StoreConfig.postgres(server.createDatabase("mesh" + (++databases))).user(PostgresServer.USER)
        .password(PostgresServer.PASSWORD).build();
  }
}
