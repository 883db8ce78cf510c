package dev.conduit.core.egress;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.testing.Poll;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.conduit.core.ConduitResources;
import dev.conduit.core.control.push.PushClient;
import dev.conduit.core.control.push.PushServer;
import dev.conduit.core.control.push.PushState;
import dev.conduit.core.control.store.StoreConfig;
import dev.conduit.core.net.IpPrefixSet;
import dev.conduit.core.pki.CertificateAuthority;
import dev.conduit.core.pki.CertificateRequest;
import dev.conduit.core.pki.TlsMaterial;
import java.net.InetSocketAddress;
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
 * Gateways on the push channel (TLS, the server authenticated by its certificate): one with a token, one with a
 * client certificate, both receive the allowlist and each change at once; a wrong token and a certificate from
 * another CA are refused; a gateway's report shows in the traffic, learned and gateways API.
 */
class EgressPushTest {

  private static final CertificateAuthority CA = CertificateAuthority.builder().commonName("egress test CA").build();
  private static final CertificateAuthority OTHER = CertificateAuthority.builder().commonName("other CA").build();
  private static final String ADMIN = "admin-token-0123456789abcdef";
  private static final String GATEWAY = "gateway-token-0123456789abcdef";
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir
  Path dir;

  @Test
  void gatewaysReceiveTheAllowlistAndReport() throws Exception {
    try (EgressServer server = EgressServer.start(EgressServerConfig.builder(
            StoreConfig.sqlite(dir.resolve("egress.db")).build())
            .bind(new InetSocketAddress("127.0.0.1", 0))
            .adminToken("ops", ADMIN)
            .bindPush(new InetSocketAddress("127.0.0.1", 0),
                TlsMaterial.of(CA.mintServerLeaf("127.0.0.1"), CA.certificate()))
            .gatewayToken("gw1", GATEWAY)
            .allowedSpecial(IpPrefixSet.parse("198.18.0.0/15"))
            .build());
         ConduitResources resources = ConduitResources.create()) {
      current = server;
      server.add(NewEntry.of("198.18.0.7"), "test");
      URI uri = URI.create("wss://127.0.0.1:" + server.pushAddress().orElseThrow().getPort() + PushServer.DEFAULT_PATH);
      AtomicReference<PushState> byToken = new AtomicReference<>(PushState.empty());
      AtomicReference<PushState> byCert = new AtomicReference<>(PushState.empty());
      AtomicReference<PushState> refused = new AtomicReference<>(PushState.empty());
      try (PushClient tokenGateway = gateway(resources, uri, byToken).bearerToken(GATEWAY).build();
           PushClient certGateway = gateway(resources, uri, byCert).clientCertificate(TlsMaterial.of(
               CA.issue(CertificateRequest.builder().commonName("gw2").uri("spiffe://egress.test/gw2").build()),
               CA.certificate())).build();
           PushClient wrongToken = gateway(resources, uri, refused).bearerToken("not-the-gateway-token-000").build();
           PushClient wrongCa = gateway(resources, uri, refused).clientCertificate(TlsMaterial.of(
               OTHER.issue(CertificateRequest.builder().commonName("gw3").build()), OTHER.certificate())).build()) {
        tokenGateway.start();
        certGateway.start();
        wrongToken.start();
        wrongCa.start();
        await("both gateways get the allowlist", () -> byToken.get().resources().containsKey("198.18.0.7")
            && byCert.get().resources().containsKey("198.18.0.7"));

        server.add(NewEntry.of("198.18.2.0/24"), "test");
        await("the change arrives", () -> byToken.get().resources().containsKey("198.18.2.0/24")
            && byCert.get().resources().containsKey("198.18.2.0/24"));
        assertThat(byToken.get().resources().get("198.18.2.0/24").get("entries").get(0).asText())
            .isEqualTo("198.18.2.0/24");

        ObjectNode report = JSON.createObjectNode().put("type", "egress-gateway").put("mode", "report");
        report.putArray("counters").addObject().put("address", "198.18.0.7").put("bytesIn", 1000)
            .put("bytesOut", 200).put("packetsIn", 10).put("packetsOut", 4);
        report.putArray("activeFlows").add("198.18.0.7");
        report.putArray("denied").addObject().put("destination", "198.18.0.99").put("port", 443)
            .put("sni", "unlisted.example.com").putNull("host").put("count", 3).put("lastSeen", "2026-01-01T00:00:00Z");
        await("the report is sent", () -> tokenGateway.report(report));
        await("the report arrives", () -> api("/api/v1/traffic").get("addresses").size() == 1);
        JsonNode traffic = api("/api/v1/traffic").get("addresses").get(0);
        assertThat(traffic.get("entries").get(0).asText()).isEqualTo("198.18.0.7");
        assertThat(traffic.get("bytesIn").asLong()).isEqualTo(1000);
        assertThat(traffic.get("gateway").asText()).isEqualTo("token:gw1");
        JsonNode entry = api("/api/v1/entries?q=198.18.0.7").get("entries").get(0);
        assertThat(entry.get("bytes").asLong()).isEqualTo(1200);
        assertThat(entry.get("packets").asLong()).isEqualTo(14);
        JsonNode learned = api("/api/v1/learned").get("learned").get(0);
        assertThat(learned.get("destination").asText()).isEqualTo("198.18.0.99");
        assertThat(learned.get("sni").asText()).isEqualTo("unlisted.example.com");
        HttpResponse<String> adopted = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
            + current.httpAddress().getPort() + "/api/v1/learned/adopt")).header("Authorization", "Bearer " + ADMIN)
            .POST(HttpRequest.BodyPublishers.ofString("{\"value\":\"198.18.0.99\"}")).build(),
            HttpResponse.BodyHandlers.ofString());
        assertThat(adopted.statusCode()).as(adopted.body()).isEqualTo(201);
        assertThat(JSON.readTree(adopted.body()).get("comment").asText()).contains("learned");
        assertThat(api("/api/v1/audit?limit=1").get("audit").get(0).get("action").asText()).isEqualTo("adopt");
        await("the adopted address reaches the gateways", () -> byToken.get().resources().containsKey("198.18.0.99"));
        await("acknowledged", () -> {
          JsonNode gateways = api("/api/v1/gateways").get("gateways");
          for (JsonNode g : gateways) {
            if (g.get("name").asText().equals("gw-test") && g.get("mode").asText().equals("report")
                && g.get("appliedVersion").asLong() > 0) {
              return true;
            }
          }
          return false;
        });

