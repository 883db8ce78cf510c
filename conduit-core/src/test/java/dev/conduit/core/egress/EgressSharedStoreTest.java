package dev.conduit.core.egress;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import dev.conduit.core.testing.Poll;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.conduit.core.ConduitResources;
import dev.conduit.core.control.push.PushClient;
import dev.conduit.core.control.push.PushServer;
import dev.conduit.core.control.push.PushState;
import dev.conduit.core.control.store.StoreConfig;
import dev.conduit.core.net.IpPrefixSet;
import dev.conduit.core.pki.CertificateAuthority;
import dev.conduit.core.pki.TlsMaterial;
import dev.conduit.core.testing.Dnsmasq;
import dev.conduit.core.testing.MariaDbServer;
import dev.conduit.core.testing.PostgresServer;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two egress servers on one real PostgreSQL (LISTEN/NOTIFY) or MariaDB (polled version) database: an entry added
 * through A's JSON API reaches a gateway connected to B, with the addresses A resolved (B does not resolve them
 * again: its own DNS server does not answer); an entry deleted through B leaves A's list and A's gateway.
 */
class EgressSharedStoreTest {

  private static final CertificateAuthority CA = CertificateAuthority.builder().commonName("egress test CA").build();
  private static final String ADMIN = "admin-token-0123456789abcdef";
  private static final String GATEWAY = "gateway-token-0123456789abcdef";
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final HttpClient HTTP = HttpClient.newHttpClient();

  @TempDir
  Path dir;

  @Test
  void twoServersOnPostgres() throws Exception {
    try (PostgresServer db = PostgresServer.start()) {
      exercise(StoreConfig.postgres(db.createDatabase("egress")).user(PostgresServer.USER)
          .password(PostgresServer.PASSWORD).build());
    }
  }

  @Test
  void twoServersOnMariaDb() throws Exception {
    try (MariaDbServer db = MariaDbServer.start()) {
      exercise(StoreConfig.mysql(db.createDatabase("egress")).user(MariaDbServer.USER)
          .password(MariaDbServer.PASSWORD).changePollInterval(Duration.ofMillis(200)).build());
    }
  }

  private void exercise(StoreConfig store) throws Exception {
    InetSocketAddress silentDns;
    try (ServerSocket probe = new ServerSocket(0)) { // a closed port: B's lookups would fail
      silentDns = new InetSocketAddress("127.0.0.1", probe.getLocalPort());
    }
    try (Dnsmasq dns = Dnsmasq.start(dir, "198.18.0.21 shared.example.com\n", 60);
         EgressServer a = EgressServer.start(config(store, dns.address()));
         EgressServer b = EgressServer.start(config(store, silentDns));
         ConduitResources resources = ConduitResources.create()) {
      AtomicReference<PushState> atA = new AtomicReference<>(PushState.empty());
      AtomicReference<PushState> atB = new AtomicReference<>(PushState.empty());
      try (PushClient gatewayA = gateway(resources, a, atA);
           PushClient gatewayB = gateway(resources, b, atB)) {
        gatewayA.start();
        gatewayB.start();
        await("both gateways connect", () -> atA.get().version() > 0 && atB.get().version() > 0);

        HttpResponse<String> added = send(a, HttpRequest.newBuilder(uri(a, "/api/v1/entries"))
            .POST(HttpRequest.BodyPublishers.ofString("{\"value\":\"198.18.3.0/24\",\"ports\":[443]}")));
        assertThat(added.statusCode()).as(added.body()).isEqualTo(201);
        String prefixId = JSON.readTree(added.body()).get("id").asText();
        HttpResponse<String> domain = send(a, HttpRequest.newBuilder(uri(a, "/api/v1/entries"))
            .POST(HttpRequest.BodyPublishers.ofString("{\"value\":\"shared.example.com\"}")));
        assertThat(domain.statusCode()).as(domain.body()).isEqualTo(201);

        await("B's gateway receives A's entries", () -> atB.get().resources().containsKey("198.18.3.0/24")
            && atB.get().resources().containsKey("198.18.0.21"));
        assertThat(atB.get().resources().get("198.18.3.0/24").get("ports").get(0).asInt()).isEqualTo(443);
        // B took the address A resolved from the store; a due round on B resolves nothing (its DNS is silent)
        b.runDueWork();
        JsonNode shared = list(b, "shared.example.com").get(0);
        assertThat(shared.get("addresses").toString()).contains("198.18.0.21");
        assertThat(shared.has("lastError") && !shared.get("lastError").isNull()).as(shared.toString()).isFalse();
        assertThat(shared.get("lastResolvedAt").asText())
            .isEqualTo(list(a, "shared.example.com").get(0).get("lastResolvedAt").asText());

        HttpResponse<String> deleted = send(b, HttpRequest.newBuilder(uri(b, "/api/v1/entries/" + prefixId))
            .DELETE());
        assertThat(deleted.statusCode()).as(deleted.body()).isEqualTo(204);
        await("A no longer lists the deleted entry", () -> list(a, "198.18.3").size() == 0);
        await("A's gateway loses it", () -> !atA.get().resources().containsKey("198.18.3.0/24"));
        assertThat(atA.get().resources()).containsKey("198.18.0.21");
        assertThat(a.entries()).extracting(e -> e.value().text()).containsExactly("shared.example.com");
      }
    }
  }

  private static EgressServerConfig config(StoreConfig store, InetSocketAddress dns) {
    return EgressServerConfig.builder(store)
        .bind(new InetSocketAddress("127.0.0.1", 0))
        .adminToken("ops", ADMIN)
        .bindPush(new InetSocketAddress("127.0.0.1", 0), TlsMaterial.of(CA.mintServerLeaf("127.0.0.1"), CA.certificate()))
        .gatewayToken("gw", GATEWAY)
        .dnsServers(List.of(dns))
        .allowedSpecial(IpPrefixSet.parse("198.18.0.0/15"))
        .build();
  }

  private static PushClient gateway(ConduitResources resources, EgressServer server,
      AtomicReference<PushState> into) {
    URI uri = URI.create("wss://127.0.0.1:" + server.pushAddress().orElseThrow().getPort()
        + PushServer.DEFAULT_PATH);
    return PushClient.builder(resources)
        .addresses(List.of(uri))
        .trustAnchors(List.of(CA.certificate()))
        .identity("gw-test", "egress-gateway")
        .bearerToken(GATEWAY)
        .applier(update -> {
          into.set(update.state());
          return update.state().hash();
        })
        .backoff(Duration.ofMillis(50), Duration.ofMillis(500))
        .build();
  }

  private static URI uri(EgressServer server, String path) {
    return URI.create("http://127.0.0.1:" + server.httpAddress().getPort() + path);
  }

  private static HttpResponse<String> send(EgressServer server, HttpRequest.Builder request) throws Exception {
    return HTTP.send(request.header("Authorization", "Bearer " + ADMIN).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private static JsonNode list(EgressServer server, String query) {
    try {
      HttpResponse<String> r = send(server, HttpRequest.newBuilder(uri(server, "/api/v1/entries?q=" + query)));
      assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
      return JSON.readTree(r.body()).get("entries");
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  private static void await(String what, BooleanSupplier condition) {
    Poll.until(what, java.time.Duration.ofSeconds(60), condition);
  }
}
