package dev.conduit.cli.command;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.conduit.cli.Cli;
import dev.conduit.core.ConduitResources;
import dev.conduit.core.control.push.PushClient;
import dev.conduit.core.control.push.PushServer;
import dev.conduit.core.control.push.PushState;
import dev.conduit.core.pki.CertificateAuthority;
import dev.conduit.core.pki.IssuedCertificate;
import dev.conduit.core.pki.Pem;
import dev.conduit.core.testing.MariaDbServer;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code conduit egress server} from the command line: it serves seed 003's API and conduit's, keeps its entries
 * across a restart, runs from seed 003's server configuration as written (on a MariaDB the test starts), and
 * refuses bad flags and bad seed configuration files with one line.
 */
class EgressServerCommandTest {

  private static final String TOKEN = "cli-admin-token-0123456789";
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir
  Path dir;

  @Test
  void servesTheSeedApiAndConduitsAndKeepsItsEntries() throws Exception {
    Path tokens = dir.resolve("admin-tokens");
    Files.writeString(tokens, "# name:token\nops:" + TOKEN + "\n");
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    String[] args = {"egress", "server", "--store", dir.resolve("egress.db").toString(), "--listen",
        "127.0.0.1:" + port, "--admin-token-file", tokens.toString(), "--allow-special", "198.18.0.0/15"};
    String base = "http://127.0.0.1:" + port;
    try (Cli.Running server = Cli.start(args)) {
      server.conduit();
      assertThat(curl(base + "/api?add=198.18.0.7&nonDeletable=true")).contains("\"status\":\"success\"");
      assertThat(curl(base + "/api?add=10.1.2.3")).contains("\"status\":\"failed\"", "private address space");
      HttpResponse<String> listed = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
          URI.create(base + "/api/v1/entries")).header("Authorization", "Bearer " + TOKEN).build(),
          HttpResponse.BodyHandlers.ofString());
      assertThat(listed.statusCode()).isEqualTo(200);
      JsonNode entries = JSON.readTree(listed.body()).get("entries");
      assertThat(entries.findValuesAsText("value")).containsExactly("198.18.0.7");
      Cli.Result stopped = server.stop();
      assertThat(stopped.exitCode()).as(stopped.toString()).isZero();
      assertThat(stopped.out()).contains("egress server: API and web page on http://127.0.0.1:" + port + "/ui/",
          "no push listener");
    }
    try (Cli.Running again = Cli.start(args)) {
      again.conduit();
      JsonNode all = JSON.readTree(curl(base + "/show-all"));
      assertThat(all.get("Records").findValuesAsText("IP")).containsExactly("198.18.0.7");
      assertThat(all.get("Records").get(0).get("IsNoDel").asBoolean()).isTrue();
    }
  }

  @Test
  void runsFromTheSeedsServerConfigAsWrittenOnMariaDb() throws Exception {
    try (MariaDbServer db = MariaDbServer.start()) {
      db.createDatabase("outputguard");
      Path conf = dir.resolve("config.yaml");
      Files.writeString(conf, "db_user: \"" + MariaDbServer.USER + "\"\ndb_password: \"" + MariaDbServer.PASSWORD
          + "\"\ndb_server: \"127.0.0.1\"\ndb_port: \"" + db.port() + "\"\ndb_name: \"outputguard\"\n");
      int port;
      try (ServerSocket s = new ServerSocket(0)) {
        port = s.getLocalPort();
      }
      String base = "http://127.0.0.1:" + port;
      try (Cli.Running server = Cli.start("egress", "server", "-server-conf-path", conf.toString(), "--listen",
          "127.0.0.1:" + port, "--allow-special", "198.18.0.0/15")) {
        server.conduit();
        assertThat(curl(base + "/api?add=198.18.0.9")).contains("\"status\":\"success\"");
        assertThat(JSON.readTree(curl(base + "/show-all")).get("Records").findValuesAsText("IP"))
            .containsExactly("198.18.0.9");
      }
      try (Connection c = db.connect("outputguard"); Statement s = c.createStatement();
           ResultSet r = s.executeQuery("SELECT entry_value, created_by FROM egress_entries")) {
        assertThat(r.next()).isTrue();
        assertThat(r.getString(1)).isEqualTo("198.18.0.9");
        assertThat(r.getString(2)).isEqualTo("seed-api");
      }
    }
  }

  @Test
  void pushesTheAllowlistToAGatewayOverTlsWithItsToken() throws Exception {
    CertificateAuthority ca = CertificateAuthority.builder().commonName("egress cli CA").build();
    IssuedCertificate leaf = ca.mintServerLeaf("127.0.0.1");
    Path cert = Files.writeString(dir.resolve("server.pem"), leaf.chainPem());
    Path key = Files.writeString(dir.resolve("server.key"), leaf.privateKeyPem());
    Path caFile = Files.writeString(dir.resolve("ca.pem"), Pem.encodeCertificate(ca.certificate()));
    Path gatewayTokens = Files.writeString(dir.resolve("gateway-tokens"), "gw1:gateway-token-0123456789\n");
    int http;
    int push;
    try (ServerSocket a = new ServerSocket(0); ServerSocket b = new ServerSocket(0)) {
      http = a.getLocalPort();
      push = b.getLocalPort();
    }
    try (Cli.Running server = Cli.start("egress", "server", "--store", dir.resolve("egress.db").toString(),
            "--listen", "127.0.0.1:" + http, "--push-listen", "127.0.0.1:" + push, "--tls-cert", cert.toString(),
            "--tls-key", key.toString(), "--tls-ca", caFile.toString(), "--gateway-token-file",
            gatewayTokens.toString(), "--allow-special", "198.18.0.0/15");
         ConduitResources resources = ConduitResources.create()) {
      server.conduit();
      AtomicReference<PushState> got = new AtomicReference<>(PushState.empty());
      CompletableFuture<PushState> withEntry = new CompletableFuture<>();
      try (PushClient gateway = PushClient.builder(resources)
          .addresses(List.of(URI.create("wss://127.0.0.1:" + push + PushServer.DEFAULT_PATH)))
          .trustAnchors(List.of(ca.certificate()))
          .bearerToken("gateway-token-0123456789")
          .identity("gw1", "egress-gateway")
          .applier(update -> {
            got.set(update.state());
            if (update.state().resources().containsKey("198.18.3.0/24")) {
              withEntry.complete(update.state());
            }
            return update.state().hash();
          })
          .backoff(Duration.ofMillis(50), Duration.ofMillis(500))
          .build()) {
        gateway.start();
        assertThat(curl("http://127.0.0.1:" + http + "/api?add=198.18.3.0/24")).contains("success");
        try {
          withEntry.get(30, TimeUnit.SECONDS); // the gateway's applier installs the state with the entry
        } catch (TimeoutException e) {
          throw new AssertionError("the gateway gets the entry within 30 s; it has " + got.get(), e);
        }
      }
      assertThat(server.stop().out()).contains("gateways on wss://127.0.0.1:" + push + "/v1/push");
    }
  }

  @Test
  void refusesBadFlagsAndSeedFilesWithOneLine() throws Exception {
    Cli.Result tls = Cli.run("egress", "server", "--store", dir.resolve("a.db").toString(), "--tls-cert",
        dir.resolve("cert.pem").toString());
    assertThat(tls.exitCode()).isNotZero();
    assertThat(tls.errLines()).hasSize(1);
    assertThat(tls.err()).contains("--tls-cert, --tls-key and --tls-ca go together");

    Path notYaml = dir.resolve("bad.yaml");
    Files.writeString(notYaml, "db_user: [unclosed\n");
    Cli.Result yaml = Cli.run("egress", "server", "-server-conf-path", notYaml.toString());
    assertThat(yaml.exitCode()).isNotZero();
    assertThat(yaml.err()).contains("-server-conf-path", "not YAML");

    Path missing = dir.resolve("missing.yaml");
    Files.writeString(missing, "db_user: \"u\"\ndb_password: \"p\"\n");
    Cli.Result keys = Cli.run("egress", "server", "-server-conf-path", missing.toString());
    assertThat(keys.exitCode()).isNotZero();
    assertThat(keys.err()).contains("db_server");
    Path port = dir.resolve("port.yaml");
    Files.writeString(port, "db_server: \"db\"\ndb_port: \"your_db_port\"\ndb_name: \"egress\"\n");
    Cli.Result badPort = Cli.run("egress", "server", "-server-conf-path", port.toString());
    assertThat(badPort.exitCode()).isNotZero();
    assertThat(badPort.err()).contains("db_port: 'your_db_port' (expected: 1-65535)");

    Path tokens = dir.resolve("short-tokens");
    Files.writeString(tokens, "ops:short\n");
    Cli.Result shortToken = Cli.run("egress", "server", "--store", dir.resolve("b.db").toString(),
        "--admin-token-file", tokens.toString());
    assertThat(shortToken.exitCode()).isNotZero();
    assertThat(shortToken.err()).contains("line 1", "at least 16");
  }

  @Test
  void runsFromTheEgressServerSectionOfAConfigFile() throws Exception {
    Path tokens = dir.resolve("admin-tokens");
    Files.writeString(tokens, "ops:" + TOKEN + "\n");
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    Path yaml = dir.resolve("conduit.yaml");
    Files.writeString(yaml, "version: 1\negress_server:\n  listen: 127.0.0.1:" + port + "\n  store: "
        + dir.resolve("egress.db") + "\n  admin_token_file: " + tokens + "\n  allow_special: [198.18.0.0/15]\n"
        + "  resolve_interval: 1m\n  grace_period: 10m\n  max_request_bytes: 32768\n  expose_seed_api: false\n");
    String base = "http://127.0.0.1:" + port;
    try (Cli.Running server = Cli.start("egress", "server", "-c", yaml.toString())) {
      server.conduit();
      assertThat(curl(base + "/ping")).isEqualTo("{\"message\":\"pong\"}");
      HttpClient client = HttpClient.newHttpClient();
      HttpResponse<String> added = client.send(HttpRequest.newBuilder(URI.create(base + "/api/v1/entries"))
          .header("Authorization", "Bearer " + TOKEN).header("Content-Type", "application/json")
          .POST(HttpRequest.BodyPublishers.ofString("{\"value\":\"198.18.0.9\"}")).build(),
          HttpResponse.BodyHandlers.ofString());
      assertThat(added.statusCode()).as(added.body()).isEqualTo(201);
      HttpResponse<String> listed = client.send(HttpRequest.newBuilder(URI.create(base + "/api/v1/entries"))
          .header("Authorization", "Bearer " + TOKEN).build(), HttpResponse.BodyHandlers.ofString());
      assertThat(listed.statusCode()).isEqualTo(200);
      assertThat(JSON.readTree(listed.body()).get("entries").findValuesAsText("value")).containsExactly("198.18.0.9");
      Cli.Result stopped = server.stop();
      assertThat(stopped.exitCode()).as(stopped.toString()).isZero();
    }

    Cli.Result run = Cli.run("run", "-c", yaml.toString());
    assertThat(run.exitCode()).isNotZero();
    assertThat(run.errLines()).hasSize(1);
    assertThat(run.err()).contains("conduit egress server -c");

    Path unknown = dir.resolve("unknown.yaml");
    Files.writeString(unknown, "version: 1\negress_server:\n  listen: 127.0.0.1:0\n  lisen: 127.0.0.1:1\n");
    Cli.Result refused = Cli.run("egress", "server", "-c", unknown.toString());
    assertThat(refused.exitCode()).isNotZero();
    assertThat(refused.errLines()).hasSize(1);
    assertThat(refused.err()).contains("lisen");
  }

  @Test
  void servesHttpsAndTakesAdminCertificatesFromTheConfigFile() throws Exception {
    CertificateAuthority serverCa = CertificateAuthority.builder().commonName("egress https CA").build();
    CertificateAuthority adminCa = CertificateAuthority.builder().commonName("egress admins CA").build();
    serverCa.mintServerLeaf("127.0.0.1").writeTo(dir.resolve("https.pem"), dir.resolve("https.key"));
    Files.writeString(dir.resolve("server-ca.pem"), serverCa.certificatePem());
    Files.writeString(dir.resolve("admin-ca.pem"), adminCa.certificatePem());
    adminCa.issue(dev.conduit.core.pki.CertificateRequest.builder().commonName("alice")
        .usages(dev.conduit.core.pki.CertificateRequest.Usage.CLIENT).build())
        .writeTo(dir.resolve("alice.pem"), dir.resolve("alice.key"));
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    Path yaml = dir.resolve("conduit.yaml");
    Files.writeString(yaml, "version: 1\negress_server:\n  listen: 127.0.0.1:" + port + "\n  store: "
        + dir.resolve("egress.db") + "\n  allow_special: [198.18.0.0/15]\n  http_tls_cert: " + dir.resolve("https.pem")
        + "\n  http_tls_key: " + dir.resolve("https.key") + "\n  admin_ca: " + dir.resolve("admin-ca.pem") + "\n");
    String url = "https://127.0.0.1:" + port + "/api/v1/entries";
    try (Cli.Running server = Cli.start("egress", "server", "-c", yaml.toString())) {
      server.conduit();
      String added = run("curl", "-sS", "--cacert", dir.resolve("server-ca.pem").toString(), "--cert",
          dir.resolve("alice.pem").toString(), "--key", dir.resolve("alice.key").toString(), "-w", " %{http_code}",
          "--data", "{\"value\":\"198.18.0.21\"}", url);
      assertThat(added).endsWith(" 201").contains("198.18.0.21");
      String audit = run("curl", "-sS", "--cacert", dir.resolve("server-ca.pem").toString(), "--cert",
          dir.resolve("alice.pem").toString(), "--key", dir.resolve("alice.key").toString(),
          "https://127.0.0.1:" + port + "/api/v1/audit");
      assertThat(audit).contains("\"cert:alice\"");
      String anonymous = run("curl", "-sS", "--cacert", dir.resolve("server-ca.pem").toString(), "-w",
          " %{http_code}", url);
      assertThat(anonymous).endsWith(" 401");
      Cli.Result stopped = server.stop();
      assertThat(stopped.out()).contains("API and web page on https://127.0.0.1:" + port + "/ui/");
    }

    Cli.Result noTls = Cli.run("egress", "server", "--store", dir.resolve("c.db").toString(), "--admin-ca",
        dir.resolve("admin-ca.pem").toString());
    assertThat(noTls.exitCode()).isNotZero();
    assertThat(noTls.errLines()).hasSize(1);
    assertThat(noTls.err()).contains("--admin-ca: needs --http-tls-cert and --http-tls-key");
    Cli.Result halfTls = Cli.run("egress", "server", "--store", dir.resolve("c.db").toString(), "--http-tls-cert",
        dir.resolve("https.pem").toString());
    assertThat(halfTls.exitCode()).isNotZero();
    assertThat(halfTls.err()).contains("--http-tls-cert and --http-tls-key go together");
  }

  private static String run(String... command) throws Exception {
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).as(out).isTrue();
    return out.strip();
  }

  private static String curl(String url) throws Exception {
    Process p = new ProcessBuilder("curl", "-sS", "-g", url).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor()).as(out).isEqualTo(0);
    return out;
  }
}
