package dev.conduit.cli.config;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.control.store.StoreConfig;
import java.util.Map;

/**
 * The MySQL keys of seed 003's server configuration ({@code db_user}, {@code db_password}, {@code db_server},
 * {@code db_port}, {@code db_name}, all strings in the seed's file) turned into a {@link StoreConfig}, for the
 * egress server's configuration.
 */
public final class SeedDatabaseKeys {

  /** The keys, in the seed's order. */
  public static final java.util.List<String> KEYS = java.util.List.of("db_user", "db_password", "db_server",
      "db_port", "db_name");

  private SeedDatabaseKeys() {}

  /** Returns whether {@code conf} names a database with these keys ({@code db_server} present). */
  public static boolean present(Map<String, ?> conf) {
    return requireNonNull(conf, "conf").containsKey("db_server");
  }

  /**
   * Returns the MySQL/MariaDB store the keys describe; {@code db_port} may be a number or a string of digits
   * (default 3306), {@code db_user} and {@code db_password} may be absent.
   *
   * @throws IllegalArgumentException naming the key of a missing or bad value
   */
  public static StoreConfig.Builder mysql(Map<String, ?> conf) {
    requireNonNull(conf, "conf");
    String server = text(conf, "db_server");
    String name = text(conf, "db_name");
    if (server == null) {
      throw new IllegalArgumentException("db_server: missing (expected: the MySQL server's host name or address)");
    }
    if (name == null) {
      throw new IllegalArgumentException("db_name: missing (expected: the database's name)");
    }
    String portText = text(conf, "db_port");
    int port = StoreConfig.DEFAULT_MYSQL_PORT;
    if (portText != null) {
      try {
        port = Integer.parseInt(portText.trim());
      } catch (NumberFormatException e) {
        port = -1;
      }
      if (port < 1 || port > 65535) {
        throw new IllegalArgumentException("db_port: '" + portText + "' (expected: 1-65535)");
      }
    }
    StoreConfig.Builder builder;
    try {
      builder = StoreConfig.mysql(server, port, name);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("db_" + e.getMessage().replaceFirst("^host:", "server:")
          .replaceFirst("^database:", "name:"), e);
    }
    String user = text(conf, "db_user");
    if (user != null) {
      builder.user(user);
    }
    String password = text(conf, "db_password");
    if (password != null) {
      builder.password(password);
    }
    return builder;
  }

  private static String text(Map<String, ?> conf, String key) {
    Object value = conf.get(key);
    if (value == null) {
      return null;
    }
    if (!(value instanceof String || value instanceof Number)) {
      throw new IllegalArgumentException(key + ": a " + value.getClass().getSimpleName().toLowerCase(
          java.util.Locale.ROOT) + " (expected: a string)");
    }
    return value.toString();
  }
}
