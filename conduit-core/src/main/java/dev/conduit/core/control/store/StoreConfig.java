package dev.conduit.core.control.store;

import static java.util.Objects.requireNonNull;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Optional;

/**
 * Where a {@link ControlStore} keeps its state: an embedded SQLite file (the default, for one manager) or a
 * PostgreSQL database (for several managers sharing state). Immutable; the password is masked in
 * {@link #toString()}.
 *
 * <pre>{@code
 * StoreConfig sqlite = StoreConfig.sqlite(Path.of("/var/lib/conduit/manager.db")).build();
 * StoreConfig postgres = StoreConfig.postgres("jdbc:postgresql://db:5432/conduit")
 *     .user("conduit").password(secret).build();
 * }</pre>
 */
public final class StoreConfig {

  /** The database kinds conduit's store knows. */
  public enum Driver {
    /** Embedded SQLite, one file, WAL journal; the default. */
    SQLITE,
    /** PostgreSQL; several managers may share one database. */
    POSTGRES,
    /** MySQL or MariaDB: recognised, not supported by this build yet. */
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

  private final Driver driver;
  private final String url;
  private final Path file;
  private final String user;
  private final String password;
  private final int poolSize;
  private final Duration busyTimeout;
  private final boolean debug;

  private StoreConfig(Builder builder) {
    this.driver = builder.driver;
    this.url = builder.url;
    this.file = builder.file;
    this.user = builder.user;
    this.password = builder.password;
    this.poolSize = builder.poolSize;
    this.busyTimeout = builder.busyTimeout;
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
   * Returns a builder for a MySQL or MariaDB database. Building it fails for now with a message saying so:
   * configurations that ask for MySQL get a clear answer rather than a surprise.
   */
  public static Builder mysql(String url) {
    Builder builder = new Builder(Driver.MYSQL);
    builder.url = requireNonNull(url, "url");
    return builder;
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

  /** Returns whether each statement's SQL is logged (seed 000's {@code db.debug}). */
  public boolean debug() {
    return debug;
  }

  /** Describes the configuration with the password masked. */
  @Override
  public String toString() {
    return "StoreConfig{driver=" + driver + ", url=" + url + ", user=" + user
        + ", password=" + (password == null ? "<none>" : "****") + ", poolSize=" + poolSize
        + ", busyTimeout=" + busyTimeout + ", debug=" + debug + "}";
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
     * When true, logs each statement's SQL (never its values) on the {@code dev.conduit.core.control.store.sql}
     * logger.
     */
    public Builder debug(boolean debug) {
      this.debug = debug;
      return this;
    }

    /**
     * Returns the configuration.
     *
     * @throws IllegalArgumentException for {@link Driver#MYSQL}, which this build does not support yet
     */
    public StoreConfig build() {
      if (driver == Driver.MYSQL) {
        throw new IllegalArgumentException("driver: mysql/mariadb is not supported by this build of conduit yet "
            + "(expected: sqlite for one manager, or postgres for several)");
      }
      return new StoreConfig(this);
    }
  }
}
