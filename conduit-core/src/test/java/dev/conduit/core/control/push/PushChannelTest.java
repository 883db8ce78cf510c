package dev.conduit.core.control.push;

import static dev.conduit.core.control.push.PushFixture.await;
import static dev.conduit.core.control.push.PushFixture.agent;
import static dev.conduit.core.control.push.PushFixture.state;
import static dev.conduit.core.control.push.PushFixture.status;
import static dev.conduit.core.control.push.PushFixture.uri;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import dev.conduit.core.ConduitResources;
import dev.conduit.core.control.push.PushFixture.RecordingApplier;
import dev.conduit.core.control.push.PushUpdate.Kind;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The push channel end to end: real TLS with test-made certificates, real sockets on loopback. */
class PushChannelTest {

  private static ConduitResources resources;

  @TempDir Path dir;

  @BeforeAll
  static void setUp() {
    resources = ConduitResources.builder().ioThreads(2).build();
  }

  @AfterAll
  static void tearDown() {
    resources.close();
  }

  @Test
  void snapshotThenDeltasReachTheAgentAndAcksAreRecorded() throws Exception {
    try (PushServer server = PushFixture.server(resources).build()) {
      URI uri = uri(server.start());
      server.publish(state(1, "a", "198.18.0.1", "b", "198.18.0.2"));
      RecordingApplier applier = new RecordingApplier();
      try (PushClient client = agent(resources, "a", applier, uri).build()) {
        client.start();
        await("version 1", () -> client.state().version() == 1);
        await("ack of 1", () -> status(server, "a").ackedVersion() == 1);

        server.publish(state(2, "a", "198.18.0.9", "c", "198.18.0.3"));
        await("version 2", () -> client.state().version() == 2);
        assertThat(client.state()).isEqualTo(state(2, "a", "198.18.0.9", "c", "198.18.0.3"));
        assertThat(applier.kinds()).containsExactly(Kind.SNAPSHOT, Kind.DELTA);
        PushDelta delta = applier.last().delta().orElseThrow();
        assertThat(delta.removals()).containsExactly("b");
        assertThat(delta.upserts()).containsOnlyKeys("a", "c");

        await("ack of 2", () -> status(server, "a").ackedVersion() == 2);
        PushAgentStatus status = status(server, "a");
        assertThat(status.connected()).isTrue();
        assertThat(status.name()).isEqualTo("a");
        assertThat(status.role()).isEqualTo("client");
        assertThat(status.ackedHash()).contains(server.state().orElseThrow().hash());
        assertThat(status.ackedHashMatches()).isTrue();
        assertThat(status.lag()).isZero();
        assertThat(status.lastNack()).isEmpty();
        assertThat(status.snapshotsSent()).isEqualTo(1);
        assertThat(status.deltasSent()).isEqualTo(1);
        assertThat(client.installedHash()).isEqualTo(client.state().hash());

        // a precomputed delta works as well
        server.publish(new PushDelta(2, 3, java.util.Map.of(), Set.of("a")));
        await("version 3", () -> client.state().version() == 3);
        assertThat(client.state().resources()).containsOnlyKeys("c");
      }
      await("disconnected", () -> !status(server, "a").connected());
    }
  }

  @Test
  void aNackIsRecordedAndTheAgentKeepsItsStateUntilANewerVersion() throws Exception {
    try (PushServer server = PushFixture.server(resources).build()) {
      URI uri = uri(server.start());
      server.publish(state(1, "a", "198.18.0.1"));
      RecordingApplier applier = new RecordingApplier();
      applier.failOnKey = "poison";
      try (PushClient client = agent(resources, "a", applier, uri).build()) {
        client.start();
        await("version 1", () -> client.state().version() == 1);

        server.publish(state(2, "a", "198.18.0.1", "poison", "198.18.0.66"));
        await("nack", () -> status(server, "a").lastNack().isPresent());
        PushAgentStatus.Nack nack = status(server, "a").lastNack().orElseThrow();
        assertThat(nack.rejectedVersion()).isEqualTo(2);
        assertThat(nack.goodVersion()).isEqualTo(1);
        assertThat(nack.errorDetail()).isEqualTo("cannot install poison");
        assertThat(status(server, "a").ackedVersion()).isEqualTo(1);
        assertThat(status(server, "a").lag()).isEqualTo(1);
        assertThat(client.state().version()).isEqualTo(1);

        server.publish(state(3, "a", "198.18.0.1", "b", "198.18.0.2"));
        await("version 3", () -> client.state().version() == 3);
        await("ack of 3", () -> status(server, "a").ackedVersion() == 3);
        assertThat(applier.last().kind()).isEqualTo(Kind.SNAPSHOT);
        assertThat(status(server, "a").nacks()).isEqualTo(1);
      }
    }
  }

  @Test
  void aRemovalWhileTheAgentWasAwayIsSeenAfterItReconnects() throws Exception {
    Path stateFile = dir.resolve("agent/state.json");
    try (PushServer server = PushFixture.server(resources).build()) {
      URI uri = uri(server.start());
      server.publish(state(1, "a", "198.18.0.1", "b", "198.18.0.2"));
      try (PushClient client = agent(resources, "a", new RecordingApplier(), uri).stateFile(stateFile).build()) {
        client.start();
        await("version 1", () -> client.state().version() == 1);
      }
      await("disconnected", () -> !status(server, "a").connected());
      server.publish(state(2, "a", "198.18.0.1"));
      server.publish(state(3, "a", "198.18.0.1", "c", "198.18.0.3"));

      RecordingApplier applier = new RecordingApplier();
      try (PushClient client = agent(resources, "a", applier, uri).stateFile(stateFile).build()) {
        client.start();
        assertThat(client.state().version()).isEqualTo(1);
        await("version 3", () -> client.state().version() == 3);
        assertThat(client.state().resources()).containsOnlyKeys("a", "c");
        assertThat(applier.kinds()).containsExactly(Kind.RESTORED, Kind.SNAPSHOT);
        assertThat(applier.last().previous().resources()).containsKey("b");
      }
    }
  }

