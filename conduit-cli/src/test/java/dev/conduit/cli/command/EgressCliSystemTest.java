package dev.conduit.cli.command;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.cli.Main;
import dev.conduit.core.pki.CertificateAuthority;
import dev.conduit.core.pki.CertificateRequest;
import dev.conduit.core.testing.FileWatch;
import dev.conduit.core.testing.Poll;
import dev.conduit.core.testing.Processes;
import dev.conduit.netfilter.NetfilterException;
import dev.conduit.netfilter.testing.NetNs;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The egress guard as its operators run it: {@code conduit egress server}, {@code conduit egress gateway --server}
 * and {@code conduit egress route}, each a JVM of its own in a network namespace. A client host C (198.18.1.2) is
 * routed by the route agent through the gateway G, which forwards to an "internet" I holding HTTP servers on
 * 198.19.2.1 and 198.19.2.2; I routes back to C, so un-NATed traffic would get answers and only a real drop stops it.
 * The server runs in S (198.18.5.2, next to G). Entries are added and deleted through the server's JSON API with
 * curl; C reaches what is allowlisted and nothing else; with the server killed (SIGKILL) the gateway enforces on; a
 * gateway restarted while the server is down enforces the state from its state file; gateways with the wrong token
 * or a certificate from another CA are refused while the server serves on. Waits on log lines (FileWatch) and on the
 * kernel's set (polled), never sleeps. Needs root, ip, nft, ss, curl and python3.
 */
class EgressCliSystemTest {

  private static final String ADMIN = "cli-e2e-admin-token-0123456789";
  private static final String GATEWAY = "cli-e2e-gateway-token-0123456789";
  private static final String TABLE = "egress_cli";
  private static final Duration WAIT = Duration.ofSeconds(90);
  private static final CertificateAuthority CA = CertificateAuthority.builder().commonName("egress cli e2e CA").build();
  private static final CertificateAuthority OTHER_CA = CertificateAuthority.builder().commonName("a rogue CA").build();

  private final List<AutoCloseable> cleanup = new ArrayList<>();

  @TempDir
  Path dir;

  @BeforeAll
  static void requireRoot() {
    NetNs.requireRootAnd("ip", "nft", "ss", "curl", "/usr/bin/python3");
  }

  @AfterEach
  void cleanUp() throws Exception {
    for (int i = cleanup.size() - 1; i >= 0; i--) {
      cleanup.get(i).close();
    }
  }

