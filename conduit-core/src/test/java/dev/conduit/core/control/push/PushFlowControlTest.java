package dev.conduit.core.control.push;

import static dev.conduit.core.control.push.PushFixture.agent;
import static dev.conduit.core.control.push.PushFixture.await;
import static dev.conduit.core.control.push.PushFixture.state;
import static dev.conduit.core.control.push.PushFixture.status;
import static dev.conduit.core.control.push.PushFixture.uri;
import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.ConduitResources;
import dev.conduit.core.control.push.PushFixture.RecordingApplier;
import dev.conduit.core.control.push.PushUpdate.Kind;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Flow control: a slow agent is coalesced to one snapshot; a silent one is closed after the idle timeout. */
class PushFlowControlTest {

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
  void aSlowAgentGetsOneSnapshotInsteadOfABacklog() throws Exception {
    CountDownLatch installing = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    RecordingApplier applier = new RecordingApplier() {
      @Override
      public String apply(PushUpdate update) throws Exception {
        if (update.kind() == Kind.DELTA && update.state().version() == 2) {
          installing.countDown();
          assertThat(release.await(60, TimeUnit.SECONDS)).isTrue();
        }
        return super.apply(update);
      }
    };
    try (PushServer server = PushFixture.server(resources).window(2).build()) {
      URI uri = uri(server.start());
      server.publish(state(1, "k0", "0"));
      try (PushClient client = agent(resources, "slow", applier, uri).build()) {
        client.start();
        await("version 1", () -> client.state().version() == 1);
        await("ack of 1", () -> status(server, "slow").ackedVersion() == 1);
        server.publish(state(2, "k0", "0", "k2", "2"));
        assertThat(installing.await(30, TimeUnit.SECONDS)).isTrue(); // the agent is stuck installing version 2
        for (int v = 3; v <= 40; v++) {
          server.publish(state(v, "k0", "0", "k" + v, Integer.toString(v)));
        }
        release.countDown();
        await("version 40", () -> client.state().version() == 40);
        await("ack of 40", () -> status(server, "slow").ackedVersion() == 40);
        assertThat(client.state()).isEqualTo(state(40, "k0", "0", "k40", "40"));
        assertThat(applier.last().kind()).isEqualTo(Kind.SNAPSHOT);
        PushAgentStatus status = status(server, "slow");
        // at most the window's worth of deltas went out before the agent caught up with one snapshot
        assertThat(status.deltasSent()).isBetween(1L, 2L);
        assertThat(status.snapshotsSent()).isEqualTo(2);
        assertThat(applier.updates).hasSizeLessThanOrEqualTo(4);
      }
    }
  }

  @Test
  void aSilentAgentIsClosedAfterTheIdleTimeout() throws Exception {
    try (PushServer server = PushFixture.server(resources)
        .heartbeat(Duration.ofMillis(200), Duration.ofSeconds(3)).build()) {
      URI uri = uri(server.start());
      server.publish(state(1, "a", "198.18.0.1"));
      var context = PushFixture.jdkContext(PushFixture.nodeCertificate(PushFixture.CA, "silent"));
      try (SSLSocket socket = (SSLSocket) context.getSocketFactory().createSocket("127.0.0.1", uri.getPort())) {
        socket.setSoTimeout(30_000);
        OutputStream out = socket.getOutputStream();
        String key = Base64.getEncoder().encodeToString("0123456789abcdef".getBytes(StandardCharsets.US_ASCII));
        out.write(("GET " + uri.getPath() + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            + "Connection: Upgrade\r\nSec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n\r\n")
            .getBytes(StandardCharsets.US_ASCII));
        out.flush();
        DataInputStream in = new DataInputStream(socket.getInputStream());
        String head = readHead(in);
        assertThat(head).startsWith("HTTP/1.1 101");
        // say nothing, answer no ping: the server pings, then closes with 1001
        int pings = 0;
        while (true) {
          int opcode = in.readUnsignedByte() & 0x0f;
          int length = in.readUnsignedByte() & 0x7f;
          byte[] payload = new byte[length];
          in.readFully(payload);
          if (opcode == 0x9) {
            pings++;
          } else if (opcode == 0x8) {
            int code = ((payload[0] & 0xff) << 8) | (payload[1] & 0xff);
            assertThat(code).isEqualTo(1001);
            assertThat(new String(payload, 2, length - 2, StandardCharsets.UTF_8))
                .isEqualTo("idle timeout: no message or heartbeat");
            break;
          }
        }
        assertThat(pings).isPositive();
        assertThat(readToEnd(in)).isTrue();
        await("disconnected", () -> !status(server, "silent").connected());
      }
    }
  }

  private static String readHead(InputStream in) throws Exception {
    StringBuilder head = new StringBuilder();
    while (!head.toString().endsWith("\r\n\r\n")) {
      int b = in.read();
      if (b < 0) {
        throw new EOFException("head: " + head);
      }
      head.append((char) b);
    }
    return head.toString();
  }

  private static boolean readToEnd(InputStream in) throws Exception {
    try {
      while (in.read() >= 0) {
        // drain
      }
      return true;
    } catch (javax.net.ssl.SSLException | java.net.SocketException e) {
      return true; // closed under us: also the end
    }
  }
}
