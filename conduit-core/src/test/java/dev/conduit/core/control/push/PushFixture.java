package dev.conduit.core.control.push;

import dev.conduit.core.testing.JdkTls;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import dev.conduit.core.ConduitResources;
import dev.conduit.core.pki.CertificateAuthority;
import dev.conduit.core.pki.CertificateRequest;
import dev.conduit.core.pki.IssuedCertificate;
import dev.conduit.core.pki.TlsMaterial;
import dev.conduit.core.testing.Poll;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import javax.net.ssl.SSLContext;

/** Test-made PKI, servers and agents for the push channel tests. */
final class PushFixture {

  static final CertificateAuthority CA = CertificateAuthority.builder().commonName("push test CA").build();
  static final CertificateAuthority OTHER_CA = CertificateAuthority.builder().commonName("another CA").build();
  static final Duration DEADLINE = Duration.ofSeconds(30);

  private PushFixture() {}

  static TlsMaterial serverMaterial() {
    return TlsMaterial.of(CA.mintServerLeaf("127.0.0.1"), CA.certificate());
  }

  static IssuedCertificate nodeCertificate(CertificateAuthority ca, String name) {
    return ca.issue(CertificateRequest.builder().commonName(name)
        .uri("spiffe://conduit.test/node/" + name).build());
  }

  static TlsMaterial nodeMaterial(String name) {
    return TlsMaterial.of(nodeCertificate(CA, name), CA.certificate());
  }

  static String nodeId(String name) {
    return "spiffe://conduit.test/node/" + name;
  }

  static PushServer.Builder server(ConduitResources resources) {
    return PushServer.builder(resources).tls(serverMaterial()).heartbeat(Duration.ofSeconds(5), Duration.ofSeconds(60));
  }

  static URI uri(InetSocketAddress address) {
    return URI.create("wss://127.0.0.1:" + address.getPort() + PushServer.DEFAULT_PATH);
  }

  static PushClient.Builder agent(ConduitResources resources, String name, RecordingApplier applier, URI... addresses) {
    return PushClient.builder(resources)
        .addresses(List.of(addresses))
        .trustAnchors(List.of(CA.certificate()))
        .clientCertificate(nodeMaterial(name))
        .identity(name, "client")
        .applier(applier)
        .backoff(Duration.ofMillis(50), Duration.ofMillis(500))
        .heartbeat(Duration.ofSeconds(5), Duration.ofSeconds(60));
  }

  /** A state of string resources. */
  static PushState state(long version, String... keyValues) {
    Map<String, JsonNode> resources = new HashMap<>();
    for (int i = 0; i < keyValues.length; i += 2) {
      resources.put(keyValues[i], JsonNodeFactory.instance.objectNode().put("address", keyValues[i + 1]));
    }
    return PushState.of(version, resources);
  }

  static void await(String what, BooleanSupplier condition) {
    Poll.until(what, DEADLINE, condition);
  }

  static PushAgentStatus status(PushServer server, String name) {
    return server.agent(nodeId(name)).orElseThrow(() -> new AssertionError("no status for " + name));
  }

  /** Records every update and installs it unless told to fail. */
  static class RecordingApplier implements PushApplier {
    final List<PushUpdate> updates = Collections.synchronizedList(new ArrayList<>());
    volatile String failOnKey;

    @Override
    public String apply(PushUpdate update) throws Exception {
      if (failOnKey != null && update.state().resources().containsKey(failOnKey)) {
        throw new IllegalStateException("cannot install " + failOnKey);
      }
      updates.add(update);
      return update.state().hash();
    }

    List<PushUpdate.Kind> kinds() {
      synchronized (updates) {
        return updates.stream().map(PushUpdate::kind).toList();
      }
    }

    PushUpdate last() {
      synchronized (updates) {
        assertThat(updates).isNotEmpty();
        return updates.get(updates.size() - 1);
      }
    }
  }

  /** An SSLContext for the JDK's clients, presenting {@code certificate} and trusting the test CA. */
  static SSLContext jdkContext(IssuedCertificate certificate) throws Exception {
    return JdkTls.context(certificate, CA.certificate());
  }

  /** The JDK's java.net.http WebSocket client as a third-party agent, recording what it receives. */
  static final class JdkAgent implements WebSocket.Listener {
    final BlockingQueue<String> messages = new LinkedBlockingQueue<>();
    final CompletableFuture<String> closed = new CompletableFuture<>();
    private final StringBuilder partial = new StringBuilder();
    final HttpClient client;
    WebSocket socket;

    private JdkAgent(HttpClient client) {
      this.client = client;
    }

    static JdkAgent connect(URI uri, SSLContext context, String bearerToken) throws Exception {
      JdkAgent agent = new JdkAgent(HttpClient.newBuilder().sslContext(context).build());
      WebSocket.Builder builder = agent.client.newWebSocketBuilder().connectTimeout(DEADLINE);
      if (bearerToken != null) {
        builder.header("Authorization", "Bearer " + bearerToken);
      }
      agent.socket = builder.buildAsync(uri, agent).get(DEADLINE.toSeconds(), TimeUnit.SECONDS);
      return agent;
    }

    void send(String text) throws Exception {
      socket.sendText(text, true).get(DEADLINE.toSeconds(), TimeUnit.SECONDS);
    }

    String next() throws InterruptedException {
      String message = messages.poll(DEADLINE.toSeconds(), TimeUnit.SECONDS);
      if (message == null) {
        throw new AssertionError("no message from the server");
      }
      return message;
    }

    /** Waits for the server's close frame; returns "code reason". */
    String awaitClose() throws Exception {
      return closed.get(DEADLINE.toSeconds(), TimeUnit.SECONDS);
    }

    @Override
    public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
      partial.append(data);
      if (last) {
        messages.add(partial.toString());
        partial.setLength(0);
      }
      webSocket.request(1);
      return null;
    }

    @Override
    public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
      closed.complete(statusCode + " " + reason);
      return null;
    }

    @Override
    public void onError(WebSocket webSocket, Throwable error) {
      closed.complete("error " + error);
    }

    @Override
    public CompletionStage<?> onBinary(WebSocket webSocket, ByteBuffer data, boolean last) {
      webSocket.request(1);
      return null;
    }
  }
}
