package dev.conduit.cli.logging;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.testing.FileWatch;
import dev.conduit.core.testing.Processes;
import dev.conduit.core.testing.TestOrigin;
import java.io.File;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code --log-format json}: every line a conduit process writes parses with jq, access records flat. */
class JsonLinesProcessTest {
  private static final Pattern BOUND = Pattern.compile("listener socks5 \\(socks\\) on /127\\.0\\.0\\.1:(\\d+)");

  private static Process start(Path log, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(Processes.java());
    // the shipped classpath: without the tests' classes and their logback-test.xml
    String classpath = Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator))
        .filter(e -> !e.contains("test-classes") && !e.endsWith("-tests.jar"))
        .collect(Collectors.joining(File.pathSeparator));
    cmd.addAll(List.of("-cp", classpath, "dev.conduit.cli.Main"));
    cmd.addAll(List.of(args));
    return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
  }

  /** Runs jq over every line of {@code log} (a line that is not JSON fails it); returns {@code filter}'s output. */
  private static String jq(Path log, String filter) throws Exception {
    Processes.Result r = Processes.run(30, List.of("jq", "-c", filter, log.toString()));
    assertThat(r.exitCode()).as("jq over " + Files.readString(log) + r.stderr()).isZero();
    return r.out();
  }

  @Test
  void accessRecordsHaveTheirFieldsAtTheTopLevel(@TempDir Path dir) throws Exception {
    Processes.requireTool("jq");
    Processes.requireTool("curl");
    Path log = dir.resolve("conduit.log");
    try (TestOrigin origin = TestOrigin.start()) {
      Process p = start(log, "proxy", "--socks5-listen", "127.0.0.1:0", "--log-format", "json", "--access-log", "json");
      try {
        int port = FileWatch.awaitNumber(log, BOUND, Duration.ofSeconds(60), p);
        Processes.Result curl = Processes.run("curl", "-sS", "--max-time", "10", "--socks5-hostname",
            "127.0.0.1:" + port, "http://localhost:" + origin.port() + "/hello");
        assertThat(curl.exitCode()).as(curl.stderr()).isZero();
        FileWatch.awaitText(log, "\"logger\":\"conduit.access\"", Duration.ofSeconds(60), p);
      } finally {
        p.destroy();
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
      }
      String access = jq(log, "select(.logger == \"conduit.access\") | [.msg, .protocol, .outcome, .level]");
      assertThat(access.strip()).isEqualTo("[null,\"socks\",\"ok\",\"INFO\"]");
      // and every line is an object with a time and a level
      assertThat(jq(log, "has(\"time\") and has(\"level\")").strip().lines()).allMatch("true"::equals);
    }
  }

  @Test
  void aFailingStartWritesOnlyJsonLines(@TempDir Path dir) throws Exception {
    Processes.requireTool("jq");
    Path log = dir.resolve("conduit.log");
    try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      Process p = start(log, "--verbose", "proxy", "--socks5-listen", "127.0.0.1:" + taken.getLocalPort(),
          "--log-format", "json");
      assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
      assertThat(p.exitValue()).isNotZero();
    }
    String errors = jq(log, "select(.level == \"ERROR\") | [.logger, .msg, (.error != null)]");
    assertThat(errors).contains("\"conduit\"", "conduit proxy: ", "true");
    assertThat(jq(log, "has(\"time\") and has(\"level\")").strip().lines()).isNotEmpty().allMatch("true"::equals);
  }
}
