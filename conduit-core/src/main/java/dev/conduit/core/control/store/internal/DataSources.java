package dev.conduit.core.control.store.internal;

import com.zaxxer.hikari.HikariConfig;
import dev.conduit.core.control.store.StoreConfig;

/** The connection pool's settings per database, and how a store is named in messages (password masked). */
final class DataSources {

  private DataSources() {}

  static HikariConfig hikari(StoreConfig config) {
    HikariConfig hikari = new HikariConfig();
    hikari.setPoolName("conduit-store");
    hikari.setMaximumPoolSize(config.poolSize());
    hikari.setMinimumIdle(1);
    hikari.setConnectionTimeout(10_000);
    hikari.setInitializationFailTimeout(10_000);
    config.user().ifPresent(hikari::setUsername);
    config.password().ifPresent(hikari::setPassword);
    Dialect dialect = Dialect.of(config.driver());
    hikari.setDriverClassName(dialect.driverClass());
    switch (dialect) {
      case SQLITE:
        // WAL: readers do not block the writer; IMMEDIATE: a writing transaction takes the lock at BEGIN, so the
        // busy timeout applies instead of failing at the first write of a transaction that read first
        hikari.setJdbcUrl(config.url() + "?journal_mode=WAL&synchronous=NORMAL&foreign_keys=true"
            + "&busy_timeout=" + config.busyTimeout().toMillis() + "&transaction_mode=IMMEDIATE");
        break;
      case POSTGRES:
        hikari.setJdbcUrl(config.url());
        hikari.addDataSourceProperty("socketTimeout", "60");
        hikari.addDataSourceProperty("tcpKeepAlive", "true");
        break;
      default:
        hikari.setJdbcUrl(config.url());
        // READ COMMITTED: no gap locks, so concurrent inserts of different nodes do not deadlock each other;
        // the single-use token and the version row are guarded by row locks all the same
        hikari.setTransactionIsolation("TRANSACTION_READ_COMMITTED");
        hikari.addDataSourceProperty("socketTimeout", "60000");
        hikari.addDataSourceProperty("connectTimeout", "10000");
        hikari.addDataSourceProperty("tcpKeepAlive", "true");
        break;
    }
    return hikari;
  }

  static String describe(StoreConfig config) {
    return config.driver().name().toLowerCase(java.util.Locale.ROOT) + " " + config.url().replaceAll(
        "(?i)(password=)[^&]*", "$1****");
  }
}
