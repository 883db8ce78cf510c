package dev.conduit.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.testing.Processes;
import dev.conduit.core.testing.TestOrigin;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The release archive the build makes ({@code conduit-cli-<version>-dist.tar.gz}), unpacked and used as an operator
 * would: the launcher runs and serves curl, the systemd unit verifies, the bash completion completes, the man page
 * renders, and the Kubernetes examples' configurations load.
 */
class PackagingIT {
  private static final Pattern BOUND = Pattern.compile("listener socks5 \\(socks\\) on /127\\.0\\.0\\.1:(\\d+)");

  @TempDir
  static Path unpacked;
  static Path home;

  @BeforeAll
  static void unpack() throws Exception {
    Path target = Path.of(System.getProperty("conduit.jar", "target/conduit.jar")).getParent();
    Path archive;
    try (Stream<Path> files = Files.list(target)) {
      archive = files.filter(f -> f.getFileName().toString().endsWith("-dist.tar.gz")).findFirst()
          .orElseThrow(() -> new AssertionError("no *-dist.tar.gz in " + target + " (built by package)"));
    }
    Processes.Result tar = Processes.run(60, List.of("tar", "xzf", archive.toString(), "-C", unpacked.toString()));
    assertThat(tar.exitCode()).as(tar.stderr()).isZero();
    try (Stream<Path> dirs = Files.list(unpacked)) {
      home = dirs.filter(d -> d.getFileName().toString().startsWith("conduit-")).findFirst().orElseThrow();
    }
    for (String f : List.of("bin/conduit", "lib/conduit.jar", "conf/conduit.yaml", "systemd/conduit.service",
        "container/Containerfile", "completion/conduit.bash", "man/man1/conduit.1", "kubernetes/daemonset.yaml",
        "kubernetes/sidecar.yaml", "README.md")) {
      assertThat(home.resolve(f)).as(f).exists();
    }
    assertThat(Files.isExecutable(home.resolve("bin/conduit"))).isTrue();
  }

  @Test
  @Timeout(120)
  void theLauncherRunsTheJarAndServesCurl() throws Exception {
    Processes.requireTool("curl");
    Processes.Result version = Processes.run(60, List.of(home.resolve("bin/conduit").toString(), "version"));
    assertThat(version.exitCode()).as(version.stderr()).isZero();
    assertThat(version.out()).startsWith("conduit ");
    Processes.Result check = Processes.run(60, List.of(home.resolve("bin/conduit").toString(), "check", "-c",
        home.resolve("conf/conduit.yaml").toString()));
    assertThat(check.exitCode()).as(check.stderr()).isZero();

    try (TestOrigin origin = TestOrigin.start()) {
      Process p = new ProcessBuilder(home.resolve("bin/conduit").toString(), "proxy", "--socks5-listen", "127.0.0.1:0")
          .redirectErrorStream(true).start();
      try {
        int port = -1;
        BufferedReader lines = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        for (String line; port < 0 && (line = lines.readLine()) != null; ) {
          Matcher m = BOUND.matcher(line);
          if (m.find()) {
            port = Integer.parseInt(m.group(1));
          }
        }
        assertThat(port).as("the listener line").isPositive();
        Processes.Result curl = Processes.run("curl", "-sS", "--max-time", "10", "--socks5-hostname",
            "127.0.0.1:" + port, "http://localhost:" + origin.port() + "/hello");
        assertThat(curl.exitCode()).as(curl.stderr()).isZero();
        assertThat(curl.out()).isEqualTo("hello");
      } finally {
        p.destroy();
        if (!p.waitFor(40, TimeUnit.SECONDS)) {
          p.destroyForcibly();
        }
      }
    }
  }

