package dev.conduit.core;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.spi.ILoggingEvent;
import dev.conduit.core.inbound.InboundProtocols;
import dev.conduit.core.route.RouteDecision;
import dev.conduit.core.route.Router;
import dev.conduit.core.route.Rule;
import dev.conduit.core.testing.CapturedLog;
import dev.conduit.core.testing.TestOrigin;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * Every line conduit logs about a connection carries the connection's id ({@code [id] …}, base 36, which
 * the CLI's JSON layout turns into a {@code conn} field): a busy proxy's log is useless otherwise. Drives
 * successes and the usual failures (refused, rejected by a rule, garbage, a truncated request, the negotiation
 * timeout) with debug logging on, and checks every line the event loops wrote.
 */
class LogIdsTest {
  private static final Pattern WITH_ID = Pattern.compile("^\\[[0-9a-z]+\\] .*", Pattern.DOTALL);

  @Test
  void everyConnectionLineCarriesItsId() throws Exception {
    CapturedLog logged = CapturedLog.of("dev.conduit", Level.DEBUG);
    try (logged; TestOrigin origin = TestOrigin.start(); Net.TcpServer echo = Net.echo();
        ConduitResources resources = ConduitResources.builder().ioThreads(1).build()) {
      Conduit conduit = Conduit.builder().resources(resources)
          .listener(Listener.builder("http").bind("127.0.0.1:0").protocol(InboundProtocols.http()).build())
          .listener(Listener.builder("socks").bind("127.0.0.1:0").protocol(InboundProtocols.socks()).build())
          .router(Router.builder()
              .rule(Rule.builder("no-test-net").destinationCidr("198.18.0.0/15")
                  .decision(RouteDecision.reject("test net is off limits")).build())
              .defaultDecision(RouteDecision.direct())
              .build())
          .timeouts(Timeouts.builder().negotiation(Duration.ofMillis(500)).build())
          .build().start();
      try {
        InetSocketAddress http = conduit.address("http");
        InetSocketAddress socks = conduit.address("socks");
        int closed = Net.closedPort();
        // successes
        try (Net.Socks5Result r = Net.socks5(socks, "127.0.0.1", echo.port(), null)) {
          assertThat(r.reply()).isZero();
          r.socket().getOutputStream().write('x');
          assertThat(r.socket().getInputStream().read()).isEqualTo('x');
        }
        assertThat(exchange(http, "GET http://127.0.0.1:" + origin.port() + "/hello HTTP/1.1\r\nHost: x\r\n"
            + "Connection: close\r\n\r\n")).startsWith("HTTP/1.1 200");
        // failures: refused, rejected by a rule, garbage, truncated, silent until the negotiation timeout
        try (Net.Socks5Result r = Net.socks5(socks, "127.0.0.1", closed, null)) {
          assertThat(r.reply()).isEqualTo(0x05);
        }
        try (Net.Socks5Result r = Net.socks5(socks, "198.18.0.1", 80, null)) {
          assertThat(r.reply()).isEqualTo(0x02);
        }
        assertThat(exchange(http, "CONNECT 127.0.0.1:" + closed + " HTTP/1.1\r\nHost: x\r\n\r\n"))
            .startsWith("HTTP/1.1 502");
        assertThat(exchange(http, "GET http://198.18.0.1/ HTTP/1.1\r\nHost: x\r\n\r\n")).startsWith("HTTP/1.1 403");
        assertThat(exchange(http, "\u0001\u0002garbage\r\n\r\n")).startsWith("HTTP/1.1 400");
        assertThat(exchange(socks, "\u0005\u0001")).isEmpty(); // a truncated greeting, then the timeout
        assertThat(exchange(http, "GET http://127.0.0.1/ HTTP/1.1\r\n")).startsWith("HTTP/1.1 408");
        assertThat(exchange(http, "")).isEmpty();
      } finally {
        conduit.stop().get();
      }
    }
    List<ILoggingEvent> fromEventLoops = logged.events().stream()
        .filter(e -> e.getThreadName().startsWith("conduit-io")).toList();
    // the lines above are sure to have produced some: the check below cannot pass by seeing nothing
    assertThat(fromEventLoops).extracting(ILoggingEvent::getFormattedMessage)
        .anyMatch(m -> m.contains("negotiation timed out"))
        .anyMatch(m -> m.contains("HTTP 400"));
    assertThat(fromEventLoops).allSatisfy(e -> assertThat(e.getFormattedMessage())
        .as("logged by %s", e.getLoggerName()).matches(WITH_ID));
  }

  /** Sends {@code request} (without closing), then reads until conduit closes the connection. */
  private static String exchange(InetSocketAddress proxy, String request) throws IOException {
    try (Socket s = new Socket(proxy.getAddress(), proxy.getPort())) {
      s.setSoTimeout(10_000);
      OutputStream out = s.getOutputStream();
      out.write(request.getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
      InputStream in = s.getInputStream();
      try {
        return new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);
      } catch (java.net.SocketException reset) {
        return "";
      }
    }
  }
}
