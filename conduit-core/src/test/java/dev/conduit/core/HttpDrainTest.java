package dev.conduit.core;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.inbound.InboundProtocols;
import dev.conduit.core.testing.TestOrigin;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** A graceful stop closes idle keep-alive HTTP connections at once instead of waiting for the drain deadline. */
class HttpDrainTest {

  @Test
  void stopClosesIdleKeepAliveConnectionsWithoutWaitingForTheDeadline() throws Exception {
    try (TestOrigin origin = TestOrigin.start()) {
      Conduit conduit = Conduit.builder()
          .listener(Listener.builder("http").bind("127.0.0.1:0").protocol(InboundProtocols.http()).build())
          .timeouts(Timeouts.builder().drain(Duration.ofSeconds(60)).build())
          .build().start();
      try (Socket s = new Socket("127.0.0.1", conduit.address("http").getPort())) {
        s.setSoTimeout(10_000);
        OutputStream out = s.getOutputStream();
        out.write(("GET " + origin.uri("/hello") + " HTTP/1.1\r\nHost: 127.0.0.1:" + origin.port()
            + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        out.flush();
        InputStream in = s.getInputStream();
        String head = readUntil(in, "hello");
        assertThat(head).startsWith("HTTP/1.1 200").endsWith("hello");
        assertThat(conduit.activeConnections()).isEqualTo(1);

        long start = System.nanoTime();
        conduit.stop().get(20, TimeUnit.SECONDS);
        long tookMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertThat(tookMillis).as("stop waited for an idle keep-alive client").isLessThan(10_000);
        // the rest of the response (chunk trailer), then EOF: a read timeout here would mean it stayed open
        in.readAllBytes();
      }
    }
  }

  private static String readUntil(InputStream in, String end) throws Exception {
    StringBuilder sb = new StringBuilder();
    while (!sb.toString().endsWith(end)) {
      int b = in.read();
      if (b < 0) {
        break;
      }
      sb.append((char) b);
    }
    return sb.toString();
  }
}