  @Test
  @Timeout(value = 15, unit = TimeUnit.MINUTES) // several JVMs on a shared machine
  void theThreeCommandsEnforceTheApisAllowlistAndSurviveTheServersFailure() throws Exception {
    NetNs c = closing(NetNs.bare());
    NetNs g = closing(NetNs.bare());
    NetNs i = closing(NetNs.bare());
    NetNs s = closing(NetNs.bare());
    String tag = Integer.toHexString(ThreadLocalRandom.current().nextInt(1 << 16));
    NetNs.link(c, "ce" + tag, List.of("198.18.1.2/24"), g, "gc" + tag, List.of("198.18.1.1/24"));
    NetNs.link(g, "gi" + tag, List.of("198.19.0.1/24"), i, "ig" + tag, List.of("198.19.0.2/24"));
    NetNs.link(g, "gs" + tag, List.of("198.18.5.1/24"), s, "sg" + tag, List.of("198.18.5.2/24"));
    g.run("sysctl", "-qw", "net.ipv4.ip_forward=1");
    s.run("sysctl", "-qw", "net.ipv4.ip_forward=1"); // the refused gateways below run in S
    g.run("ip", "route", "add", "198.19.2.0/24", "via", "198.19.0.2");
    i.run("ip", "route", "add", "198.18.1.0/24", "via", "198.19.0.1"); // un-NATed traffic gets answers too
    for (String a : List.of("198.19.2.1", "198.19.2.2")) {
      i.run("ip", "addr", "add", a + "/32", "dev", "lo");
      Files.writeString(dir.resolve("index.html"), "hello from the internet\n");
      Process web = new ProcessBuilder("ip", "netns", "exec", i.name, "/usr/bin/python3", "-m", "http.server",
          "8000", "--bind", a, "--directory", dir.toString()).redirectErrorStream(true)
          .redirectOutput(dir.resolve("web-" + a + ".log").toFile()).start();
      closing(() -> stop(web));
    }
    Poll.until("the internet's two web servers listening", WAIT, () -> listening(i, "198.19.2.1:8000")
        && listening(i, "198.19.2.2:8000"));

    // the PKI and the secrets, as files
    CA.mintServerLeaf("198.18.5.2").writeTo(dir.resolve("server.pem"), dir.resolve("server.key"));
    Files.writeString(dir.resolve("ca.pem"), CA.certificatePem());
    Files.writeString(dir.resolve("admin-tokens"), "ops:" + ADMIN + "\n");
    Files.writeString(dir.resolve("gateway-tokens"), "gw:" + GATEWAY + "\n");
    Files.writeString(dir.resolve("gateway-token"), GATEWAY + "\n");
    Files.writeString(dir.resolve("wrong-token"), "not-the-gateway-token-0123456789\n");
    OTHER_CA.issue(CertificateRequest.builder().commonName("rogue").uri("spiffe://conduit.test/rogue")
        .usages(CertificateRequest.Usage.CLIENT).build()).writeTo(dir.resolve("rogue.pem"), dir.resolve("rogue.key"));

    String[] serverArgs = {"egress", "server", "--store", dir.resolve("egress.db").toString(), "--listen",
        "127.0.0.1:8700", "--admin-token-file", dir.resolve("admin-tokens").toString(), "--push-listen",
        "198.18.5.2:8701", "--tls-cert", dir.resolve("server.pem").toString(), "--tls-key",
        dir.resolve("server.key").toString(), "--tls-ca", dir.resolve("ca.pem").toString(), "--gateway-token-file",
        dir.resolve("gateway-tokens").toString(), "--allow-special", "198.18.0.0/15"};
    String[] gatewayArgs = {"egress", "gateway", "--server", "198.18.5.2:8701", "--server-ca",
        dir.resolve("ca.pem").toString(), "--server-token-file", dir.resolve("gateway-token").toString(),
        "--protected-network", "198.18.1.0/24", "--allow-special", "198.18.0.0/15", "--table", TABLE,
        "--state-file", dir.resolve("gateway-state").toString(), "--metrics-listen", "127.0.0.1:0",
        "--report-interval", "1s", "--hostname", "gw"};

    Cli server = start(s, "server-1", serverArgs);
    server.await("egress server: API and web page on");
    Cli gateway = start(g, "gateway-1", gatewayArgs);
    gateway.await("push: connected to");
    Cli route = start(c, "route", "egress", "route", "--gateway", "198.18.1.1", "--extra-prefix", "198.19.2.0/24",
        "--check-interval", "1s");
    route.await("egress route: ");
    assertThat(c.run("ip", "route", "show", "198.19.2.0/24")).contains("via 198.18.1.1");
    assertThat(fetch(c, "198.19.2.1")).as("nothing is allowlisted yet").startsWith("exit");

    // two entries through the JSON API: both reachable; one deleted: refused, the other still works
    String first = add(s, "198.19.2.1");
    String second = add(s, "198.19.2.2");
    awaitSet(g, List.of("198.19.2.1", "198.19.2.2"), List.of());
    assertThat(fetch(c, "198.19.2.1")).isEqualTo("200");
    assertThat(fetch(c, "198.19.2.2")).isEqualTo("200");
    assertThat(api(s, "DELETE", "/api/v1/entries/" + second, null)).endsWith(" 204");
    awaitSet(g, List.of("198.19.2.1"), List.of("198.19.2.2"));
    assertThat(fetch(c, "198.19.2.2")).as("deleted: refused").startsWith("exit");
    assertThat(fetch(c, "198.19.2.1")).isEqualTo("200");
    assertThat(api(s, "GET", "/api/v1/audit", null)).contains("\"token:ops\"", "198.19.2.2");

    // the server dies (SIGKILL, by its PID): the gateway enforces what it has
    server.kill();
    assertThat(fetch(c, "198.19.2.1")).isEqualTo("200");
    assertThat(fetch(c, "198.19.2.2")).startsWith("exit");
    awaitSet(g, List.of("198.19.2.1"), List.of("198.19.2.2"));

    // the gateway restarts while the server is down: the state file gives it the same allowlist
    assertThat(gateway.terminate()).as(gateway.output()).isZero();
    assertThat(g.run("nft", "list", "tables")).doesNotContain(TABLE);
    Cli gatewayAgain = start(g, "gateway-2", gatewayArgs);
    gatewayAgain.await("egress gateway: enforcing the 1 allowlist entries kept in");
    awaitSet(g, List.of("198.19.2.1"), List.of("198.19.2.2"));
    assertThat(fetch(c, "198.19.2.1")).isEqualTo("200");
    assertThat(fetch(c, "198.19.2.2")).startsWith("exit");

    // the server comes back; gateways with a wrong token or a foreign certificate are refused, it serves on
    Cli serverAgain = start(s, "server-2", serverArgs);
    serverAgain.await("egress server: API and web page on");
    gatewayAgain.await(Pattern.compile("push: connected to \\S+ at version"));
    Cli wrongToken = start(s, "gateway-wrong-token", "egress", "gateway", "--server", "198.18.5.2:8701",
        "--server-ca", dir.resolve("ca.pem").toString(), "--server-token-file", dir.resolve("wrong-token").toString(),
        "--protected-network", "198.18.9.0/24", "--allow-special", "198.18.0.0/15", "--table", "egress_wrong_token",
        "--state-file", dir.resolve("wrong-token-state").toString(), "--metrics-listen", "127.0.0.1:0");
    wrongToken.await("egress gateway: taking the allowlist from");
    serverAgain.await(Pattern.compile("push: refused .*not authorized"), wrongToken);
    // the agent says why a connection failed at debug level: the rogue gateway's log shows it (its certificate is
    // not under the CAs the server names, so TLS clients do not send it: 401; one that sends it fails the handshake)
    Files.writeString(dir.resolve("debug-push.xml"), """
        <configuration>
          <appender name="OUT" class="ch.qos.logback.core.ConsoleAppender">
            <encoder><pattern>%d{HH:mm:ss.SSS} %-5level %logger{36} - %msg%n</pattern></encoder>
          </appender>
          <logger name="dev.conduit.core.control.push" level="DEBUG"/>
          <root level="INFO"><appender-ref ref="OUT"/></root>
        </configuration>
        """);
    Cli rogue = start(s, "gateway-rogue-cert", List.of("-Dlogback.configurationFile=" + dir.resolve("debug-push.xml")),
        "egress", "gateway", "--server", "198.18.5.2:8701",
        "--server-ca", dir.resolve("ca.pem").toString(), "--client-cert", dir.resolve("rogue.pem").toString(),
        "--client-key", dir.resolve("rogue.key").toString(), "--protected-network", "198.18.9.0/24",
        "--allow-special", "198.18.0.0/15", "--table", "egress_rogue", "--state-file",
        dir.resolve("rogue-state").toString(), "--metrics-listen", "127.0.0.1:0");
    rogue.await("egress gateway: taking the allowlist from");
    String why = rogue.await(Pattern.compile("push: wss://198\\.18\\.5\\.2:8701/v1/push: "
        + ".*(401 Unauthorized|SSLHandshakeException|certificate).*"), serverAgain);
    System.out.println("the rogue gateway's connection failed: " + why);
    add(s, "198.19.2.2");
    awaitSet(g, List.of("198.19.2.1", "198.19.2.2"), List.of());
    assertThat(fetch(c, "198.19.2.2")).as("the real gateway follows the server after the refusals").isEqualTo("200");
    String gateways = api(s, "GET", "/api/v1/gateways", null);
    assertThat(gateways).contains("\"gw\"").doesNotContain("rogue");
    assertThat(s.run("nft", "list", "set", "inet", "egress_wrong_token", "allow4_out"))
        .as("the refused gateway got nothing").doesNotContain("198.19.2");
    assertThat(wrongToken.alive()).as("a refused gateway retries; it does not crash").isTrue();
    assertThat(api(s, "DELETE", "/api/v1/entries/" + first, null)).endsWith(" 204");
    awaitSet(g, List.of("198.19.2.2"), List.of("198.19.2.1"));
    assertThat(fetch(c, "198.19.2.1")).startsWith("exit");

    route.terminate();
    assertThat(c.run("ip", "route", "show", "198.19.2.0/24")).doesNotContain("198.18.1.1");
  }

