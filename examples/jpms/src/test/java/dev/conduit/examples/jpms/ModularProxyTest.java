package dev.conduit.examples.jpms;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import dev.conduit.core.testing.FileWatch;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.ProxySelector;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The application runs as {@code java --module-path ... -m dev.conduit.examples.jpms/...}: with Netty's
 * native module added it has epoll and proxies a real request; without it, conduit says at start that epoll
 * is off and names the JVM option that turns it on.
 */
class ModularProxyTest {

  private static final Pattern STARTED = Pattern.compile("mixed proxy on ([0-9.]+):(\\d+) transport=(\\w+) module=(\\S+)");
  static HttpServer origin;

  @BeforeAll
  static void startOrigin() throws Exception {
    origin = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    origin.createContext("/hello", exchange -> {
      byte[] body = "hello, modules".getBytes(StandardCharsets.UTF_8);
      exchange.sendResponseHeaders(200, body.length);
      exchange.getResponseBody().write(body);
      exchange.close();
    });
    origin.start();
  }

  @AfterAll
  static void stopOrigin() {
    origin.stop(0);
  }

  private static String nativeModule() {
    return "io.netty.transport.epoll.linux." + ("aarch64".equals(System.getProperty("os.arch")) ? "aarch_64" : "x86_64");
  }

  private static Process start(Path log, String... jvmOptions) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "--module-path", System.getProperty("jpms.module.path")));
    cmd.addAll(List.of(jvmOptions));
    cmd.addAll(List.of("-m", "dev.conduit.examples.jpms/dev.conduit.examples.jpms.ModularProxy", "127.0.0.1:0"));
    return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
  }

  /** Waits for the start line in the log (or the process's end), with a generous deadline. */
  private static Matcher started(Process p, Path log) throws Exception {
    return FileWatch.await(log, STARTED, Duration.ofSeconds(60), p);
  }

  @Test
  void onTheModulePathWithNettysNativeModuleEpollIsOnAndRequestsGoThrough() throws Exception {
    Path log = Files.createTempFile("jpms", ".log");
    Process p = start(log, "--add-modules", nativeModule());
    try {
      Matcher m = started(p, log);
      assertThat(m.group(3)).as(Files.readString(log)).isEqualTo("epoll");
      assertThat(m.group(4)).isEqualTo("dev.conduit.core");
      HttpClient client = HttpClient.newBuilder()
          .proxy(ProxySelector.of(new InetSocketAddress(m.group(1), Integer.parseInt(m.group(2))))).build();
      HttpResponse<String> r = client.send(HttpRequest.newBuilder(
              URI.create("http://127.0.0.1:" + origin.getAddress().getPort() + "/hello")).timeout(Duration.ofSeconds(20))
          .build(), HttpResponse.BodyHandlers.ofString());
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(r.body()).isEqualTo("hello, modules");
      p.getOutputStream().close(); // its standard input: the application stops
      assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
      assertThat(p.exitValue()).as(Files.readString(log)).isZero();
      assertThat(Files.readString(log)).doesNotContain("epoll is off");
    } finally {
      p.destroyForcibly();
      Files.deleteIfExists(log);
    }
  }

  @Test
  void withoutItConduitSaysEpollIsOffAndNamesTheOption() throws Exception {
    Path log = Files.createTempFile("jpms", ".log");
    Process p = start(log);
    try {
      Matcher m = started(p, log);
      String text = Files.readString(log, StandardCharsets.UTF_8);
      assertThat(m.group(3)).isEqualTo("nio");
      assertThat(text).contains("epoll is off, so splice and transparent capture are unavailable")
          .contains("add the JVM option --add-modules " + nativeModule());
    } finally {
      p.getOutputStream().close();
      p.waitFor(60, TimeUnit.SECONDS);
      p.destroyForcibly();
      Files.deleteIfExists(log);
    }
  }
}
