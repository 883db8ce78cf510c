package dev.conduit.core.control.store;

import static dev.conduit.core.control.store.StoreFixtures.node;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The store contract on embedded SQLite files, and what only SQLite does. */
class SqliteStoreTest extends StoreContractTest {

  @TempDir
  Path dir;
  private int files;

  @Override
  protected StoreConfig newStore() {
    return StoreConfig.sqlite(dir.resolve("data" + (++files) + "/manager.db")).build();
  }

  @Test
  void createsItsDirectoryAndKeepsAWriteAheadLog() throws Exception {
    Path file = dir.resolve("new/dir/manager.db");
    try (ControlStore store = ControlStore.open(StoreConfig.sqlite(file).build())) {
      store.insertNode(node("a", "198.18.0.1"), true, "test");
      assertThat(file).exists();
      assertThat(dir.resolve("new/dir/manager.db-wal")).as("WAL journal, as configured").exists();
    }
  }

  @Test
  void debugLogsStatementsWithoutValues() throws Exception {
    try (dev.conduit.core.testing.CapturedLog log = dev.conduit.core.testing.CapturedLog.of(
        "dev.conduit.core.control.store.sql", ch.qos.logback.classic.Level.INFO);
         ControlStore store = ControlStore.open(StoreConfig.sqlite(dir.resolve("debug.db")).debug(true).build())) {
      store.createToken("secret-id", "secret-hash", Instant.now().plusSeconds(60), "admin", "");
      assertThat(log.events()).anySatisfy(e -> assertThat(e.getFormattedMessage()).contains("INSERT INTO join_tokens"));
      assertThat(log.events()).noneSatisfy(e -> assertThat(e.getFormattedMessage()).contains("secret-hash"));
    }
    try (dev.conduit.core.testing.CapturedLog log = dev.conduit.core.testing.CapturedLog.of(
        "dev.conduit.core.control.store.sql", ch.qos.logback.classic.Level.INFO); ControlStore store = open()) {
      store.createToken("quiet", "h", Instant.now().plusSeconds(60), "admin", "");
      assertThat(log.events()).isEmpty();
    }
  }
}
