package dev.conduit.core.testing;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Properties;
import java.util.stream.Stream;

/**
 * A real PostgreSQL server from Debian's package, started by a test in a temporary directory as the
 * {@code postgres} user, listening on 127.0.0.1 on a free port, with password authentication. Skips the test
 * when PostgreSQL is not installed or the tests do not run as root (fails under {@code CI=true}). {@link #close()}
 * stops it by the postmaster's PID and deletes the directory.
 */
public final class PostgresServer implements AutoCloseable {

  /** The superuser's name. */
  public static final String USER = "postgres";
  /** The superuser's password. */
  public static final String PASSWORD = "conduit-test-password";

  private final Path directory;
  private final Path binaries;
  private final int port;
  private Process process;

  private PostgresServer(Path directory, Path binaries, int port) {
    this.directory = directory;
    this.binaries = binaries;
    this.port = port;
  }

  /** Initialises a cluster and starts the server; waits until it accepts connections. */
  public static PostgresServer start() throws Exception {
    Path binaries = findBinaries();
    Path directory = Files.createTempDirectory("conduit-pg");
    Processes.run("chown", USER + ":", directory.toString());
    Path passwordFile = directory.resolve("pwfile");
    Files.writeString(passwordFile, PASSWORD + "\n", StandardCharsets.US_ASCII);
    Processes.run("chown", USER + ":", passwordFile.toString());
    Processes.Result init = Processes.run(120, List.of("runuser", "-u", USER, "--",
        binaries.resolve("initdb").toString(), "-D", directory.resolve("data").toString(), "-U", USER,
        "--pwfile=" + passwordFile, "--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--no-sync"));
    if (init.exitCode() != 0) {
      throw new AssertionError("initdb failed: " + init.stderr() + init.out());
    }
    PostgresServer server = new PostgresServer(directory, binaries, freePort());
    server.startProcess();
    return server;
  }

  private void startProcess() throws Exception {
    process = new ProcessBuilder("runuser", "-u", USER, "--", binaries.resolve("postgres").toString(),
        "-D", directory.resolve("data").toString(), "-p", Integer.toString(port),
        "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=" + directory,
        "-c", "fsync=off", "-c", "max_connections=60")
        .redirectErrorStream(true).redirectOutput(directory.resolve("server.log").toFile()).start();
    // the server says when it accepts connections; the wait wakes on the log's changes
    FileWatch.awaitText(directory.resolve("server.log"), "ready to accept connections", Duration.ofSeconds(90), process);
    try (Connection c = connect("postgres")) {
      return;
    } catch (SQLException e) {
      throw new AssertionError("postgres said it was ready but refused a connection: "
          + Files.readString(directory.resolve("server.log")), e);
    }
  }

  /** Creates a database and returns its JDBC URL. */
  public String createDatabase(String name) throws SQLException {
    try (Connection c = connect("postgres"); Statement s = c.createStatement()) {
      s.execute("CREATE DATABASE " + name);
    }
    return url(name);
  }

  /** Returns the JDBC URL of a database. */
  public String url(String database) {
    return "jdbc:postgresql://127.0.0.1:" + port + "/" + database;
  }

  /** Returns a new superuser connection to {@code database}. */
  public Connection connect(String database) throws SQLException {
    Properties p = new Properties();
    p.setProperty("user", USER);
    p.setProperty("password", PASSWORD);
    p.setProperty("connectTimeout", "5");
    return DriverManager.getConnection(url(database), p);
  }

  /** Stops the server by its postmaster's PID (fast shutdown) and deletes its directory. */
  @Override
  public void close() throws Exception {
    try {
      Path pidFile = directory.resolve("data/postmaster.pid");
      if (Files.exists(pidFile)) {
        String pid = Files.readAllLines(pidFile).get(0).trim();
        Processes.run("kill", "-INT", pid);
      }
      if (process != null && !process.waitFor(60, java.util.concurrent.TimeUnit.SECONDS)) {
        process.destroyForcibly();
      }
    } finally {
      try (Stream<Path> files = Files.walk(directory)) {
        files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }

  private static Path findBinaries() throws IOException, InterruptedException {
    String reason = null;
    Path root = Path.of("/usr/lib/postgresql");
    Path found = null;
    if (Files.isDirectory(root)) {
      try (Stream<Path> versions = Files.list(root)) {
        found = versions.map(v -> v.resolve("bin"))
            .filter(b -> Files.isExecutable(b.resolve("initdb")) && Files.isExecutable(b.resolve("postgres")))
            .max(Comparator.comparing(Path::toString)).orElse(null);
      }
    }
    if (found == null) {
      reason = "PostgreSQL is not installed (apt-get install postgresql)";
    } else if (!"0".equals(Processes.run("id", "-u").out().trim())) {
      reason = "starting PostgreSQL as its own user needs root";
    }
    if (reason != null) {
      if ("true".equals(System.getenv("CI"))) {
        throw new AssertionError(reason + "; CI must have it");
      }
      org.junit.jupiter.api.Assumptions.abort(reason);
    }
    return found;
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }
}
