package dev.conduit.core.pki;

import dev.conduit.core.Conduit;
import dev.conduit.core.Listener;
import dev.conduit.core.inbound.InboundProtocols;
import dev.conduit.core.route.RouteDecision;
import dev.conduit.core.route.Router;
import dev.conduit.core.route.Rule;
import dev.conduit.core.testing.Processes;
import dev.conduit.core.testing.TestOrigin;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * A plain forward proxy (a mixed listener, a rule, the default resources) and curl through it over HTTP and
 * SOCKS5; returns curl's outputs. Loaded by {@link WithoutBouncyCastleTest} where BouncyCastle is absent.
 */
public final class NoBouncyCastleScenario implements Callable<List<String>> {
  @Override
  public List<String> call() throws Exception {
    List<String> bodies = new ArrayList<>();
    try (TestOrigin origin = TestOrigin.start();
        Conduit conduit = Conduit.builder()
            .listener(Listener.builder("mixed").bind("127.0.0.1:0").protocol(InboundProtocols.mixed()).build())
            .router(Router.builder()
                .rule(Rule.builder("no-metadata").destinationCidr("169.254.0.0/16")
                    .decision(RouteDecision.reject("cloud metadata is off limits")).build())
                .defaultDecision(RouteDecision.direct()).build())
            .build().start()) {
      String proxy = "127.0.0.1:" + conduit.address("mixed").getPort();
      for (String[] how : new String[][] {{"-x", "http://" + proxy}, {"--socks5", proxy}}) {
        Processes.Result r = Processes.run("curl", "-sS", "--max-time", "10", how[0], how[1],
            origin.uri("/hello").toString());
        if (r.exitCode() != 0) {
          throw new AssertionError("curl " + how[0] + ": " + r.stderr());
        }
        bodies.add(r.out());
      }
    }
    return bodies;
  }
}
