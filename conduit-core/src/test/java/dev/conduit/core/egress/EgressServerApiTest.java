package dev.conduit.core.egress;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.conduit.core.control.store.StoreConfig;
import dev.conduit.core.testing.Dnsmasq;
import dev.conduit.core.net.IpPrefixSet;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The egress server's HTTP API through real clients (the JDK's HttpClient and curl), with names resolved by a real
 * dnsmasq: conduit's JSON API with a bearer token, the web session with its CSRF token, seed 003's GET API, and bad
 * input, each refused with a clear message, nothing stored, the server serving on.
 */
class EgressServerApiTest {

  private static final String TOKEN = "ops-token-0123456789abcdef";
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir
  static Path dir;
  static Dnsmasq dns;
  static EgressServer server;
  static HttpClient client = HttpClient.newHttpClient();
  static String base;

  @BeforeAll
  static void start() throws Exception {
    dns = Dnsmasq.start(dir, "198.18.0.10 api.example.com\n198.18.0.11 api.example.com\n"
        + "fd00::10 api.example.com\n10.0.0.5 evil.example.com\n127.0.0.1 rebind.example.com\n"
        + "198.18.0.12 cdn.example.net\n", 60, "www.example.com,cdn.example.net");
    server = EgressServer.start(EgressServerConfig.builder(StoreConfig.sqlite(dir.resolve("egress.db")).build())
        .bind(new java.net.InetSocketAddress("127.0.0.1", 0))
        .adminToken("ops", TOKEN)
        .maxRequestBytes(16 * 1024)
        .dnsServers(List.of(dns.address()))
        .allowedSpecial(IpPrefixSet.parse("198.18.0.0/15", "fd00::/8"))
        .build());
    base = "http://127.0.0.1:" + server.httpAddress().getPort();
  }

  @AfterAll
  static void stop() throws Exception {
    if (server != null) {
      server.close();
    }
    if (dns != null) {
      dns.close();
    }
  }

  @Test
  void aWildcardIsPushedAsAKeyOfItsOwnWithoutAddresses() throws Exception {
    HttpResponse<String> added = post("/api/v1/entries", "{\"value\":\"*.Example.org\",\"ports\":[443]}", bearer());
    assertThat(added.statusCode()).as(added.body()).isEqualTo(201);
    assertThat(JSON.readTree(added.body()).get("kind").asText()).isEqualTo("wildcard");
    JsonNode pushed = server.effectiveAllowlist().get("*.example.org");
    assertThat(pushed).isNotNull();
    assertThat(pushed.toString()).isEqualTo("{\"entries\":[\"*.example.org\"],\"ports\":[443],\"kind\":\"wildcard\"}");
    String id = JSON.readTree(added.body()).get("id").asText();
    assertThat(delete("/api/v1/entries/" + id, bearer()).statusCode()).isEqualTo(204);
    assertThat(server.effectiveAllowlist()).doesNotContainKey("*.example.org");
  }

