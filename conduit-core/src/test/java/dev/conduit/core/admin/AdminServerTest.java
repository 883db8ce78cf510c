package dev.conduit.core.admin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.conduit.core.Conduit;
import dev.conduit.core.ConduitResources;
import dev.conduit.core.Listener;
import dev.conduit.core.Timeouts;
import dev.conduit.core.inbound.InboundProtocols;
import dev.conduit.core.observe.AccessLog;
import dev.conduit.core.observe.MicrometerObserver;
import dev.conduit.core.route.RouteDecision;
import dev.conduit.core.route.Router;
import dev.conduit.core.route.Rule;
import dev.conduit.core.testing.MiniJson;
import dev.conduit.core.testing.Processes;
import dev.conduit.core.testing.TestOrigin;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.math.BigDecimal;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The admin endpoint over a real conduit with a SOCKS listener, metrics in a Prometheus registry
 * and access logs, driven by curl and scraped with the JDK's HTTP client.
 */
class AdminServerTest {
  static final String TOKEN = "s3cret-admin-token";
  static TestOrigin origin;
  static HttpClient http;

  @BeforeAll
  static void startOrigin() throws IOException {
    origin = TestOrigin.start();
    http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  }

  @AfterAll
  static void stopOrigin() {
    origin.close();
  }

  /** A conduit with metrics, both access-log formats and an admin endpoint with a token. */
  static final class Setup implements AutoCloseable {
    final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    final List<String> json = new CopyOnWriteArrayList<>();
    /** One permit per JSON access-log line written. */
    final Semaphore jsonLines = new Semaphore(0);
    final List<String> logfmt = new CopyOnWriteArrayList<>();
    final MicrometerObserver metrics;
    final Conduit conduit;
    final AdminServer admin;

    Setup(ConduitResources resources, Timeouts timeouts) throws IOException {
      AtomicReference<Conduit> self = new AtomicReference<>();
      BooleanSupplier draining = () -> self.get() != null && self.get().isStopping();
      MicrometerObserver.Builder mb = MicrometerObserver.builder(registry).draining(draining).perIpTraffic(2);
      if (resources != null) {
        mb.resources(resources);
      }
      metrics = mb.build();
      var b = Conduit.builder()
          .listener(Listener.builder("socks").bind("127.0.0.1:0").protocol(InboundProtocols.socks()).build())
          .router(Router.builder().rule(Rule.builder("loopback").destinationCidr("127.0.0.0/8")
              .decision(RouteDecision.direct()).build()).build())
          .timeouts(timeouts)
          .observer(metrics)
          .observer(AccessLog.builder().format(AccessLog.Format.LOGFMT).sink(logfmt::add).build())
          .observer(AccessLog.builder().sink(line -> {
            json.add(line);
            jsonLines.release();
          }).build());
      if (resources != null) {
        b.resources(resources);
      }
      conduit = b.build().start();
      self.set(conduit);
      admin = AdminServer.builder().bind("127.0.0.1:0").token(TOKEN).conduit(conduit)
          .metrics(registry::scrape)
          .config(() -> "{\"admin\":{\"token\":\"****\"}}", "application/json")
          .build().start();
    }

    String proxy() {
      return "127.0.0.1:" + conduit.address("socks").getPort();
    }

