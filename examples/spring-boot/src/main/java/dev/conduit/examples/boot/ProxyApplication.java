package dev.conduit.examples.boot;

import dev.conduit.core.Conduit;
import dev.conduit.core.Listener;
import dev.conduit.core.inbound.InboundProtocols;
import dev.conduit.core.route.RouteDecision;
import dev.conduit.core.route.Router;
import dev.conduit.core.route.Rule;
import java.io.IOException;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.context.annotation.Bean;

/**
 * A Spring Boot application with a conduit proxy as a bean: HTTP and SOCKS on one port
 * ({@code conduit.listen}, default {@code 127.0.0.1:1080}), cloud metadata refused, everything else
 * direct. The proxy starts with the context and drains when it closes.
 */
@SpringBootApplication
public class ProxyApplication {

  /**
   * Runs the application until it is stopped.
   *
   * @param args Spring Boot's arguments, e.g. {@code --conduit.listen=0.0.0.0:1080}
   */
  public static void main(String[] args) {
    SpringApplication.run(ProxyApplication.class, args);
  }

  /**
   * The proxy, started; Spring calls its {@code close()} (stop accepting, drain) when the context closes.
   *
   * @param listen {@code ip:port} of the mixed listener; port 0 picks a free one
   * @return the running proxy
   * @throws IOException when the port cannot be bound
   */
  @Bean(destroyMethod = "close")
  public Conduit conduit(@Value("${conduit.listen:127.0.0.1:1080}") String listen) throws IOException {
    return Conduit.builder()
        .listener(Listener.builder("mixed").bind(listen).protocol(InboundProtocols.mixed()).build())
        .router(Router.builder()
            .rule(Rule.builder("no-metadata").destinationCidr("169.254.0.0/16")
                .decision(RouteDecision.reject("cloud metadata is off limits")).build())
            .defaultDecision(RouteDecision.direct())
            .build())
        .build()
        .start();
  }
}
