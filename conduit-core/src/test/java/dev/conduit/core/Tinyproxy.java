package dev.conduit.core;

import dev.conduit.core.testing.FileWatch;
import dev.conduit.core.testing.Processes;
import java.io.Closeable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/** Debian's tinyproxy as a real HTTP CONNECT proxy on loopback, stopped by its own PID. */
final class Tinyproxy implements Closeable {
  private final Process process;
  private final int port;
  final Path log;

  private Tinyproxy(Process process, int port, Path log) {
    this.process = process;
    this.port = port;
    this.log = log;
  }

  static Tinyproxy start(Path dir) throws Exception {
    Processes.requireTool("tinyproxy");
    int port = Net.closedPort();
    Path conf = dir.resolve("tinyproxy.conf");
    Path log = dir.resolve("tinyproxy.log");
    Files.writeString(conf, String.join("\n",
        "Port " + port,
        "Listen 127.0.0.1",
        "Timeout 30",
        "MaxClients 50",
        "Allow 127.0.0.1",
        "LogLevel Info",
        "LogFile \"" + log + "\"",
        "DisableViaHeader Yes",
        ""));
    Process p = new ProcessBuilder("tinyproxy", "-d", "-c", conf.toString())
        .redirectErrorStream(true).redirectOutput(dir.resolve("tinyproxy.out").toFile()).start();
    Tinyproxy t = new Tinyproxy(p, port, log);
    try {
      // tinyproxy logs this once its socket listens
      FileWatch.awaitText(log, "Accepting connections", Duration.ofSeconds(30), p);
    } catch (AssertionError e) {
      t.close();
      throw new AssertionError("tinyproxy did not start on port " + port + ": "
          + Files.readString(dir.resolve("tinyproxy.out")), e);
    }
    return t;
  }

  int port() {
    return port;
  }

  @Override
  public void close() {
    process.destroy(); // SIGTERM to our own child, by its PID
    try {
      if (!process.waitFor(5, java.util.concurrent.TimeUnit.SECONDS)) {
        process.destroyForcibly();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
