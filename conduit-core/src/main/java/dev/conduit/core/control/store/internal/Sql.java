package dev.conduit.core.control.store.internal;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Instant;
import java.util.Optional;

/** Small JDBC helpers: binding parameters and reading nullable columns. */
final class Sql {

  private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger("dev.conduit.core.control.store.sql");
  /** Set while a store with {@code debug} on runs work on this thread: its statements are logged (not values). */
  static final ThreadLocal<Boolean> DEBUG = ThreadLocal.withInitial(() -> false);

  private Sql() {}

  /** A unit of work on one connection. */
  @FunctionalInterface
  interface Work<T> {
    T run(Connection connection) throws SQLException;
  }

  static PreparedStatement prepare(Connection connection, String sql, Object... parameters) throws SQLException {
    if (DEBUG.get()) {
      log.info("sql: {}", sql);
    }
    PreparedStatement statement = connection.prepareStatement(sql);
    try {
      for (int i = 0; i < parameters.length; i++) {
        Object p = parameters[i];
        if (p == null) {
          statement.setNull(i + 1, Types.VARCHAR);
        } else if (p instanceof Instant) {
          statement.setLong(i + 1, ((Instant) p).toEpochMilli());
        } else if (p instanceof Long) {
          statement.setLong(i + 1, (Long) p);
        } else if (p instanceof Integer) {
          statement.setInt(i + 1, (Integer) p);
        } else if (p instanceof Boolean) {
          statement.setBoolean(i + 1, (Boolean) p);
        } else if (p instanceof byte[]) {
          statement.setBytes(i + 1, (byte[]) p);
        } else {
          statement.setString(i + 1, p.toString());
        }
      }
      return statement;
    } catch (SQLException | RuntimeException e) {
      statement.close();
      throw e;
    }
  }

  static int update(Connection connection, String sql, Object... parameters) throws SQLException {
    try (PreparedStatement statement = prepare(connection, sql, parameters)) {
      return statement.executeUpdate();
    }
  }

  static Optional<Instant> instant(ResultSet row, String column) throws SQLException {
    long value = row.getLong(column);
    return row.wasNull() ? Optional.empty() : Optional.of(Instant.ofEpochMilli(value));
  }

  static Optional<String> string(ResultSet row, String column) throws SQLException {
    return Optional.ofNullable(row.getString(column));
  }

  /** Returns the message of the innermost cause, the one that names what the database refused. */
  static String rootMessage(Throwable e) {
    Throwable t = e;
    while (t.getCause() != null && t.getCause() != t) {
      t = t.getCause();
    }
    return t.getMessage() == null ? t.toString() : t.getMessage();
  }
}
