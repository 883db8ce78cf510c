package dev.conduit.mitm.usage;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.*; // the JDK's HttpServer, HttpExchange, ...
import dev.conduit.mitm.*; // conduit's interceptors
import org.junit.jupiter.api.Test;

/**
 * Code that serves with the JDK's HTTP server and intercepts with conduit imports both packages whole, as
 * this file does; it compiles only while no public type of {@code dev.conduit.mitm} is named like one of
 * the JDK's ({@code HttpExchange} was: "reference to HttpExchange is ambiguous").
 */
class JdkNamesTest {

  @Test
  void httpExchangeIsTheJdksAndTheInterceptorsExchangeIsConduits() {
    assertThat(HttpExchange.class.getName()).isEqualTo("com.sun.net.httpserver.HttpExchange");
    assertThat(InterceptedExchange.class.getName()).isEqualTo("dev.conduit.mitm.InterceptedExchange");
    assertThat(HttpServer.class.getPackageName()).isEqualTo("com.sun.net.httpserver");
  }
}