    HttpResponse<String> send(String method, String path, String token) throws Exception {
      HttpRequest.Builder r = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + admin.address().getPort() + path))
          .timeout(Duration.ofSeconds(10)).method(method, HttpRequest.BodyPublishers.noBody());
      if (token != null) {
        r.header("Authorization", "Bearer " + token);
      }
      return http.send(r.build(), HttpResponse.BodyHandlers.ofString());
    }

    HttpResponse<String> get(String path) throws Exception {
      return send("GET", path, TOKEN);
    }

    /** Waits for the access log's {@code n} lines (its first, each setup writes n at most once). */
    void awaitLogLines(int n) throws InterruptedException {
      jsonLines.tryAcquire(n, 10, TimeUnit.SECONDS);
      assertThat(json).as("access log lines").hasSize(n);
    }

    @Override
    public void close() {
      admin.close();
      conduit.close();
      metrics.close();
    }
  }

  @Test
  void metricsCountTrafficExactly() throws Exception {
    Processes.requireTool("curl");
    int closedPort;
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      closedPort = s.getLocalPort();
    }
    try (Setup setup = new Setup(null, Timeouts.defaults())) {
      List<long[]> curlSizes = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        Processes.Result r = Processes.run("curl", "-sS", "--max-time", "10", "-o", "/dev/null",
            "-w", "%{size_header} %{size_download}", "--socks5", setup.proxy(),
            origin.uri("/bytes?n=" + (1000 * (i + 1))).toString());
        assertThat(r.exitCode()).as(r.stderr()).isZero();
        String[] parts = r.out().trim().split(" ");
        curlSizes.add(new long[] {Long.parseLong(parts[0]), Long.parseLong(parts[1])});
      }
      Processes.Result refused = Processes.run("curl", "-sS", "--max-time", "10", "--socks5", setup.proxy(),
          "http://127.0.0.1:" + closedPort + "/");
      assertThat(refused.exitCode()).isNotZero();
      try (Socket garbage = new Socket("127.0.0.1", setup.conduit.address("socks").getPort())) {
        garbage.getOutputStream().write("GET / HTTP/1.0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        garbage.setSoTimeout(5000);
        garbage.getInputStream().readAllBytes(); // conduit closes it
      }
      try (Socket silent = new Socket("127.0.0.1", setup.conduit.address("socks").getPort())) {
        silent.shutdownOutput(); // a port probe, a browser's spare connection: not a byte sent
        silent.setSoTimeout(5000);
        assertThat(silent.getInputStream().readAllBytes()).isEmpty();
      }
      setup.awaitLogLines(6);

      HttpResponse<String> scrape = setup.get("/metrics");
      assertThat(scrape.statusCode()).isEqualTo(200);
      assertThat(scrape.headers().firstValue("content-type")).hasValue(AdminServer.PROMETHEUS_TEXT);
      Samples m = Samples.parse(scrape.body());
      String[] socks = {"listener", "socks", "protocol", "socks"};
      assertThat(m.value("conduit_connections_accepted_total", socks)).isEqualTo(6);
      assertThat(m.value("conduit_connections_active", socks)).isZero();
      assertThat(m.value("conduit_connections_closed_total", "listener", "socks", "protocol", "socks", "outcome", "ok"))
          .as("%s", setup.json).isEqualTo(3);
      assertThat(m.value("conduit_connections_closed_total", "listener", "socks", "protocol", "socks",
          "outcome", "dial_failed")).isEqualTo(1);
      assertThat(m.value("conduit_connections_closed_total", "listener", "socks", "protocol", "socks",
          "outcome", "protocol_error")).isEqualTo(1);
      assertThat(m.value("conduit_handshake_failures_total", "listener", "socks", "protocol", "socks",
          "reason", "protocol_error")).isEqualTo(1);
      assertThat(m.value("conduit_connections_closed_total", "listener", "socks", "protocol", "socks",
          "outcome", "closed_before_request")).isEqualTo(1);
      assertThat(scrape.body()).doesNotContain("reason=\"closed_before_request\"");
      assertThat(setup.json).anySatisfy(line -> assertThat(line).contains("\"outcome\":\"closed_before_request\""));
      assertThat(m.value("conduit_dial_failures_total", "outbound", "direct", "reason", "connection_refused"))
          .isEqualTo(1);
      assertThat(m.value("conduit_dial_duration_seconds_count", "outbound", "direct", "result", "ok")).isEqualTo(3);
      assertThat(m.value("conduit_dial_duration_seconds_count", "outbound", "direct", "result", "failed")).isEqualTo(1);
      assertThat(m.value("conduit_dial_duration_seconds_bucket", "outbound", "direct", "result", "ok", "le", "+Inf"))
          .isEqualTo(3);
      assertThat(m.value("conduit_rule_matches_total", "rule", "loopback")).isEqualTo(4);
      assertThat(m.value("conduit_draining")).isZero();

      // bytes: the metric is the sum of the access log's counts, which cover what curl saw
      List<Map<String, Object>> lines = setup.json.stream().map(MiniJson::object).toList();
      long downDirect = 0;
      long upDirect = 0;
      long upNone = 0;
      for (Map<String, Object> l : lines) {
        long in = ((BigDecimal) l.get("bytes_in")).longValueExact();
        long out = ((BigDecimal) l.get("bytes_out")).longValueExact();
        if ("direct".equals(l.get("outbound"))) {
          downDirect += out;
          upDirect += in;
        } else {
          upNone += in;
        }
      }
      long curlTotal = curlSizes.stream().mapToLong(s -> s[0] + s[1]).sum();
      assertThat(downDirect).isBetween(curlTotal, curlTotal + 3 * 32); // + SOCKS5 replies
      assertThat(m.value("conduit_traffic_bytes_total", "direction", "download", "listener", "socks",
          "outbound", "direct")).isEqualTo(downDirect);
      assertThat(m.value("conduit_traffic_bytes_total", "direction", "upload", "listener", "socks",
          "outbound", "direct")).isEqualTo(upDirect);
      assertThat(m.value("conduit_traffic_bytes_total", "direction", "upload", "listener", "socks",
          "outbound", "none")).isEqualTo(upNone);
      // per-IP (opt-in, capped at 2): one client IP, one dialed IP
      assertThat(m.value("conduit_client_ip_traffic_bytes_total", "direction", "download", "ip", "127.0.0.1"))
          .isEqualTo(downDirect + lines.stream().filter(l -> l.get("outbound") == null)
              .mapToLong(l -> ((BigDecimal) l.get("bytes_out")).longValueExact()).sum());
      assertThat(m.value("conduit_destination_ip_traffic_bytes_total", "direction", "download", "ip", "127.0.0.1"))
          .isEqualTo(downDirect);
      assertThat(m.names()).noneMatch(n -> n.contains("other"));

      checkAccessLog(setup, lines, curlSizes, closedPort);
      promtoolAccepts(scrape.body());
    }
  }

  private static void checkAccessLog(Setup setup, List<Map<String, Object>> lines, List<long[]> curlSizes,
      int closedPort) {
    List<Map<String, Object>> ok = lines.stream().filter(l -> "ok".equals(l.get("outcome"))).toList();
    assertThat(ok).hasSize(3);
    for (Map<String, Object> l : ok) {
      assertThat(l).containsEntry("listener", "socks").containsEntry("protocol", "socks")
          .containsEntry("destination", "127.0.0.1:" + origin.port())
          .containsEntry("dialed", "127.0.0.1:" + origin.port())
          .containsEntry("rule", "loopback").containsEntry("outbound", "direct").containsEntry("principal", null)
          .containsEntry("requests", BigDecimal.ONE);
      assertThat((String) l.get("client")).startsWith("127.0.0.1:");
      assertThat((BigDecimal) l.get("total_ms")).isGreaterThanOrEqualTo((BigDecimal) l.get("dial_ms"));
    }
    // each tunnel's bytes_out covers exactly one curl response plus the SOCKS5 replies
    List<Long> outs = ok.stream().map(l -> ((BigDecimal) l.get("bytes_out")).longValueExact()).sorted().toList();
    for (int i = 0; i < 3; i++) {
      long seen = curlSizes.get(i)[0] + curlSizes.get(i)[1];
      assertThat(outs.get(i)).isBetween(seen, seen + 32);
    }
    Map<String, Object> failed = lines.stream().filter(l -> "dial_failed".equals(l.get("outcome"))).findFirst()
        .orElseThrow();
    assertThat(failed).containsEntry("destination", "127.0.0.1:" + closedPort).containsEntry("dialed", null)
        .containsEntry("outbound", null).containsEntry("rule", "loopback");
    assertThat((String) failed.get("detail")).isNotEmpty();
    Map<String, Object> garbage = lines.stream().filter(l -> "protocol_error".equals(l.get("outcome"))).findFirst()
        .orElseThrow();
    assertThat(garbage).containsEntry("destination", null).containsEntry("requests", BigDecimal.ZERO);

    // the logfmt lines carry the same records
    assertThat(setup.logfmt).hasSize(6);
    Map<String, Map<String, String>> byId = new HashMap<>();
    setup.logfmt.forEach(line -> {
      Map<String, String> f = MiniJson.logfmt(line);
      byId.put(f.get("id"), f);
    });
    for (Map<String, Object> l : lines) {
      Map<String, String> f = byId.get((String) l.get("id"));
      assertThat(f).as("logfmt line for " + l.get("id")).isNotNull();
      assertThat(f.get("outcome")).isEqualTo(l.get("outcome"));
      assertThat(f.get("bytes_out")).isEqualTo(l.get("bytes_out").toString());
      assertThat(f.get("destination")).isEqualTo(l.get("destination"));
      assertThat(f.get("client")).isEqualTo(l.get("client"));
    }
  }

  private static void promtoolAccepts(String exposition) throws Exception {
    if (!Processes.available("promtool")) {
      String msg = "promtool is not installed (apt-get install prometheus)";
      if ("true".equals(System.getenv("CI"))) {
        throw new AssertionError(msg + "; CI must have it");
      }
      System.err.println("skipping promtool check: " + msg);
      return;
    }
    Path file = Files.createTempFile("conduit-metrics", ".prom");
    try {
      Files.writeString(file, exposition);
      Process p = new ProcessBuilder("promtool", "check", "metrics").redirectInput(file.toFile())
          .redirectErrorStream(true).start();
      String out;
      try (InputStream in = p.getInputStream()) {
        out = new String(in.readAllBytes(), StandardCharsets.UTF_8);
      }
      if (!p.waitFor(30, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new AssertionError("promtool timed out");
      }
      assertThat(p.exitValue()).as("promtool check metrics:\n" + out).isZero();
    } finally {
      Files.deleteIfExists(file);
    }
  }

  @Test
  void liveConnectionIsListedAndClosedByDelete() throws Exception {
    try (Setup setup = new Setup(null, Timeouts.defaults()); Socket tunnel = socksTunnel(setup)) {
      String client = "127.0.0.1:" + tunnel.getLocalPort();
      HttpResponse<String> list = setup.get("/connections");
      assertThat(list.statusCode()).isEqualTo(200);
      assertThat(list.headers().firstValue("content-type")).hasValue("application/json");
      @SuppressWarnings("unchecked")
      List<Map<String, Object>> conns = (List<Map<String, Object>>) MiniJson.parse(list.body());
      Map<String, Object> c = conns.stream().filter(x -> client.equals(x.get("client"))).findFirst().orElseThrow();
      assertThat(c).containsEntry("listener", "socks").containsEntry("protocol", "socks")
          .containsEntry("destination", "127.0.0.1:" + origin.port()).containsEntry("rule", "loopback")
          .containsEntry("outbound", "direct").containsEntry("dialed", "127.0.0.1:" + origin.port())
          .containsEntry("outcome", "ok");
      String id = (String) c.get("id");
      assertThat(setup.get("/connections/" + id).body()).contains("\"id\":\"" + id + "\"");

      // the tunnel works, then DELETE ends it: the client sees EOF
      OutputStream out = tunnel.getOutputStream();
      out.write(("GET /hello HTTP/1.1\r\nHost: origin\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      InputStream in = tunnel.getInputStream();
      String head = readUntil(in, "\r\n\r\nhello");
      assertThat(head).startsWith("HTTP/1.1 200");
      assertThat(setup.send("DELETE", "/connections/" + id, TOKEN).statusCode()).isEqualTo(204);
      assertThat(in.read()).isEqualTo(-1);
      setup.awaitLogLines(1);
      assertThat(MiniJson.object(setup.json.get(0))).containsEntry("outcome", "closed_by_conduit")
          .containsEntry("id", id);
      assertThat(setup.send("DELETE", "/connections/" + id, TOKEN).statusCode()).isEqualTo(404);
      assertThat(setup.get("/connections/" + id).statusCode()).isEqualTo(404);
    }
  }

  @Test
  void tokenRequiredAndRoutesAnswer() throws Exception {
    try (Setup setup = new Setup(null, Timeouts.defaults())) {
      HttpResponse<String> none = setup.send("GET", "/metrics", null);
      assertThat(none.statusCode()).isEqualTo(401);
      assertThat(none.headers().firstValue("www-authenticate")).hasValueSatisfying(v -> assertThat(v).startsWith("Bearer"));
      assertThat(setup.send("GET", "/healthz", "wrong").statusCode()).isEqualTo(401);
      assertThat(setup.send("GET", "/healthz", TOKEN + "x").statusCode()).isEqualTo(401);
      assertThat(setup.admin.toString()).doesNotContain(TOKEN);

      HttpResponse<String> health = setup.get("/healthz");
      assertThat(health.statusCode()).isEqualTo(200);
      assertThat(health.body()).isEqualTo("ok");
      assertThat(setup.get("/readyz").statusCode()).isEqualTo(200);
      HttpResponse<String> config = setup.get("/config");
      assertThat(config.statusCode()).isEqualTo(200);
      assertThat(config.body()).isEqualTo("{\"admin\":{\"token\":\"****\"}}");
      assertThat(setup.get("/connections").body()).isEqualTo("[]\n");
      assertThat(setup.get("/nope").statusCode()).isEqualTo(404);
      assertThat(setup.get("/connections/").statusCode()).isEqualTo(404);
      HttpResponse<String> post = setup.send("POST", "/metrics", TOKEN);
      assertThat(post.statusCode()).isEqualTo(405);
      assertThat(post.headers().firstValue("allow")).hasValue("GET");
      assertThat(setup.send("PUT", "/connections/1", TOKEN).statusCode()).isEqualTo(405);
    }
  }

  @Test
  void malformedRequestGets400() throws Exception {
    try (Setup setup = new Setup(null, Timeouts.defaults());
        Socket s = new Socket("127.0.0.1", setup.admin.address().getPort())) {
      s.setSoTimeout(5000);
      s.getOutputStream().write("GET /metrics HTTP/1.1\r\nHost: x\r\n\u0001bad header\r\n\r\n"
          .getBytes(StandardCharsets.ISO_8859_1));
      String response = new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
      assertThat(response).startsWith("HTTP/1.1 400");
    }
  }

  @Test
  void bindRejectsNonAddresses() {
    assertThatThrownBy(() -> AdminServer.builder().bind("localhost:x"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("expected: ip:port");
    assertThatThrownBy(() -> AdminServer.builder().bind("127.0.0.1:70000"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("127.0.0.1:70000");
    assertThatThrownBy(() -> AdminServer.builder().token("has space")).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void readyzAnswers503WhileDraining() throws Exception {
    ConduitResources resources = ConduitResources.builder().ioThreads(1).build();
    Setup setup = new Setup(resources, Timeouts.builder().drain(Duration.ofSeconds(20)).build());
    try {
      Socket tunnel = socksTunnel(setup);
      assertThat(setup.get("/readyz").statusCode()).isEqualTo(200);
      Samples before = Samples.parse(setup.get("/metrics").body());
      assertThat(before.value("conduit_draining")).isZero();
      assertThat(before.value("conduit_eventloop_pending_tasks", "loop", "0")).isGreaterThanOrEqualTo(0);

      CompletableFuture<Void> stopped = setup.conduit.stop();
      HttpResponse<String> ready = setup.get("/readyz");
      assertThat(ready.statusCode()).isEqualTo(503);
      Samples during = Samples.parse(setup.get("/metrics").body());
      assertThat(during.value("conduit_draining")).isEqualTo(1);
      assertThat(during.value("conduit_connections_active", "listener", "socks", "protocol", "socks")).isEqualTo(1);
      assertThat(stopped).isNotDone(); // the tunnel is still open: the drain waits
      assertThat(setup.get("/healthz").statusCode()).isEqualTo(200);

      tunnel.close();
      stopped.get(10, TimeUnit.SECONDS);
      assertThat(setup.get("/readyz").statusCode()).isEqualTo(503);
      setup.awaitLogLines(1);
      Samples after = Samples.parse(setup.get("/metrics").body());
      assertThat(after.value("conduit_connections_active", "listener", "socks", "protocol", "socks")).isZero();
    } finally {
      setup.close();
      resources.close();
    }
  }

  /** Opens a SOCKS5 tunnel to the origin through the setup's listener. */
  static Socket socksTunnel(Setup setup) throws IOException {
    Socket s = new Socket("127.0.0.1", setup.conduit.address("socks").getPort());
    s.setSoTimeout(5000);
    OutputStream out = s.getOutputStream();
    DataInputStream in = new DataInputStream(s.getInputStream());
    out.write(new byte[] {5, 1, 0});
    byte[] method = new byte[2];
    in.readFully(method);
    assertThat(method).containsExactly(5, 0);
    int port = origin.port();
    out.write(new byte[] {5, 1, 0, 1, 127, 0, 0, 1, (byte) (port >> 8), (byte) port});
    byte[] reply = new byte[10];
    in.readFully(reply);
    assertThat(reply[1]).as("SOCKS5 reply").isZero();
    return s;
  }

  private static String readUntil(InputStream in, String end) throws IOException {
    StringBuilder sb = new StringBuilder();
    while (!sb.toString().endsWith(end)) {
      int c = in.read();
      if (c < 0) {
        throw new IOException("EOF after " + sb);
      }
      sb.append((char) c);
    }
    return sb.toString();
  }

  /** Parsed samples of a Prometheus text exposition. */
  record Samples(Map<String, List<Map.Entry<Map<String, String>, Double>>> byName) {
    private static final Pattern SAMPLE = Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\\{(.*)})? (\\S+)$");
    private static final Pattern LABEL = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\\\]|\\\\.)*)\",?");

    static Samples parse(String text) {
      Map<String, List<Map.Entry<Map<String, String>, Double>>> out = new LinkedHashMap<>();
      for (String line : text.split("\n")) {
        if (line.isEmpty() || line.startsWith("#")) {
          continue;
        }
        Matcher m = SAMPLE.matcher(line);
        assertThat(m.matches()).as("sample line: " + line).isTrue();
        Map<String, String> labels = new LinkedHashMap<>();
        if (m.group(2) != null) {
          Matcher l = LABEL.matcher(m.group(2));
          while (l.find()) {
            labels.put(l.group(1), l.group(2));
          }
        }
        out.computeIfAbsent(m.group(1), k -> new ArrayList<>()).add(Map.entry(labels, Double.parseDouble(m.group(3))));
      }
      return new Samples(out);
    }

    java.util.Set<String> names() {
      java.util.Set<String> all = new java.util.HashSet<>(byName.keySet());
      byName.values().forEach(l -> l.forEach(e -> all.addAll(e.getKey().values())));
      return all;
    }

    /** The one sample of {@code name} with exactly these labels. */
    double value(String name, String... labels) {
      Map<String, String> want = new HashMap<>();
      for (int i = 0; i < labels.length; i += 2) {
        want.put(labels[i], labels[i + 1]);
      }
      List<Map.Entry<Map<String, String>, Double>> samples = byName.get(name);
      assertThat(samples).as("samples of " + name + " in " + byName.keySet()).isNotNull();
      return samples.stream().filter(e -> e.getKey().equals(want)).map(Map.Entry::getValue).findFirst()
          .orElseThrow(() -> new AssertionError(name + want + " not in " + samples));
    }
  }
}
