package dev.conduit.core.control.store.internal;

import dev.conduit.core.control.store.StoreConfig;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;

/** What differs between the databases: migration folder, driver, bumping the version, insert-if-absent. */
enum Dialect {
  SQLITE("sqlite", "org.sqlite.JDBC"),
  POSTGRES("postgresql", "org.postgresql.Driver"),
  MYSQL("mysql", "org.mariadb.jdbc.Driver");

  /** MySQL's and MariaDB's error code for a duplicate key. */
  private static final int ER_DUP_ENTRY = 1062;

  private final String vendor;
  private final String driverClass;

  Dialect(String vendor, String driverClass) {
    this.vendor = vendor;
    this.driverClass = driverClass;
  }

  static Dialect of(StoreConfig.Driver driver) {
    switch (driver) {
      case POSTGRES:
        return POSTGRES;
      case MYSQL:
        return MYSQL;
      default:
        return SQLITE;
    }
  }

  /**
   * Whether {@code e} says the database rolled the transaction back to break a deadlock or a serialization
   * conflict (SQLSTATE 40001, PostgreSQL's 40P01), so that running it again is safe.
   */
  static boolean isDeadlock(Throwable e) {
    return e instanceof SQLException && ("40001".equals(((SQLException) e).getSQLState())
        || "40P01".equals(((SQLException) e).getSQLState()));
  }

  /** The folder under {@code conduit-db/} holding this database's migrations. */
  String vendor() {
    return vendor;
  }

  String driverClass() {
    return driverClass;
  }

  /** Increments the state version and returns the new one; on PostgreSQL also queues the notification. */
  long bump(Connection c) throws SQLException {
    long version;
    if (this == MYSQL) {
      // no UPDATE ... RETURNING: LAST_INSERT_ID(expr) remembers the value for this connection
      try (PreparedStatement s = Sql.prepare(c,
          "UPDATE state_version SET version = LAST_INSERT_ID(version + 1) WHERE id = 1")) {
        s.executeUpdate();
      }
      try (PreparedStatement s = c.prepareStatement("SELECT LAST_INSERT_ID()"); ResultSet r = s.executeQuery()) {
        r.next();
        version = r.getLong(1);
      }
      return version;
    }
    try (PreparedStatement s = Sql.prepare(c,
        "UPDATE state_version SET version = version + 1 WHERE id = 1 RETURNING version");
         ResultSet r = s.executeQuery()) {
      r.next();
      version = r.getLong(1);
    }
    if (this == POSTGRES) {
      try (PreparedStatement s = Sql.prepare(c, "SELECT pg_notify(?, ?)", JdbcControlStore.CHANNEL,
          Long.toString(version));
           ResultSet r = s.executeQuery()) {
        r.next();
      }
    }
    return version;
  }

  /**
   * Inserts a row unless one with the same primary key exists; returns whether it inserted. {@code insert} is a
   * plain {@code INSERT INTO ... VALUES (...)}.
   */
  boolean insertIfAbsent(Connection c, String insert, String key, Object... parameters) throws SQLException {
    if (this == MYSQL) {
      // INSERT IGNORE would also hide truncation and other errors: only a duplicate key means "present"
      try {
        return Sql.update(c, insert, parameters) == 1;
      } catch (SQLException e) {
        if (e.getErrorCode() == ER_DUP_ENTRY) {
          return false;
        }
        throw e;
      }
    }
    return Sql.update(c, insert + " ON CONFLICT (" + key + ") DO NOTHING", parameters) == 1;
  }
}