  /** Adds an entry with curl through the JSON API; returns its id. */
  private static String add(NetNs s, String value) throws Exception {
    String answer = api(s, "POST", "/api/v1/entries", "{\"value\":\"" + value + "\"}");
    assertThat(answer).endsWith(" 201");
    Matcher id = Pattern.compile("\"id\"\\s*:\\s*\"([^\"]+)\"").matcher(answer);
    assertThat(id.find()).as(answer).isTrue();
    return id.group(1);
  }

  /** curl in the server's namespace: the body, a space, and the status. */
  private static String api(NetNs s, String method, String path, String body) throws Exception {
    List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", s.name, "curl", "-sS", "--max-time", "30",
        "-X", method, "-H", "Authorization: Bearer " + ADMIN, "-w", " %{http_code}"));
    if (body != null) {
      cmd.addAll(List.of("-H", "Content-Type: application/json", "--data", body));
    }
    cmd.add("http://127.0.0.1:8700" + path);
    Processes.Result r = Processes.run(60, cmd);
    assertThat(r.exitCode()).as(r.stderr()).isZero();
    return r.out().stripTrailing();
  }

  /** curl from the client: the HTTP status, or {@code exit N} when it got nothing. */
  private static String fetch(NetNs c, String address) throws Exception {
    Processes.Result r = Processes.run(60, List.of("ip", "netns", "exec", c.name, "curl", "-sS", "-o", "/dev/null",
        "--connect-timeout", "2", "--max-time", "20", "-w", "%{http_code}", "http://" + address + ":8000/"));
    return r.exitCode() == 0 ? r.out().strip() : "exit " + r.exitCode();
  }

  /** Waits until the gateway's IPv4 allowlist set holds every one of {@code present} and none of {@code absent}. */
  private static void awaitSet(NetNs g, List<String> present, List<String> absent) {
    Poll.until("the allowlist set with " + present + " without " + absent, WAIT, () -> {
      String set = set(g);
      return present.stream().allMatch(set::contains) && absent.stream().noneMatch(set::contains);
    });
  }

  private static String set(NetNs g) {
    try {
      return g.run("nft", "list", "set", "inet", TABLE, "allow4_out");
    } catch (NetfilterException e) {
      return "";
    }
  }

  private static boolean listening(NetNs ns, String address) {
    try {
      return ns.run("ss", "-Hltn").contains(address);
    } catch (NetfilterException e) {
      return false;
    }
  }

  /** Starts {@code conduit ARGS} in a JVM of its own in {@code ns}, its output in a log file. */
  private Cli start(NetNs ns, String label, String... args) throws Exception {
    return start(ns, label, List.of(), args);
  }

  /** As {@link #start(NetNs, String, String...)} with JVM options. */
  private Cli start(NetNs ns, String label, List<String> jvmOptions, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", ns.name));
    cmd.addAll(Processes.java());
    cmd.addAll(jvmOptions);
    cmd.addAll(List.of("-Xmx192m", "-cp", System.getProperty("java.class.path"), Main.class.getName()));
    cmd.addAll(List.of(args));
    Path log = dir.resolve(label + ".log");
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    p.getOutputStream().close();
    Cli cli = new Cli(p, log);
    closing(() -> stop(p));
    return cli;
  }

  private <T extends AutoCloseable> T closing(T resource) {
    cleanup.add(resource);
    return resource;
  }

  private static void stop(Process p) throws InterruptedException {
    if (p.isAlive()) {
      p.destroy();
      if (!p.waitFor(30, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        p.waitFor(10, TimeUnit.SECONDS);
      }
    }
  }

  /** A conduit command's JVM and its log. */
  private record Cli(Process process, Path log) {

    void await(String text) throws Exception {
      FileWatch.awaitText(log, text, WAIT, process);
    }

    void await(Pattern pattern) throws Exception {
      FileWatch.await(log, pattern, WAIT, process);
    }

    /** As {@link #await(Pattern)}, returning the match; a failure shows the other process's output too. */
    String await(Pattern pattern, Cli other) throws Exception {
      try {
        return FileWatch.await(log, pattern, WAIT, process).group();
      } catch (AssertionError e) {
        throw new AssertionError(e.getMessage() + "\n--- and " + other.log.getFileName() + ":\n" + other.output(), e);
      }
    }

    boolean alive() {
      return process.isAlive();
    }

    String output() throws Exception {
      return Files.readString(log);
    }

    /** SIGKILL by its PID: nothing is cleaned up. */
    void kill() throws InterruptedException {
      process.destroyForcibly();
      assertThat(process.waitFor(30, TimeUnit.SECONDS)).isTrue();
    }

    /** SIGTERM by its PID; returns the exit code. */
    int terminate() throws InterruptedException {
      process.destroy();
      assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
      return process.exitValue();
    }
  }
}
