package dev.conduit.core.control.store.internal;

import dev.conduit.core.control.store.StoreException;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.output.MigrateResult;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Migrates the schema with Flyway, from the SQL files under {@code conduit-db/<vendor>/} in this jar. */
final class Migrations {

  private static final Logger log = LoggerFactory.getLogger(Migrations.class);
  static final String HISTORY_TABLE = "conduit_schema_history";

  private Migrations() {}

  static void migrate(DataSource dataSource, Dialect dialect) {
    String vendor = dialect.vendor();
    try {
      Flyway flyway = Flyway.configure(Migrations.class.getClassLoader())
          .dataSource(dataSource)
          .locations("classpath:conduit-db/" + vendor)
          .table(HISTORY_TABLE)
          .cleanDisabled(true)
          .validateMigrationNaming(true)
          .load();
      MigrateResult result = flyway.migrate();
      if (result.migrationsExecuted > 0) {
        log.info("store: schema migrated to version {} ({} migration(s))", result.targetSchemaVersion,
            result.migrationsExecuted);
      }
    } catch (RuntimeException e) {
      throw new StoreException("store: schema migration failed: " + Sql.rootMessage(e), e);
    }
  }
}
