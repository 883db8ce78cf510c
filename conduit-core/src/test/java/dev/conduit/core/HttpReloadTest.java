package dev.conduit.core;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.inbound.InboundProtocols;
import dev.conduit.core.route.RouteDecision;
import dev.conduit.core.route.Router;
import dev.conduit.core.route.Rule;
import dev.conduit.core.testing.TestOrigin;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link Conduit#update} reaches kept-alive HTTP connections at their next request: a request that would
 * have reused an upstream chosen under the old rules is routed again, so a rule that now rejects its
 * destination answers 403 on the same client connection. Without a change the upstream is reused.
 */
class HttpReloadTest {

  @Test
  void theNextRequestOnAKeptConnectionFollowsTheNewRules() throws Exception {
    Net.RecordingObserver observer = new Net.RecordingObserver();
    try (TestOrigin origin = TestOrigin.start();
        ConduitResources resources = ConduitResources.builder().ioThreads(1).build()) {
      Conduit conduit = Conduit.builder().resources(resources).observer(observer)
          .listener(Listener.builder("http").bind("127.0.0.1:0").protocol(InboundProtocols.http()).build())
          .build().start();
      try (Socket client = connect(conduit.address("http"))) {
        String get = "GET http://127.0.0.1:" + origin.port() + "/hello HTTP/1.1\r\nHost: x\r\n\r\n";
        assertThat(exchange(client, get)).startsWith("HTTP/1.1 200").endsWith("hello");
        assertThat(exchange(client, get)).startsWith("HTTP/1.1 200").endsWith("hello");
        assertThat(dials(observer)).as("the second request reused the upstream").isEqualTo(1);

        // same rules, new objects: still a change of what is in force, so the next request is routed again
        conduit.update(Router.builder().defaultDecision(RouteDecision.direct()).build(), List.of());
        assertThat(exchange(client, get)).startsWith("HTTP/1.1 200").endsWith("hello");
        assertThat(dials(observer)).as("routed and dialed again after the update").isEqualTo(2);

        conduit.update(Router.builder()
            .rule(Rule.builder("no-loopback").destinationCidr("127.0.0.0/8")
                .decision(RouteDecision.reject("loopback is off limits now")).build())
            .defaultDecision(RouteDecision.direct()).build(), List.of());
        String refused = exchange(client, get);
        assertThat(refused).startsWith("HTTP/1.1 403").contains("loopback is off limits now");
        assertThat(origin.requests()).isEqualTo(3);
      } finally {
        conduit.stop().get();
      }
    }
  }

  private static long dials(Net.RecordingObserver observer) {
    return observer.events.stream().filter(e -> e.startsWith("dialStarted ")).count();
  }

  private static Socket connect(InetSocketAddress proxy) throws IOException {
    Socket s = new Socket(proxy.getAddress(), proxy.getPort());
    s.setSoTimeout(10_000);
    return s;
  }

  /** Writes one request and reads one response with a Content-Length body (head and body as text). */
  private static String exchange(Socket s, String request) throws IOException {
    s.getOutputStream().write(request.getBytes(StandardCharsets.US_ASCII));
    InputStream in = s.getInputStream();
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    while (!head.toString(StandardCharsets.ISO_8859_1).endsWith("\r\n\r\n")) {
      int b = in.read();
      if (b < 0) {
        break;
      }
      head.write(b);
    }
    String h = head.toString(StandardCharsets.ISO_8859_1);
    int length = 0;
    for (String line : h.split("\r\n")) {
      if (line.regionMatches(true, 0, "content-length:", 0, 15)) {
        length = Integer.parseInt(line.substring(15).trim());
      }
    }
    return h + new String(in.readNBytes(length), StandardCharsets.ISO_8859_1);
  }
}
