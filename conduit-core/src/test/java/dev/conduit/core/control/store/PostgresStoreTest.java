package dev.conduit.core.control.store;

import dev.conduit.core.testing.PostgresServer;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** The store contract, and two stores (two managers) on one real PostgreSQL server started by the test. */
class PostgresStoreTest extends SharedStoreContractTest {

  private static final String FEED = "application_name = 'conduit change feed'";
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
  protected StoreConfig newStore() throws Exception {
    String url = server.createDatabase("conduit" + (++databases));
    return StoreConfig.postgres(url).user(PostgresServer.USER).password(PostgresServer.PASSWORD).build();
  }

  @Override
  protected int killChangeFeedSessions() throws Exception {
    try (Connection c = server.connect("postgres"); Statement s = c.createStatement();
         ResultSet r = s.executeQuery("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE " + FEED)) {
      r.next();
      return r.getInt(1);
    }
  }

  @Override
  protected int changeFeedSessions() throws Exception {
    try (Connection c = server.connect("postgres"); Statement s = c.createStatement();
         ResultSet r = s.executeQuery("SELECT count(*) FROM pg_stat_activity WHERE " + FEED)) {
      r.next();
      return r.getInt(1);
    }
  }
}