  @Test
  void theSystemdUnitVerifies() throws Exception {
    Processes.requireTool("systemd-analyze");
    // the unit as installed, with ExecStart pointing at this unpacked copy
    String unit = Files.readString(home.resolve("systemd/conduit.service"))
        .replace("/opt/conduit/bin/conduit", home.resolve("bin/conduit").toString());
    assertThat(unit).contains("ExecReload=/bin/kill -HUP $MAINPID", "Restart=on-failure",
        "CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW CAP_NET_BIND_SERVICE");
    Path dir = Files.createDirectories(unpacked.resolve("units"));
    Path copy = Files.writeString(dir.resolve("conduit.service"), unit);
    Processes.Result verify = Processes.run(60, List.of("systemd-analyze", "verify", "--man=no", copy.toString()));
    String complaints = (verify.out() + verify.stderr()).lines()
        .filter(l -> l.contains("conduit.service")).reduce("", (a, b) -> a + b + "\n");
    assertThat(complaints).as("systemd-analyze verify: " + verify.out() + verify.stderr()).isEmpty();
    assertThat(verify.exitCode()).as(verify.out() + verify.stderr()).isZero();
  }

  @Test
  void theBashCompletionCompletesCommandsAndOptions() throws Exception {
    Processes.requireTool("bash");
    String script = "source '" + home.resolve("completion/conduit.bash") + "'\n"
        + "complete -p conduit\n"
        + "COMP_WORDS=(conduit pro); COMP_CWORD=1; COMP_LINE='conduit pro'; COMP_POINT=11; _complete_conduit\n"
        + "echo \"words: ${COMPREPLY[*]}\"\n"
        + "COMP_WORDS=(conduit proxy --http-l); COMP_CWORD=2; COMP_LINE='conduit proxy --http-l'; COMP_POINT=22;"
        + " _complete_conduit\n"
        + "echo \"options: ${COMPREPLY[*]}\"\n";
    Processes.Result bash = Processes.run(30, List.of("bash", "-c", script));
    assertThat(bash.exitCode()).as(bash.stderr()).isZero();
    assertThat(bash.out()).contains("-F _complete_conduit conduit", "words: proxy",
        "options: --http-listen");
  }

  @Test
  void theManPageRenders() throws Exception {
    Processes.requireTool("man");
    Processes.Result man = Processes.run(30, List.of("man", "-P", "cat", "-l", home.resolve("man/man1/conduit.1")
        .toString()));
    assertThat(man.exitCode()).as(man.stderr()).isZero();
    String text = man.out().replaceAll(".\b", ""); // no overstrike
    assertThat(text).contains("CONDUIT(1)", "conduit proxy", "--http-listen", "conduit netfilter apply",
        "EXIT STATUS");
  }

  @Test
  void theKubernetesExamplesConfigurationsLoad() throws Exception {
    // the DaemonSet's mTLS material, made with conduit's own commands where the Secret would mount it
    Path tls = Files.createDirectories(unpacked.resolve("tls"));
    String conduit = home.resolve("bin/conduit").toString();
    for (List<String> command : List.of(
        List.of(conduit, "ca", "init", "--dir", tls.toString()),
        List.of(conduit, "cert", "issue", "--ca-dir", tls.toString(), "--name", "node-a", "--client",
            "--out-cert", tls.resolve("node.crt").toString(), "--out-key", tls.resolve("node.key").toString()))) {
      Processes.Result r = Processes.run(60, command);
      assertThat(r.exitCode()).as(command + ": " + r.out() + r.stderr()).isZero();
    }
    for (String example : List.of("daemonset.yaml", "sidecar.yaml")) {
      String manifest = Files.readString(home.resolve("kubernetes").resolve(example));
      // the ConfigMap's conduit.yaml: the block under "conduit.yaml: |", indented by four spaces
      StringBuilder config = new StringBuilder();
      boolean in = false;
      for (String line : manifest.split("\n", -1)) {
        if (line.startsWith("  conduit.yaml: |")) {
          in = true;
        } else if (in && (line.startsWith("    ") || line.isBlank())) {
          config.append(line.length() >= 4 ? line.substring(4) : "").append('\n');
        } else if (in) {
          break;
        }
      }
      Path file = Files.writeString(unpacked.resolve(example + ".conduit.yaml"),
          config.toString().replace("/etc/conduit/tls", tls.toString()));
      Processes.Result check = Processes.run(60, List.of(home.resolve("bin/conduit").toString(), "check", "-c",
          file.toString()));
      assertThat(check.exitCode()).as(example + ": " + check.out() + check.stderr()).isZero();
    }
  }
}
