package dev.conduit.core.testing;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A real MariaDB server from Debian's {@code mariadb-server} package, started by a test: {@code mariadb-install-db}
 * into a temporary directory owned by the {@code mysql} user, then {@code mariadbd} (which drops to that user) on
 * 127.0.0.1 on a free port, with a password-authenticated user that may create databases. Skips the test when
 * MariaDB is not installed or the tests do not run as root (fails under {@code CI=true}). {@link #close()} stops
 * the server by its PID and deletes the directory.
 */
public final class MariaDbServer implements AutoCloseable {

  /** The test's database user (all privileges, from 127.0.0.1 only). */
  public static final String USER = "conduit";
  /** That user's password. */
  public static final String PASSWORD = "conduit-test-password";

  private static final Path SERVER = Path.of("/usr/sbin/mariadbd");
  private static final Path INSTALL_DB = Path.of("/usr/bin/mariadb-install-db");

  private final Path directory;
  private final int port;
  private Process process;

  private MariaDbServer(Path directory, int port) {
    this.directory = directory;
    this.port = port;
  }

  /** Initialises a data directory and starts the server; waits until it accepts connections. */
  public static MariaDbServer start() throws Exception {
    requireInstalled();
    Path directory = Files.createTempDirectory("conduit-mariadb");
    Processes.run("chown", "mysql:", directory.toString());
    Processes.Result init = Processes.run(180, List.of(INSTALL_DB.toString(), "--no-defaults",
        "--datadir=" + directory.resolve("data"), "--user=mysql", "--auth-root-authentication-method=socket",
        "--skip-test-db"));
    if (init.exitCode() != 0) {
      throw new AssertionError("mariadb-install-db failed: " + init.stderr() + init.out());
    }
    // run at every start by the server itself: the test's user, allowed to create databases and kill sessions
    Path initFile = directory.resolve("init.sql");
    Files.writeString(initFile, "CREATE USER IF NOT EXISTS '" + USER + "'@'127.0.0.1' IDENTIFIED BY '" + PASSWORD
        + "';\nGRANT ALL PRIVILEGES ON *.* TO '" + USER + "'@'127.0.0.1' WITH GRANT OPTION;\n",
        StandardCharsets.US_ASCII);
    Processes.run("chown", "mysql:", initFile.toString());
    MariaDbServer server = new MariaDbServer(directory, freePort());
    try {
      server.startProcess();
    } catch (Exception | AssertionError e) {
      server.close();
      throw e;
    }
    return server;
  }

  private void startProcess() throws Exception {
    process = new ProcessBuilder(SERVER.toString(), "--no-defaults", "--user=mysql",
        "--datadir=" + directory.resolve("data"), "--socket=" + directory.resolve("mysqld.sock"),
        "--pid-file=" + directory.resolve("mysqld.pid"), "--port=" + port, "--bind-address=127.0.0.1",
        "--skip-name-resolve", "--init-file=" + directory.resolve("init.sql"), "--skip-log-bin",
        "--innodb-buffer-pool-size=32M", "--innodb-flush-log-at-trx-commit=2", "--max-connections=100",
        // performance_schema: connection attributes tell the store's change-feed session from its pool
        "--performance-schema=ON")
        .redirectErrorStream(true).redirectOutput(directory.resolve("server.log").toFile()).start();
    // mariadbd says so once the init file has run and the port is open
    FileWatch.awaitText(directory.resolve("server.log"), "ready for connections", Duration.ofSeconds(120), process);
  }

  /** Returns the port the server listens on (127.0.0.1). */
  public int port() {
    return port;
  }

  /** Creates a database and returns its JDBC URL. */
  public String createDatabase(String name) throws SQLException {
    try (Connection c = connect(""); Statement s = c.createStatement()) {
      s.execute("CREATE DATABASE " + name);
    }
    return url(name);
  }

  /** Returns the JDBC URL of a database. */
  public String url(String database) {
    return "jdbc:mariadb://127.0.0.1:" + port + "/" + database;
  }

  /** Returns a new connection as {@link #USER} to {@code database} ("" for none). */
  public Connection connect(String database) throws SQLException {
    Properties p = new Properties();
    p.setProperty("user", USER);
    p.setProperty("password", PASSWORD);
    p.setProperty("connectTimeout", "5000");
    return DriverManager.getConnection(url(database), p);
  }

  /** Returns the ids of the sessions whose client set {@code program_name} to {@code name}. */
  public List<Long> sessionsOf(String programName) throws SQLException {
    List<Long> ids = new ArrayList<>();
    try (Connection c = connect(""); PreparedStatement s = c.prepareStatement("SELECT PROCESSLIST_ID FROM "
        + "performance_schema.session_connect_attrs WHERE ATTR_NAME = 'program_name' AND ATTR_VALUE = ?")) {
      s.setString(1, programName);
      try (ResultSet r = s.executeQuery()) {
        while (r.next()) {
          ids.add(r.getLong(1));
        }
      }
    }
    return ids;
  }

  /** Kills every session whose client set {@code program_name} to {@code name}; returns how many. */
  public int killSessionsOf(String programName) throws SQLException {
    List<Long> ids = sessionsOf(programName);
    try (Connection c = connect(""); Statement s = c.createStatement()) {
      for (long id : ids) {
        try {
          s.execute("KILL CONNECTION " + id);
        } catch (SQLException e) {
          // it ended meanwhile
        }
      }
    }
    return ids.size();
  }

  /** Stops the server by its PID (SIGTERM: a clean shutdown) and deletes its directory. */
  @Override
  public void close() throws Exception {
    try {
      if (process != null) {
        process.destroy(); // SIGTERM to mariadbd's own PID
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
          process.destroyForcibly();
          process.waitFor(10, TimeUnit.SECONDS);
        }
      }
    } finally {
      try (Stream<Path> files = Files.walk(directory)) {
        files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }

  private static void requireInstalled() throws IOException, InterruptedException {
    String reason = null;
    if (!Files.isExecutable(SERVER) || !Files.isExecutable(INSTALL_DB)) {
      reason = "MariaDB is not installed (apt-get install mariadb-server)";
    } else if (!"0".equals(Processes.run("id", "-u").out().trim())) {
      reason = "starting MariaDB as the mysql user needs root";
    }
    if (reason != null) {
      if ("true".equals(System.getenv("CI"))) {
        throw new AssertionError(reason + "; CI must have it");
      }
      org.junit.jupiter.api.Assumptions.abort(reason);
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }
}
