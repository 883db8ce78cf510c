package dev.conduit.core.control.push;

import static dev.conduit.core.control.push.PushFixture.CA;
import static dev.conduit.core.control.push.PushFixture.await;
import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.ConduitResources;
import dev.conduit.core.testing.LeakDetectionExtension;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * An agent whose connection closes in the middle of the TLS handshake: it records the TLS failure, retries, and
 * leaks nothing. The WebSocket upgrade request is made only once TLS is up; before, it was written at once and
 * waited in the TLS handler, and a run once reported it leaked when the connection closed mid-handshake. The "server" is a plain socket that reads the agent's ClientHello and then hangs up,
 * or first answers with a truncated handshake record.
 */
class PushClientTlsAbortTest {

  @Test
  void hangUpAfterClientHello() throws Exception {
    abortedHandshakes(false);
  }

  @Test
  void hangUpAfterTruncatedServerHello() throws Exception {
    abortedHandshakes(true);
  }

  private static void abortedHandshakes(boolean answerFirst) throws Exception {
    AtomicInteger clientHellos = new AtomicInteger();
    try (ServerSocket listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        ConduitResources resources = ConduitResources.builder().ioThreads(1).build()) {
      Thread server = new Thread(() -> serve(listener, answerFirst, clientHellos), "tls-abort-server");
      server.setDaemon(true);
      server.start();
      URI uri = URI.create("wss://127.0.0.1:" + listener.getLocalPort() + PushServer.DEFAULT_PATH);
      PushClient client = PushClient.builder(resources)
          .addresses(List.of(uri))
          .trustAnchors(List.of(CA.certificate()))
          .bearerToken("tls-abort")
          .identity("tls-abort", "client")
          .applier(update -> update.state().hash())
          .backoff(Duration.ofMillis(20), Duration.ofMillis(100))
          .build();
      client.start();
      try {
        await("three handshakes cut short", () -> clientHellos.get() >= 3 && client.lastFailure().isPresent());
        assertThat(client.connectedTo()).isEmpty();
        // the attempt failed at TLS: no WebSocket upgrade request was made to fail with it
        assertThat(client.lastFailure().orElseThrow()).contains(uri.toString()).contains("TLS handshake");
      } finally {
        client.close();
      }
      listener.close();
      server.join(Duration.ofSeconds(30).toMillis());
    }
    assertThat(LeakDetectionExtension.collect()).as("Netty leak reports").isEmpty();
  }

  @Test
  void closingAfterTheSharedResourcesClosedDoesNotThrow() throws Exception {
    PushClient client;
    try (ServerSocket listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        ConduitResources resources = ConduitResources.builder().ioThreads(1).build()) {
      client = PushClient.builder(resources)
          .addresses(List.of(URI.create("wss://127.0.0.1:" + listener.getLocalPort() + PushServer.DEFAULT_PATH)))
          .trustAnchors(List.of(CA.certificate()))
          .bearerToken("closed-loop")
          .identity("closed-loop", "client")
          .applier(update -> update.state().hash())
          .build();
      client.start();
    }
    // an application that closes its event loops before its agent: close() returns, nothing is thrown
    client.close();
    assertThat(client.connectedTo()).isEmpty();
  }

  /** Reads each ClientHello record whole, optionally answers with a cut-off handshake record, then hangs up. */
  private static void serve(ServerSocket listener, boolean answerFirst, AtomicInteger clientHellos) {
    while (!listener.isClosed()) {
      try (Socket socket = listener.accept()) {
        DataInputStream in = new DataInputStream(socket.getInputStream());
        byte[] header = new byte[5];
        in.readFully(header);
        if (header[0] != 22) { // a TLS handshake record
          continue;
        }
        in.readFully(new byte[((header[3] & 0xff) << 8) | (header[4] & 0xff)]);
        if (answerFirst) {
          OutputStream out = socket.getOutputStream();
          // a handshake record announcing 512 bytes (a ServerHello) of which only 4 arrive
          out.write(new byte[] {22, 3, 3, 2, 0, 2, 0, 1, (byte) 252});
          out.flush();
        }
        clientHellos.incrementAndGet();
        drainBriefly(socket.getInputStream());
      } catch (IOException e) {
        // the listener closed, or the agent gave up first
      }
    }
  }

  /** Hangs up at once: the agent is mid-handshake, waiting for the server's flight. */
  private static void drainBriefly(InputStream in) throws IOException {
    if (in.available() > 0) {
      in.readNBytes(in.available());
    }
  }
}