        assertThat(refused.get().version()).isZero();
        assertThat(wrongToken.lastFailure()).isPresent();
        assertThat(wrongCa.lastFailure()).isPresent();
        assertThat(server.agents()).extracting(a -> a.agentId())
            .containsExactlyInAnyOrder("token:gw1", "spiffe://egress.test/gw2");
      }
    }
  }

  private HttpClient http = HttpClient.newHttpClient();
  private EgressServer current;

  private JsonNode api(String path) {
    try {
      HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
          + current.httpAddress().getPort() + path)).header("Authorization", "Bearer " + ADMIN).build(),
          HttpResponse.BodyHandlers.ofString());
      assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
      return JSON.readTree(r.body());
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  private static PushClient.Builder gateway(ConduitResources resources, URI uri, AtomicReference<PushState> into) {
    return PushClient.builder(resources)
        .addresses(List.of(uri))
        .trustAnchors(List.of(CA.certificate()))
        .identity("gw-test", "egress-gateway")
        .applier(update -> {
          into.set(update.state());
          return update.state().hash();
        })
        .backoff(Duration.ofMillis(50), Duration.ofMillis(500));
  }

  private static void await(String what, BooleanSupplier condition) {
    Poll.until(what, java.time.Duration.ofSeconds(30), condition);
  }
}
