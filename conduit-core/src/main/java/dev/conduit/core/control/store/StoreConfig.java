package dev.conduit.core.control.store;

import static java.util.Objects.requireNonNull;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Optional;

/**
 * Where a {@link ControlStore} keeps its state: an embedded SQLite file (the default, for one manager), or a
 * PostgreSQL or MySQL/MariaDB database (for several managers sharing state). Immutable; the password is masked
 * in {@link #toString()}.
 *
 * <pre>{@code
 * StoreConfig sqlite = StoreConfig.sqlite(Path.of("/var/lib/conduit/manager.db")).build();
 * StoreConfig postgres = StoreConfig.postgres("jdbc:postgresql://db:5432/conduit")
 *     .user("conduit").password(secret).build();
 * StoreConfig mysql = StoreConfig.mysql("db", 3306, "conduit").user("conduit").password(secret).build();
 * }</pre>
 */
public final class StoreConfig {

  /** The database kinds conduit's store knows. */
  public enum Driver {
    /** Embedded SQLite, one file, WAL journal; the default. */
    SQLITE,
    /** PostgreSQL; several managers may share one database. */
    POSTGRES,
    /**
     * MySQL or MariaDB (through MariaDB Connector/J); several managers may share one database. Having no
     * notifications, its change feed polls the state version every {@link #changePollInterval()}.
     */
    MYSQL;

    /**
     * Parses a driver name as configuration files write it: {@code sqlite}/{@code sqlite3},
     * {@code postgres}/{@code postgresql}/{@code pg}, {@code mysql}/{@code mariadb}.
     *
     * @throws IllegalArgumentException for any other name
     */
    public static Driver parse(String name) {
      requireNonNull(name, "name");
      switch (name.trim().toLowerCase(Locale.ROOT)) {
        case "sqlite":
        case "sqlite3":
          return SQLITE;
        case "postgres":
        case "postgresql":
        case "pg":
          return POSTGRES;
        case "mysql":
        case "mariadb":
          return MYSQL;
        default:
          throw new IllegalArgumentException("driver: '" + name + "' (expected: sqlite, postgres or mysql)");
      }
    }
  }

  /** How long a writer waits for a SQLite lock held by another connection before failing. */
  public static final Duration DEFAULT_BUSY_TIMEOUT = Duration.ofSeconds(10);
  /** Default number of pooled connections (PostgreSQL; SQLite uses as many, serialised by its lock). */
  public static final int DEFAULT_POOL_SIZE = 4;
  /** How often a MySQL/MariaDB store reads the state version to hear of other managers' changes. */
  public static final Duration DEFAULT_CHANGE_POLL_INTERVAL = Duration.ofMillis(250);
  /** The port MySQL and MariaDB listen on by default. */
  public static final int DEFAULT_MYSQL_PORT = 3306;

  private final Driver driver;
  private final String url;
  private final Path file;
  private final String user;
  private final String password;
  private final int poolSize;
  private final Duration busyTimeout;
  private final Duration changePollInterval;
  private final boolean debug;

  private StoreConfig(Builder builder) {
    this.driver = builder.driver;
    this.url = builder.url;
    this.file = builder.file;
    this.user = builder.user;
    this.password = builder.password;
    this.poolSize = builder.poolSize;
    this.busyTimeout = builder.busyTimeout;
    this.changePollInterval = builder.changePollInterval;
    this.debug = builder.debug;
  }

  /** Returns a builder for an embedded SQLite database in {@code file} (created when missing). */
  public static Builder sqlite(Path file) {
    Builder builder = new Builder(Driver.SQLITE);
    builder.file = requireNonNull(file, "file");
    builder.url = "jdbc:sqlite:" + file.toAbsolutePath();
    return builder;
  }

  /**
   * Returns a builder for a PostgreSQL database given by a JDBC URL ({@code jdbc:postgresql://host:port/db}); a
   * {@code postgresql://} or {@code postgres://} URL is accepted and rewritten.
   *
   * @throws IllegalArgumentException if the URL is not a PostgreSQL URL
   */
  public static Builder postgres(String url) {
    requireNonNull(url, "url");
    String jdbc = url.trim();
    if (jdbc.startsWith("postgres://")) {
      jdbc = "jdbc:postgresql://" + jdbc.substring("postgres://".length());
    } else if (jdbc.startsWith("postgresql://")) {
      jdbc = "jdbc:" + jdbc;
    }
    if (!jdbc.startsWith("jdbc:postgresql://")) {
      throw new IllegalArgumentException("url: '" + url + "' (expected: jdbc:postgresql://HOST:PORT/DATABASE)");
    }
    Builder builder = new Builder(Driver.POSTGRES);
    builder.url = jdbc;
    return builder;
  }

  /**
   * Returns a builder for a MySQL or MariaDB database given by a JDBC URL ({@code jdbc:mariadb://host:port/db} or
   * {@code jdbc:mysql://host:port/db}); {@code mysql://} and {@code mariadb://} URLs are accepted too. Every form
   * is rewritten to {@code jdbc:mariadb://}, the scheme of the driver conduit uses for both servers.
   *
   * @throws IllegalArgumentException if the URL is not a MySQL or MariaDB URL, or names no database
   */
  public static Builder mysql(String url) {
    requireNonNull(url, "url");
    String jdbc = url.trim();
    String rest = null;
    for (String scheme : new String[] {"jdbc:mariadb://", "jdbc:mysql://", "mariadb://", "mysql://"}) {
      if (jdbc.regionMatches(true, 0, scheme, 0, scheme.length())) {
        rest = jdbc.substring(scheme.length());
        break;
      }
    }
    int slash = rest == null ? -1 : rest.indexOf('/');
    if (slash <= 0 || slash == rest.length() - 1 || rest.charAt(slash + 1) == '?'
        || !rest.substring(0, slash).matches("[A-Za-z0-9._:\\[\\],-]+")) {
      throw new IllegalArgumentException("url: '" + url + "' (expected: jdbc:mysql://HOST:PORT/DATABASE or "
          + "jdbc:mariadb://HOST:PORT/DATABASE)");
    }
    Builder builder = new Builder(Driver.MYSQL);
    builder.url = "jdbc:mariadb://" + rest;
    return builder;
  }