  @Test
  void aRestartedAgentComesUpFromItsSavedStateWithTheServerDown() throws Exception {
    Path stateFile = dir.resolve("state.json");
    URI uri;
    try (PushServer server = PushFixture.server(resources).build()) {
      uri = uri(server.start());
      server.publish(state(7, "a", "198.18.0.1", "b", "fd00::2"));
      try (PushClient client = agent(resources, "a", new RecordingApplier(), uri).stateFile(stateFile).build()) {
        client.start();
        await("version 7", () -> client.state().version() == 7);
        await("ack of 7", () -> status(server, "a").ackedVersion() == 7);
      }
    }
    assertThat(Files.getPosixFilePermissions(stateFile)).isEqualTo(PosixFilePermissions.fromString("rw-------"));
    try (var listing = Files.list(dir)) {
      assertThat(listing).containsExactly(stateFile); // no temporary file left behind
    }

    RecordingApplier applier = new RecordingApplier();
    try (PushClient client = agent(resources, "a", applier, uri).stateFile(stateFile).build()) {
      client.start();
      assertThat(client.state()).isEqualTo(state(7, "a", "198.18.0.1", "b", "fd00::2"));
      assertThat(applier.kinds()).containsExactly(Kind.RESTORED);
      assertThat(client.connectedTo()).isEmpty();
    }
  }

  @Test
  void theAgentTriesEveryAddressInOrderAndReconnectsAfterAServerRestart() throws Exception {
    int deadPort;
    try (ServerSocket socket = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      deadPort = socket.getLocalPort();
    }
    URI dead = URI.create("wss://127.0.0.1:" + deadPort + PushServer.DEFAULT_PATH);
    InetSocketAddress bound;
    RecordingApplier applier = new RecordingApplier();
    PushServer first = PushFixture.server(resources).build();
    bound = first.start();
    URI live = uri(bound);
    first.publish(state(1, "a", "198.18.0.1"));
    try (PushClient client = agent(resources, "a", applier, dead, live).build()) {
      client.start();
      await("version 1", () -> client.state().version() == 1);
      assertThat(client.connectedTo()).contains(live);

      first.close();
      await("disconnected", () -> client.connectedTo().isEmpty());
      try (PushServer second = PushFixture.server(resources).bind(bound).build()) {
        second.start();
        second.publish(state(2, "a", "198.18.0.1", "b", "198.18.0.2"));
        await("version 2 from the restarted server", () -> client.state().version() == 2);
        assertThat(client.connectedTo()).contains(live);
        await("ack of 2", () -> status(second, "a").ackedVersion() == 2);
      }
    }
  }

  @Test
  void aNackFromAnotherVersionThanTheDeltaAssumedGetsASnapshotAtOnce() throws Exception {
    try (PushServer server = PushFixture.server(resources).build()) {
      URI uri = uri(server.start());
      server.publish(state(1, "a", "198.18.0.1"));
      PushFixture.JdkAgent agent = PushFixture.JdkAgent.connect(uri,
          PushFixture.jdkContext(PushFixture.nodeCertificate(PushFixture.CA, "lost")), null);
      com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
      agent.send("{\"type\":\"hello\",\"version\":0,\"hash\":\"\"}");
      String hash1 = json.readTree(agent.next()).get("hash").asText();
      agent.send("{\"type\":\"ack\",\"version\":1,\"hash\":\"" + hash1 + "\"}");
      server.publish(state(2, "a", "198.18.0.2"));
      assertThat(json.readTree(agent.next()).get("type").asText()).isEqualTo("delta");
      // the agent lost its state: it is at 0, not at 1 where the delta starts
      agent.send("{\"type\":\"nack\",\"version\":0,\"error_detail\":\"delta from 1, installed 0\"}");
      com.fasterxml.jackson.databind.JsonNode resync = json.readTree(agent.next());
      assertThat(resync.get("type").asText()).isEqualTo("snapshot");
      assertThat(resync.get("version").asLong()).isEqualTo(2);
      agent.send("{\"type\":\"ack\",\"version\":2,\"hash\":\"" + resync.get("hash").asText() + "\"}");
      await("ack of 2", () -> status(server, "lost").ackedVersion() == 2);
      assertThat(status(server, "lost").lastNack().orElseThrow().goodVersion()).isZero();
    }
  }

  @Test
  void reportsReachTheServerListener() throws Exception {
    List<String> reports = new CopyOnWriteArrayList<>();
    try (PushServer server = PushFixture.server(resources)
        .reportListener((agentId, payload) -> reports.add(agentId + " " + payload)).build()) {
      URI uri = uri(server.start());
      try (PushClient client = agent(resources, "a", new RecordingApplier(), uri).build()) {
        client.start();
        await("connected", () -> client.connectedTo().isPresent());
        await("report sent", () -> client.report(JsonNodeFactory.instance.objectNode().put("addr", "fd00::1")));
        await("report received", () -> !reports.isEmpty());
        assertThat(reports).containsExactly(PushFixture.nodeId("a") + " {\"addr\":\"fd00::1\"}");
        assertThat(server.state()).isEmpty(); // nothing published: nothing sent, the agent keeps its state
        assertThat(client.state().version()).isZero();
      }
    }
  }
}
