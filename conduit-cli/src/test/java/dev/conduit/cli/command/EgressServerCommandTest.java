package dev.conduit.cli.command;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.conduit.cli.Cli;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code conduit egress server} from the command line: it serves seed 003's API and conduit's, keeps its entries
 * across a restart, and refuses bad flags and bad seed configuration files with one line.
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

  private static String curl(String url) throws Exception {
    Process p = new ProcessBuilder("curl", "-sS", "-g", url).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor()).as(out).isEqualTo(0);
    return out;
  }
}
