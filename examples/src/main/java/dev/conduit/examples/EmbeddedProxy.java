package dev.conduit.examples;

import dev.conduit.core.Conduit;
import dev.conduit.core.Listener;
import dev.conduit.core.inbound.InboundProtocols;
import dev.conduit.core.outbound.Hop;
import dev.conduit.core.outbound.Outbound;
import dev.conduit.core.route.RouteDecision;
import dev.conduit.core.route.Router;
import dev.conduit.core.route.Rule;
import java.io.IOException;
import java.util.concurrent.CountDownLatch;

/**
 * Embeds an HTTP and a SOCKS proxy in a JVM service, the way an application would use conduit from
 * Maven Central: cloud metadata addresses are refused, {@code *.corp.example} goes through an
 * upstream HTTP proxy, everything else goes direct.
 *
 * <pre>
 * java -cp examples.jar dev.conduit.examples.EmbeddedProxy [upstream-proxy-url]
 * curl -x http://127.0.0.1:8080 http://example.org/
 * curl --socks5-hostname 127.0.0.1:1080 http://example.org/
 * </pre>
 */
public final class EmbeddedProxy {
  private EmbeddedProxy() {}

  /** Builds the proxy; {@code httpListen}/{@code socksListen} are {@code ip:port}, port 0 picks one. */
  public static Conduit build(String httpListen, String socksListen, String upstreamUrl) {
    return Conduit.builder()
        .listener(Listener.builder("http").bind(httpListen).protocol(InboundProtocols.http()).build())
        .listener(Listener.builder("socks").bind(socksListen).protocol(InboundProtocols.socks()).build())
        .outbound(Outbound.builder("corp").hop(Hop.parse(upstreamUrl)).build())
        .router(Router.builder()
            .rule(Rule.builder("no-metadata")
                .destinationCidr("169.254.0.0/16")
                .decision(RouteDecision.reject("cloud metadata is off limits"))
                .build())
            .rule(Rule.builder("corp")
                .domainSuffix("corp.example")
                .decision(RouteDecision.via("corp"))
                .build())
            .defaultDecision(RouteDecision.direct())
            .build())
        .build();
  }

  public static void main(String[] args) throws IOException, InterruptedException {
    String upstream = args.length > 0 ? args[0] : "http://127.0.0.1:3128";
    Conduit conduit = build("127.0.0.1:8080", "127.0.0.1:1080", upstream).start();
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      conduit.close(); // graceful: stop accepting, drain, close
      stopped.countDown();
    }));
    System.out.println("HTTP proxy on " + conduit.address("http") + ", SOCKS on " + conduit.address("socks"));
    stopped.await();
  }
}
