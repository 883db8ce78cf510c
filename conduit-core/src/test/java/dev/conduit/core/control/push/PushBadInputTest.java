package dev.conduit.core.control.push;

import static dev.conduit.core.control.push.PushFixture.agent;
import static dev.conduit.core.control.push.PushFixture.await;
import static dev.conduit.core.control.push.PushFixture.state;
import static dev.conduit.core.control.push.PushFixture.status;
import static dev.conduit.core.control.push.PushFixture.uri;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.conduit.core.ConduitResources;
import dev.conduit.core.control.push.PushFixture.JdkAgent;
import dev.conduit.core.control.push.PushFixture.RecordingApplier;
import java.net.URI;
import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Bad input from an agent closes its connection with a clear WebSocket close code and reason, applies nothing, and
 * leaves the server serving a well-behaved agent. The misbehaving agent is the JDK's java.net.http WebSocket client.
 */
class PushBadInputTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static ConduitResources resources;

  private PushServer server;
  private PushClient good;
  private URI uri;
  private SSLContext badContext;
  private final AtomicLong version = new AtomicLong(1);

  @BeforeAll
  static void setUpResources() {
    resources = ConduitResources.builder().ioThreads(2).build();
  }

  @AfterAll
  static void tearDownResources() {
    resources.close();
  }

  @BeforeEach
  void setUp() throws Exception {
    server = PushFixture.server(resources).maxMessageBytes(64 * 1024).build();
    uri = uri(server.start());
    server.publish(state(1, "a", "198.18.0.1"));
    good = agent(resources, "good", new RecordingApplier(), uri).maxMessageBytes(64 * 1024).build();
    good.start();
    await("good agent at 1", () -> good.state().version() == 1);
    badContext = PushFixture.jdkContext(PushFixture.nodeCertificate(PushFixture.CA, "bad"));
  }

  @AfterEach
  void tearDown() {
    good.close();
    server.close();
  }

  /** Publishes a new version and waits until the well-behaved agent has it. */
  private void serverStillServes() throws InterruptedException {
    long next = version.incrementAndGet();
    server.publish(state(next, "a", "198.18.0.1", "v", Long.toString(next)));
    await("good agent at " + next, () -> good.state().version() == next);
    await("good agent's ack of " + next, () -> status(server, "good").ackedVersion() == next);
    assertThat(status(server, "good").connected()).isTrue();
  }

  private JdkAgent connect() throws Exception {
    return JdkAgent.connect(uri, badContext, null);
  }

  private static String hello() {
    return "{\"type\":\"hello\",\"version\":0,\"hash\":\"none\",\"agent\":\"bad\",\"role\":\"test\"}";
  }

  @Test
  void malformedJson() throws Exception {
    JdkAgent bad = connect();
    bad.send("{\"type\":\"hello\",");
    assertThat(bad.awaitClose()).startsWith("1007 malformed JSON");
    serverStillServes();
  }

  @Test
  void notAnObject() throws Exception {
    JdkAgent bad = connect();
    bad.send("[1,2,3]");
    assertThat(bad.awaitClose()).isEqualTo("1007 message: not a JSON object");
    serverStillServes();
  }

  @Test
  void missingVersion() throws Exception {
    JdkAgent bad = connect();
    bad.send("{\"type\":\"hello\",\"hash\":\"x\"}");
    assertThat(bad.awaitClose()).isEqualTo("1007 version: missing or not an integer >= 0");
    serverStillServes();
  }

  @Test
  void oversizedFrame() throws Exception {
    JdkAgent bad = connect();
    bad.send(hello());
    bad.next(); // the snapshot
    String huge = "{\"type\":\"report\",\"version\":1,\"payload\":\"" + "x".repeat(100 * 1024) + "\"}";
    bad.socket.sendText(huge, true);
    assertThat(bad.awaitClose()).startsWith("1009 message too big");
    serverStillServes();
    assertThat(status(server, "bad").ackedVersion()).isZero();
  }

  @Test
  void oversizedMessageInFragments() throws Exception {
    JdkAgent bad = connect();
    bad.send(hello());
    bad.next();
    String part = "x".repeat(40 * 1024);
    bad.socket.sendText("{\"type\":\"report\",\"version\":1,\"payload\":\"" + part, false).get(30, TimeUnit.SECONDS);
    bad.socket.sendText(part, false).get(30, TimeUnit.SECONDS);
    // more of the message after the server refused it: the close frame and its reason must still arrive
    for (int i = 0; i < 16; i++) {
      try {
        bad.socket.sendText(part, false).get(30, TimeUnit.SECONDS);
      } catch (java.util.concurrent.ExecutionException closed) {
        break;
      }
    }
    bad.socket.sendText(part + "\"}", true);
    assertThat(bad.awaitClose()).startsWith("1009 message too big");
    serverStillServes();
  }

  @Test
  void anAckBeforeHello() throws Exception {
    JdkAgent bad = connect();
    bad.send("{\"type\":\"ack\",\"version\":1,\"hash\":\"x\"}");
    assertThat(bad.awaitClose()).isEqualTo("1008 expected hello first, got ack");
    serverStillServes();
  }

  @Test
  void anAckForAVersionNeverSent() throws Exception {
    JdkAgent bad = connect();
    bad.send(hello());
    JsonNode snapshot = JSON.readTree(bad.next());
    assertThat(snapshot.get("type").asText()).isEqualTo("snapshot");
    bad.send("{\"type\":\"ack\",\"version\":99,\"hash\":\"x\"}");
    assertThat(bad.awaitClose()).isEqualTo("1008 ack for version 99 (expected: " + snapshot.get("version").asLong()
        + ")");
    assertThat(status(server, "bad").ackedVersion()).isZero();
    serverStillServes();
  }

  @Test
  void helloTwiceAndUnknownTypes() throws Exception {
    JdkAgent twice = connect();
    twice.send(hello());
    twice.send(hello());
    assertThat(twice.awaitClose()).isEqualTo("1008 hello sent twice");
    JdkAgent unknown = connect();
    unknown.send(hello());
    unknown.send("{\"type\":\"subscribe\",\"version\":0}");
    assertThat(unknown.awaitClose()).isEqualTo("1008 unknown message type subscribe");
    serverStillServes();
  }

  @Test
  void binaryFrame() throws Exception {
    JdkAgent bad = connect();
    bad.socket.sendBinary(ByteBuffer.wrap(new byte[] {1, 2, 3}), true).get(30, TimeUnit.SECONDS);
    assertThat(bad.awaitClose()).isEqualTo("1003 expected text frames holding JSON");
    serverStillServes();
  }

  private static PushAgentStatus status(PushServer server, String name) {
    return PushFixture.status(server, name);
  }
}