  @Test
  void addsResolvesListsAndDeletesWithABearerToken() throws Exception {
    HttpResponse<String> added = post("/api/v1/entries", "{\"value\":\"API.Example.com.\",\"ports\":[443,443,80],"
        + "\"comment\":\"payments\"}", bearer());
    assertThat(added.statusCode()).as(added.body()).isEqualTo(201);
    JsonNode entry = JSON.readTree(added.body());
    assertThat(entry.get("value").asText()).isEqualTo("api.example.com");
    assertThat(entry.get("kind").asText()).isEqualTo("domain");
    assertThat(entry.get("ports").toString()).isEqualTo("[80,443]");
    assertThat(entry.get("lastResolvedAt").isTextual()).isTrue();
    assertThat(entry.get("addresses").findValuesAsText("address"))
        .containsExactly("198.18.0.10", "198.18.0.11", "fd00::10");
    assertThat(entry.get("addresses").findValuesAsText("state")).containsOnly("active");
    assertThat(server.effectiveAllowlist()).containsKeys("198.18.0.10", "198.18.0.11", "fd00::10");

    HttpResponse<String> cname = post("/api/v1/entries", "{\"value\":\"www.example.com\"}", bearer());
    assertThat(cname.statusCode()).as(cname.body()).isEqualTo(201);
    assertThat(JSON.readTree(cname.body()).get("addresses").findValuesAsText("address")).containsExactly("198.18.0.12");

    HttpResponse<String> listed = get("/api/v1/entries?q=payments", bearer());
    assertThat(listed.statusCode()).isEqualTo(200);
    assertThat(JSON.readTree(listed.body()).get("entries").findValuesAsText("value")).containsExactly("api.example.com");

    assertThat(post("/api/v1/entries", "{\"value\":\"api.example.com\"}", bearer()).statusCode()).isEqualTo(409);

    String id = entry.get("id").asText();
    assertThat(delete("/api/v1/entries/" + id, bearer()).statusCode()).isEqualTo(204);
    assertThat(delete("/api/v1/entries/" + id, bearer()).statusCode()).isEqualTo(404);
    assertThat(server.effectiveAllowlist()).doesNotContainKey("198.18.0.10").containsKey("198.18.0.12");

    JsonNode audit = JSON.readTree(get("/api/v1/audit?limit=10", bearer()).body()).get("audit");
    assertThat(audit.get(0).get("action").asText()).isEqualTo("delete");
    assertThat(audit.get(0).get("actor").asText()).isEqualTo("token:ops");
    assertThat(audit.get(0).get("subject").asText()).isEqualTo("api.example.com");
  }

  @Test
  void refusesPrivateSpaceAndItsDisguisesWithAClearMessageAndStoresNothing() throws Exception {
    int before = server.entries().size();
    assertRefused("10.0.0.1", 400, "10.0.0.1: private address space (10.0.0.0/8) is not allowed");
    assertRefused("127.1", 400, "non-canonical spelling of IPv4 address 127.0.0.1");
    assertRefused("0x7f.1", 400, "loopback address space (127.0.0.0/8)");
    assertRefused("2130706433", 400, "127.0.0.1");
    assertRefused("::ffff:127.0.0.1", 400, "loopback address space (127.0.0.0/8");
    assertRefused("::ffff:a9fe:a9fe", 400, "link local address space (169.254.0.0/16");
    assertRefused("169.254.169.254", 400, "link local");
    assertRefused("0.0.0.0/0", 400, "covers non-public addresses");
    assertRefused("evil.example.com", 400, "evil.example.com resolves to 10.0.0.5: private address space");
    assertRefused("rebind.example.com", 400, "loopback");
    assertRefused("localhost", 400, "special-use");
    assertRefused("db.internal", 400, "special-use");
    assertRefused("nothing.example.com", 400, "has no A or AAAA records");
    assertRefused("bad_..name", 400, "not a domain name");
    assertRefused("*.com", 400, "top-level domain");
    assertRefused("x".repeat(300) + ".com", 400, "expected: at most 253");
    assertThat(post("/api/v1/entries", "{\"value\":\"198.18.0.30\",\"ports\":[70000]}", bearer()).body())
        .contains("ports: 70000 (expected: 1-65535)");
    assertThat(post("/api/v1/entries", "{\"value\":", bearer()).body()).contains("malformed JSON");
    assertThat(post("/api/v1/entries", "[1,2]", bearer()).body()).contains("expected a JSON object");
    assertThat(post("/api/v1/entries", "{\"value\":42}", bearer()).body()).contains("value: number");
    String enormousBody = "{\"value\":\"" + "a".repeat(100_000) + ".com\"}";
    HttpResponse<String> enormous = post("/api/v1/entries", enormousBody, bearer());
    assertThat(enormous.statusCode()).isEqualTo(413);
    assertThat(enormous.headers().firstValue("content-type")).hasValue("application/json");
    assertThat(enormous.headers().firstValue("connection")).hasValue("close");
    assertThat(JSON.readTree(enormous.body()).get("error").asText())
        .isEqualTo("request body: " + enormousBody.length() + " bytes (expected: at most " + 16 * 1024 + ")");
    assertThat(server.entries()).hasSize(before);
    assertThat(get("/ping", Optional.empty()).body()).isEqualTo("{\"message\":\"pong\"}");
  }

