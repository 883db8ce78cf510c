package dev.conduit.cli.command;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.cli.Cli;
import dev.conduit.cli.ExitCode;
import dev.conduit.core.Conduit;
import dev.conduit.core.testing.Processes;
import dev.conduit.core.testing.TestOrigin;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code proxy} users whose passwords come from files, so that {@code ps} shows none; curl goes through. */
class SecretsFromFilesTest {
  static TestOrigin origin;

  @BeforeAll
  static void origin() throws Exception {
    origin = TestOrigin.start();
  }

  @AfterAll
  static void close() {
    origin.close();
  }

  @Test
  void proxyUsersFromAFileAndFromAReference(@TempDir Path dir) throws Exception {
    Processes.requireTool("curl");
    Path users = dir.resolve("users");
    Files.writeString(users, "# one user:password a line\nalice:s3cret\n\nbob:hunter2\n");
    Path carol = dir.resolve("carol");
    Files.writeString(carol, "pa:ss\n");
    String[] args = {"proxy", "--mixed-listen", "127.0.0.1:0", "--proxy-user-file", users.toString(),
        "--proxy-user", "carol:${file:" + carol + "}"};
    assertThat(String.join(" ", args)).doesNotContain("s3cret", "hunter2", "pa:ss"); // what ps would show
    try (Cli.Running running = Cli.start(args)) {
      Conduit conduit = running.conduit();
      String proxy = "127.0.0.1:" + conduit.address("mixed").getPort();
      for (String user : new String[] {"alice:s3cret", "bob:hunter2", "carol:pa:ss"}) {
        Processes.Result r = Processes.run("curl", "-sS", "--max-time", "10", "--socks5", proxy, "--proxy-user", user,
            origin.uri("/hello").toString());
        assertThat(r.exitCode()).as(user + ": " + r.stderr()).isZero();
        assertThat(r.out()).isEqualTo("hello");
      }
      Processes.Result wrong = Processes.run("curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10",
          "--proxy", "http://" + proxy, "--proxy-user", "alice:${file:" + carol + "}", origin.uri("/hello").toString());
      assertThat(wrong.out()).isEqualTo("407"); // the reference is resolved by conduit's flags, not by clients
      assertThat(running.stop().exitCode()).isZero();
    }
  }

  @Test
  void aMissingOrEmptyUsersFileIsAUsageError(@TempDir Path dir) throws Exception {
    Path missing = dir.resolve("missing");
    Cli.Result r = Cli.run("proxy", "--mixed-listen", "127.0.0.1:0", "--proxy-user-file", missing.toString());
    assertThat(r.exitCode()).isEqualTo(ExitCode.USAGE);
    assertThat(r.errLines()).containsExactly("conduit proxy: --proxy-user-file: " + missing + ": no such file");
    Path empty = dir.resolve("empty");
    Files.writeString(empty, "# nobody\n");
    r = Cli.run("proxy", "--mixed-listen", "127.0.0.1:0", "--proxy-user-file", empty.toString());
    assertThat(r.errLines()).containsExactly("conduit proxy: --proxy-user-file: " + empty
        + ": no user (expected: user:password lines)");
    Path bad = dir.resolve("bad");
    Files.writeString(bad, "alice:s3cret\nnocolon\n");
    r = Cli.run("proxy", "--mixed-listen", "127.0.0.1:0", "--proxy-user-file", bad.toString());
    assertThat(r.errLines()).containsExactly("conduit proxy: --proxy-user-file: " + bad
        + ":2: (expected: user:password)");
    r = Cli.run("proxy", "--mixed-listen", "127.0.0.1:0", "--proxy-user", "alice:${file:" + missing + "}");
    assertThat(r.errLines()).containsExactly("conduit proxy: --proxy-user: ${file:" + missing + "}: no such file");
    assertThat(r.err()).doesNotContain("s3cret");
  }
}
