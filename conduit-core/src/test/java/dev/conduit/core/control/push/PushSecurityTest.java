package dev.conduit.core.control.push;

import static dev.conduit.core.control.push.PushFixture.await;
import static dev.conduit.core.control.push.PushFixture.state;
import static dev.conduit.core.control.push.PushFixture.uri;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.conduit.core.ConduitResources;
import dev.conduit.core.control.push.PushFixture.JdkAgent;
import dev.conduit.core.control.push.PushFixture.RecordingApplier;
import java.net.URI;
import java.net.http.WebSocketHandshakeException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import javax.net.ssl.SSLException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Authentication both ways, and the JDK's WebSocket client as a third-party agent speaking the protocol. */
class PushSecurityTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static ConduitResources resources;

  @BeforeAll
  static void setUp() {
    resources = ConduitResources.builder().ioThreads(2).build();
  }

  @AfterAll
  static void tearDown() {
    resources.close();
  }

  @Test
  void theJdkWebSocketClientSpeaksTheProtocolWithAClientCertificate() throws Exception {
    try (PushServer server = PushFixture.server(resources).build()) {
      URI uri = uri(server.start());
      server.publish(state(1, "a", "198.18.0.1", "b", "fd00::b"));
      JdkAgent agent = JdkAgent.connect(uri, PushFixture.jdkContext(PushFixture.nodeCertificate(PushFixture.CA, "j")),
          null);
      agent.send("{\"type\":\"hello\",\"version\":0,\"hash\":\"\",\"agent\":\"j\",\"role\":\"gateway\"}");
      JsonNode snapshot = JSON.readTree(agent.next());
      assertThat(snapshot.get("type").asText()).isEqualTo("snapshot");
      assertThat(snapshot.get("version").asLong()).isEqualTo(1);
      assertThat(snapshot.get("resources").get("b").get("address").asText()).isEqualTo("fd00::b");
      assertThat(snapshot.get("hash").asText()).isEqualTo(server.state().orElseThrow().hash());
      agent.send("{\"type\":\"ack\",\"version\":1,\"hash\":\"" + snapshot.get("hash").asText() + "\"}");
      await("ack", () -> PushFixture.status(server, "j").ackedVersion() == 1);
      PushAgentStatus status = PushFixture.status(server, "j");
      assertThat(status.role()).isEqualTo("gateway");
      assertThat(status.ackedHashMatches()).isTrue();

      server.publish(state(2, "a", "198.18.0.1"));
      JsonNode delta = JSON.readTree(agent.next());
      assertThat(delta.get("type").asText()).isEqualTo("delta");
      assertThat(delta.get("from").asLong()).isEqualTo(1);
      assertThat(delta.get("version").asLong()).isEqualTo(2);
      assertThat(delta.get("removals")).hasSize(1);
      assertThat(delta.get("removals").get(0).asText()).isEqualTo("b");
      // a NACK as xDS spells it: the previous good version and an error_detail, whatever the type says
      agent.send("{\"type\":\"ack\",\"version\":1,\"error_detail\":\"ipset: out of memory\"}");
      await("nack", () -> PushFixture.status(server, "j").lastNack().isPresent());
      assertThat(PushFixture.status(server, "j").lastNack().orElseThrow().errorDetail())
          .isEqualTo("ipset: out of memory");
      assertThat(PushFixture.status(server, "j").ackedVersion()).isEqualTo(1);

      // a second connection under the same identity replaces the first
      JdkAgent again = JdkAgent.connect(uri, PushFixture.jdkContext(PushFixture.nodeCertificate(PushFixture.CA, "j")),
          null);
      assertThat(agent.awaitClose()).isEqualTo("4000 replaced by a newer connection of " + PushFixture.nodeId("j"));
      again.send("{\"type\":\"hello\",\"version\":2,\"hash\":\"" + server.state().orElseThrow().hash() + "\"}");
      await("current after hello", () -> PushFixture.status(server, "j").ackedVersion() == 2);
      assertThat(again.messages).isEmpty(); // already current: nothing to send
    }
  }

  @Test
  void aClientCertificateFromAnotherCaIsRefused() throws Exception {
    try (PushServer server = PushFixture.server(resources).build()) {
      URI uri = uri(server.start());
      server.publish(state(1, "a", "198.18.0.1"));
      assertThatThrownBy(() -> JdkAgent.connect(uri,
          PushFixture.jdkContext(PushFixture.nodeCertificate(PushFixture.OTHER_CA, "intruder")), null))
          .isInstanceOf(ExecutionException.class)
          // TLS 1.3: the server checks the client's certificate after the client's side of the handshake is done,
          // so the client sees the server's alert (SSLException) or, when the close wins, a reset (SocketException)
          .satisfies(e -> assertThat(rootCause(e)).isInstanceOfAny(SSLException.class, java.net.SocketException.class));
      // without a certificate (and tokens not allowed) the handshake fails too
      assertThatThrownBy(() -> JdkAgent.connect(uri, PushFixture.jdkContext(null), null))
          .isInstanceOf(ExecutionException.class);
      assertThat(server.agents()).isEmpty();
    }
  }

  @Test
  void theAgentRefusesAServerItsAnchorDoesNotTrust() throws Exception {
    try (PushServer server = PushFixture.server(resources).build()) {
      URI uri = uri(server.start());
      server.publish(state(1, "a", "198.18.0.1"));
      RecordingApplier applier = new RecordingApplier();
      try (PushClient wrongAnchor = PushFixture.agent(resources, "w", applier, uri)
          .trustAnchors(List.of(PushFixture.OTHER_CA.certificate())).build();
          PushClient right = PushFixture.agent(resources, "r", new RecordingApplier(), uri).build()) {
        wrongAnchor.start();
        right.start();
        // both dial the same server; the one trusting another CA never gets through
        await("the trusting agent at 1", () -> right.state().version() == 1);
        await("the other agent's refusal", () -> wrongAnchor.lastFailure().isPresent());
        assertThat(wrongAnchor.lastFailure().orElseThrow()).containsIgnoringCase("cert"); // the path check failed
        assertThat(wrongAnchor.state().version()).isZero();
        assertThat(wrongAnchor.connectedTo()).isEmpty();
        assertThat(server.agent(PushFixture.nodeId("w"))).isEmpty();
      }
    }
  }

  @Test
  void bearerTokensWhenAllowed() throws Exception {
    Map<String, String> tokens = Map.of("s3cret-gw1", "gateway-1");
    PushAuthorizer authorizer = peer -> peer.bearerToken().map(tokens::get)
        .or(() -> peer.certificateIdentity().map(Object::toString));
    try (PushServer server = PushFixture.server(resources).allowBearerTokens(true).authorizer(authorizer).build()) {
      URI uri = uri(server.start());
      server.publish(state(1, "a", "198.18.0.1"));

      RecordingApplier applier = new RecordingApplier();
      try (PushClient client = PushClient.builder(resources).addresses(List.of(uri))
          .trustAnchors(List.of(PushFixture.CA.certificate())).bearerToken("s3cret-gw1")
          .identity("gw1", "gateway").applier(applier).backoff(Duration.ofMillis(50), Duration.ofMillis(500))
          .build()) {
        client.start();
        await("version 1", () -> client.state().version() == 1);
        await("ack", () -> server.agent("gateway-1").map(PushAgentStatus::ackedVersion).orElse(0L) == 1);
        assertThat(client.toString()).doesNotContain("s3cret");
      }

      WebSocketHandshakeException wrong = handshakeRefusal(uri, "not-a-token");
      assertThat(wrong.getResponse().statusCode()).isEqualTo(403);
      WebSocketHandshakeException none = handshakeRefusal(uri, null);
      assertThat(none.getResponse().statusCode()).isEqualTo(401);
      assertThat(server.agents()).extracting(PushAgentStatus::agentId).containsExactly("gateway-1");

      // certificates still work beside tokens
      JdkAgent withCertificate = JdkAgent.connect(uri,
          PushFixture.jdkContext(PushFixture.nodeCertificate(PushFixture.CA, "c")), null);
      withCertificate.send("{\"type\":\"hello\",\"version\":0,\"hash\":\"\"}");
      assertThat(JSON.readTree(withCertificate.next()).get("type").asText()).isEqualTo("snapshot");
      assertThat(server.agent(PushFixture.nodeId("c"))).map(PushAgentStatus::connected).isEqualTo(Optional.of(true));
    }
  }

  private static WebSocketHandshakeException handshakeRefusal(URI uri, String token) throws Exception {
    try {
      JdkAgent.connect(uri, PushFixture.jdkContext(null), token);
    } catch (ExecutionException e) {
      assertThat(e.getCause()).isInstanceOf(WebSocketHandshakeException.class);
      return (WebSocketHandshakeException) e.getCause();
    }
    throw new AssertionError("the handshake succeeded");
  }

  private static Throwable rootCause(Throwable e) {
    Throwable t = e;
    while (t.getCause() != null) {
      t = t.getCause();
    }
    return t;
  }
}