  /**
   * Returns a builder for the MySQL or MariaDB database {@code database} on {@code host:port}.
   *
   * @throws IllegalArgumentException if the host or database name is empty or not plain, or the port is not 1-65535
   */
  public static Builder mysql(String host, int port, String database) {
    requireNonNull(host, "host");
    requireNonNull(database, "database");
    String h = host.trim();
    if (h.isEmpty() || !h.matches("[A-Za-z0-9._:\\[\\]-]+")) {
      throw new IllegalArgumentException("host: '" + host + "' (expected: a host name or an IP address)");
    }
    if (port < 1 || port > 65535) {
      throw new IllegalArgumentException("port: " + port + " (expected: 1-65535)");
    }
    if (!database.matches("[A-Za-z0-9_$]{1,64}")) {
      throw new IllegalArgumentException("database: '" + database + "' (expected: 1-64 letters, digits, _ or $)");
    }
    String literal = h.indexOf(':') >= 0 && !h.startsWith("[") ? "[" + h + "]" : h;
    return mysql("jdbc:mariadb://" + literal + ":" + port + "/" + database);
  }

  /** Returns the database kind. */
  public Driver driver() {
    return driver;
  }

  /** Returns the JDBC URL. */
  public String url() {
    return url;
  }

  /** Returns the SQLite file, for {@link Driver#SQLITE}. */
  public Optional<Path> file() {
    return Optional.ofNullable(file);
  }

  /** Returns the database user, if any. */
  public Optional<String> user() {
    return Optional.ofNullable(user);
  }

  /** Returns the database password, if any. Never logged. */
  public Optional<String> password() {
    return Optional.ofNullable(password);
  }

  /** Returns the size of the connection pool. */
  public int poolSize() {
    return poolSize;
  }

  /** Returns how long a SQLite writer waits for the lock. */
  public Duration busyTimeout() {
    return busyTimeout;
  }

  /**
   * Returns how often a MySQL/MariaDB store reads the state version to hear of changes made by other managers
   * (one primary-key read per interval on one connection); unused by the other databases.
   */
  public Duration changePollInterval() {
    return changePollInterval;
  }

  /** Returns whether each statement's SQL is logged (seed 000's {@code db.debug}). */
  public boolean debug() {
    return debug;
  }

  /** Describes the configuration with the password masked. */
  @Override
  public String toString() {
    return "StoreConfig{driver=" + driver + ", url=" + url + ", user=" + user
        + ", password=" + (password == null ? "<none>" : "****") + ", poolSize=" + poolSize
        + ", busyTimeout=" + busyTimeout + ", changePollInterval=" + changePollInterval + ", debug=" + debug + "}";
  }

  /** Builds a {@link StoreConfig}. Not thread-safe. */
  public static final class Builder {
    private final Driver driver;
    private String url;
    private Path file;
    private String user;
    private String password;
    private int poolSize = DEFAULT_POOL_SIZE;
    private Duration busyTimeout = DEFAULT_BUSY_TIMEOUT;
    private Duration changePollInterval = DEFAULT_CHANGE_POLL_INTERVAL;
    private boolean debug;

    private Builder(Driver driver) {
      this.driver = driver;
    }

    /** Sets the database user. */
    public Builder user(String user) {
      this.user = requireNonNull(user, "user");
      return this;
    }

    /** Sets the database password. */
    public Builder password(String password) {
      this.password = requireNonNull(password, "password");
      return this;
    }

    /** Sets the pool size (1-64, default 4). */
    public Builder poolSize(int poolSize) {
      if (poolSize < 1 || poolSize > 64) {
        throw new IllegalArgumentException("poolSize: " + poolSize + " (expected: 1-64)");
      }
      this.poolSize = poolSize;
      return this;
    }

    /** Sets how long a SQLite writer waits for the lock (default 10 s, at least 1 ms). */
    public Builder busyTimeout(Duration busyTimeout) {
      requireNonNull(busyTimeout, "busyTimeout");
      if (busyTimeout.toMillis() < 1) {
        throw new IllegalArgumentException("busyTimeout: " + busyTimeout + " (expected: at least 1ms)");
      }
      this.busyTimeout = busyTimeout;
      return this;
    }

    /**
     * Sets how often a MySQL/MariaDB store polls the state version for other managers' changes (default 250 ms,
     * 10 ms to 1 minute). A change made through another manager reaches this one's subscribers within about
     * this long.
     */
    public Builder changePollInterval(Duration changePollInterval) {
      requireNonNull(changePollInterval, "changePollInterval");
      if (changePollInterval.toMillis() < 10 || changePollInterval.compareTo(Duration.ofMinutes(1)) > 0) {
        throw new IllegalArgumentException("changePollInterval: " + changePollInterval + " (expected: 10ms-1m)");
      }
      this.changePollInterval = changePollInterval;
      return this;
    }

    /**
     * When true, logs each statement's SQL (never its values) on the {@code dev.conduit.core.control.store.sql}
     * logger.
     */
    public Builder debug(boolean debug) {
      this.debug = debug;
      return this;
    }

    /** Returns the configuration. */
    public StoreConfig build() {
      return new StoreConfig(this);
    }
  }
}