  @Test
  void refusesRequestsWithoutCredentialsAndNonDeletableDeletes() throws Exception {
    assertThat(get("/api/v1/entries", Optional.empty()).statusCode()).isEqualTo(401);
    assertThat(get("/api/v1/entries", Optional.of("Bearer wrong-token-0123456789")).statusCode()).isEqualTo(401);
    HttpResponse<String> kept = post("/api/v1/entries", "{\"value\":\"198.18.1.0/24\",\"nonDeletable\":true}",
        bearer());
    assertThat(kept.statusCode()).as(kept.body()).isEqualTo(201);
    String id = JSON.readTree(kept.body()).get("id").asText();
    HttpResponse<String> refused = delete("/api/v1/entries/" + id, bearer());
    assertThat(refused.statusCode()).isEqualTo(403);
    assertThat(refused.body()).isEqualTo("{\"error\":\"198.18.1.0/24: the entry is non-deletable\"}");
    assertThat(server.entries()).anyMatch(e -> e.id().equals(id));
  }

  @Test
  void webSessionNeedsItsCsrfTokenAndTheSameOrigin() throws Exception {
    HttpResponse<String> login = client.send(HttpRequest.newBuilder(URI.create(base + "/ui/login"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .POST(HttpRequest.BodyPublishers.ofString("token=" + TOKEN)).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(login.statusCode()).isEqualTo(204);
    List<String> cookies = login.headers().allValues("set-cookie");
    assertThat(cookies).hasSize(2);
    assertThat(cookies.get(0)).startsWith("conduit_session=").contains("HttpOnly", "SameSite=Strict", "Path=/");
    assertThat(cookies.get(1)).startsWith("conduit_csrf=").contains("SameSite=Strict").doesNotContain("HttpOnly");
    String session = cookies.get(0).substring(0, cookies.get(0).indexOf(';'));
    String csrfCookie = cookies.get(1).substring(0, cookies.get(1).indexOf(';'));
    String csrf = csrfCookie.substring("conduit_csrf=".length());
    String cookieHeader = session + "; " + csrfCookie;

    assertThat(send(HttpRequest.newBuilder(URI.create(base + "/api/v1/entries")).header("Cookie", cookieHeader)
        .GET()).statusCode()).isEqualTo(200);
    HttpResponse<String> noCsrf = send(HttpRequest.newBuilder(URI.create(base + "/api/v1/entries"))
        .header("Cookie", cookieHeader).POST(HttpRequest.BodyPublishers.ofString("{\"value\":\"198.18.0.40\"}")));
    assertThat(noCsrf.statusCode()).isEqualTo(403);
    assertThat(noCsrf.body()).contains("X-CSRF-Token");
    HttpResponse<String> crossSite = send(HttpRequest.newBuilder(URI.create(base + "/api/v1/entries"))
        .header("Cookie", cookieHeader).header("X-CSRF-Token", csrf).header("Sec-Fetch-Site", "cross-site")
        .POST(HttpRequest.BodyPublishers.ofString("{\"value\":\"198.18.0.40\"}")));
    assertThat(crossSite.statusCode()).isEqualTo(403);
    HttpResponse<String> ok = send(HttpRequest.newBuilder(URI.create(base + "/api/v1/entries"))
        .header("Cookie", cookieHeader).header("X-CSRF-Token", csrf).header("Sec-Fetch-Site", "same-origin")
        .POST(HttpRequest.BodyPublishers.ofString("{\"value\":\"198.18.0.40\"}")));
    assertThat(ok.statusCode()).as(ok.body()).isEqualTo(201);
    assertThat(JSON.readTree(ok.body()).get("createdBy").asText()).isEqualTo("ui:ops");

    HttpResponse<String> badLogin = client.send(HttpRequest.newBuilder(URI.create(base + "/ui/login"))
        .header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString("{\"token\":\"not-the-token-000000\"}")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(badLogin.statusCode()).isEqualTo(401);
    assertThat(badLogin.headers().allValues("set-cookie")).isEmpty();
  }

  @Test
  void seedApiWorksAsTheSeedWritesIt() throws Exception {
    JsonNode added = JSON.readTree(curl(base + "/api?add=198.18.0.50&nonDeletable=true"));
    assertThat(added.get("status").asText()).isEqualTo("success");
    assertThat(added.get("info").asText()).isEqualTo("198.18.0.50");
    JsonNode refused = JSON.readTree(curl(base + "/api?del=198.18.0.50"));
    assertThat(refused.get("status").asText()).isEqualTo("failed");
    assertThat(refused.get("info").asText()).contains("不可删除");
    JsonNode privateRefused = JSON.readTree(curl(base + "/api?add=192.168.1.1"));
    assertThat(privateRefused.get("status").asText()).isEqualTo("failed");
    assertThat(privateRefused.get("info").asText()).contains("private address space (192.168.0.0/16)");
    JSON.readTree(curl(base + "/api?add=198.18.0.51"));
    assertThat(JSON.readTree(curl(base + "/api?del=198.18.0.51")).get("status").asText()).isEqualTo("success");
    JsonNode all = JSON.readTree(curl(base + "/show-all"));
    JsonNode record = null;
    for (JsonNode r : all.get("Records")) {
      if (r.get("IP").asText().equals("198.18.0.50")) {
        record = r;
      }
      assertThat(r.get("IP").asText()).isNotEqualTo("198.18.0.51");
    }
    assertThat(record).isNotNull();
    assertThat(record.get("Types").asText()).isEqualTo("IP");
    assertThat(record.get("IsNoDel").asBoolean()).isTrue();
    assertThat(curl(base + "/api")).contains("\"status\":\"failed\"");
    assertThat(JSON.readTree(get("/api/v1/audit", bearer()).body()).get("audit").findValuesAsText("actor"))
        .contains("seed-api");
  }

  @Test
  void servesTheWebPageFromTheJarWithItsSecurityHeaders() throws Exception {
    HttpResponse<String> index = get("/ui/", Optional.empty());
    assertThat(index.statusCode()).isEqualTo(200);
    assertThat(index.headers().firstValue("content-type")).contains("text/html; charset=utf-8");
    assertThat(index.headers().firstValue("content-security-policy")).contains("default-src 'self'");
    assertThat(index.headers().firstValue("x-frame-options")).contains("DENY");
    assertThat(index.body()).contains("app.js");
    assertThat(get("/ui/app.js", Optional.empty()).headers().firstValue("content-type"))
        .contains("text/javascript; charset=utf-8");
    assertThat(get("/ui/app.css", Optional.empty()).headers().firstValue("content-type"))
        .contains("text/css; charset=utf-8");
    HttpResponse<String> bare = get("/ui", Optional.empty());
    assertThat(bare.statusCode()).isEqualTo(308);
    assertThat(bare.headers().firstValue("location")).contains("/ui/");
    assertThat(get("/ui/nothing.js", Optional.empty()).statusCode()).isEqualTo(404);
    assertThat(curl("--path-as-is", base + "/ui/../../etc/passwd")).doesNotContain("root:");
    assertThat(get("/ui/%2e%2e%2fEgressServer.class", Optional.empty()).statusCode()).isEqualTo(404);
  }

  @Test
  void adoptTakesTheLearnedFlowsPortsAndEveryPortOnlyWhenAsked() throws Exception {
    com.fasterxml.jackson.databind.node.ObjectNode report = JSON.createObjectNode().put("type", "egress-gateway")
        .put("mode", "report");
    var denied = report.putArray("denied");
    denied.addObject().put("destination", "198.18.0.77").put("port", 8443).put("count", 2);
    denied.addObject().put("destination", "198.18.0.77").put("port", 443).put("count", 1);
    denied.addObject().put("destination", "198.18.0.78").put("port", 443).put("count", 1);
    denied.addObject().put("destination", "198.18.0.79").put("port", 22).put("count", 1);
    server.onReport("gw-adopt", report);

    // by default: the ports the denied flows were seen on
    HttpResponse<String> seen = post("/api/v1/learned/adopt", "{\"value\":\"198.18.0.77\"}", bearer());
    assertThat(seen.statusCode()).as(seen.body()).isEqualTo(201);
    assertThat(JSON.readTree(seen.body()).get("ports").toString()).isEqualTo("[443,8443]");
    assertThat(server.effectiveAllowlist().get("198.18.0.77").get("ports").toString()).isEqualTo("[443,8443]");

    // every port, when the operator asks
    HttpResponse<String> all = post("/api/v1/learned/adopt", "{\"value\":\"198.18.0.78\",\"allPorts\":true}",
        bearer());
    assertThat(all.statusCode()).as(all.body()).isEqualTo(201);
    assertThat(JSON.readTree(all.body()).get("ports").toString()).isEqualTo("[]");

    // or the ports the operator names
    HttpResponse<String> named = post("/api/v1/learned/adopt", "{\"value\":\"198.18.0.79\",\"ports\":[2222]}",
        bearer());
    assertThat(named.statusCode()).as(named.body()).isEqualTo(201);
    assertThat(JSON.readTree(named.body()).get("ports").toString()).isEqualTo("[2222]");

    // bad input: a clear message, nothing stored
    HttpResponse<String> bad = post("/api/v1/learned/adopt", "{\"value\":\"198.18.0.80\",\"allPorts\":\"yes\"}",
        bearer());
    assertThat(bad.statusCode()).isEqualTo(400);
    assertThat(JSON.readTree(bad.body()).get("error").asText()).contains("allPorts");
    HttpResponse<String> both = post("/api/v1/learned/adopt",
        "{\"value\":\"198.18.0.80\",\"allPorts\":true,\"ports\":[443]}", bearer());
    assertThat(both.statusCode()).isEqualTo(400);
    assertThat(server.effectiveAllowlist()).doesNotContainKey("198.18.0.80");

    for (JsonNode e : JSON.readTree(get("/api/v1/entries?q=198.18.0.7", bearer()).body()).get("entries")) {
      if (e.get("value").asText().matches("198\\.18\\.0\\.7[789]")) {
        assertThat(delete("/api/v1/entries/" + e.get("id").asText(), bearer()).statusCode()).isEqualTo(204);
      }
    }
  }

  private void assertRefused(String value, int status, String message) throws Exception {
    HttpResponse<String> r = post("/api/v1/entries", JSON.createObjectNode().put("value", value).toString(), bearer());
    assertThat(r.statusCode()).as(value + " -> " + r.body()).isEqualTo(status);
    assertThat(JSON.readTree(r.body()).get("error").asText()).as(value).contains(message);
  }

  private static Optional<String> bearer() {
    return Optional.of("Bearer " + TOKEN);
  }

  private static HttpResponse<String> get(String path, Optional<String> authorization) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).GET();
    authorization.ifPresent(a -> b.header("Authorization", a));
    return send(b);
  }

  private static HttpResponse<String> post(String path, String body, Optional<String> authorization) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path))
        .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body));
    authorization.ifPresent(a -> b.header("Authorization", a));
    return send(b);
  }

  private static HttpResponse<String> delete(String path, Optional<String> authorization) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).DELETE();
    authorization.ifPresent(a -> b.header("Authorization", a));
    return send(b);
  }

  private static HttpResponse<String> send(HttpRequest.Builder b) throws Exception {
    return client.send(b.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
  }

  private static String curl(String... args) throws Exception {
    List<String> command = new java.util.ArrayList<>(List.of("curl", "-sS", "-g"));
    command.addAll(List.of(args));
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor()).as(out).isEqualTo(0);
    return out;
  }
}
