package dev.conduit.core.egress;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.conduit.core.ConduitResources;
import dev.conduit.core.control.push.PushClient;
import dev.conduit.core.control.push.PushServer;
import dev.conduit.core.control.store.StoreConfig;
import dev.conduit.core.net.IpPrefixSet;
import dev.conduit.core.pki.CertificateAuthority;
import dev.conduit.core.pki.TlsMaterial;
import dev.conduit.core.testing.Dnsmasq;
import java.io.File;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.logging.LogEntry;
import org.openqa.selenium.logging.LogType;
import org.openqa.selenium.logging.LoggingPreferences;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The egress web page in a real browser: Debian's chromium, headless, driven through chromedriver by
 * Selenium, against a real egress server (names resolved by a real dnsmasq; traffic and learned flows
 * fed by a gateway's report through the real push channel over TLS). Signs in, adds an entry and sees it
 * resolved, sees its traffic, adopts a learned destination, deletes, sees the API's validation message for
 * a private address, and checks that a POST carrying the session cookie but no CSRF header is refused.
 * Skips without chromium and chromium-driver (fails under CI=true, where test.sh installs them).
 */
class EgressWebPageBrowserTest {

  private static final String TOKEN = "ui-admin-token-0123456789abcdef";
  private static final String GATEWAY_TOKEN = "gateway-token-0123456789abcdef";
  private static final Path CHROMIUM = Path.of("/usr/bin/chromium");
  private static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");
  private static final Duration PATIENCE = Duration.ofSeconds(30);
  private static final CertificateAuthority CA = CertificateAuthority.builder().commonName("egress web test CA")
      .build();

  @TempDir
  static Path dir;
  static Dnsmasq dns;
  static EgressServer server;
  static ChromeDriver browser;
  static String base;

  @BeforeAll
  static void start() throws Exception {
    if (!Files.isExecutable(CHROMIUM) || !Files.isExecutable(CHROMEDRIVER)) {
      String why = "chromium and chromedriver are needed (apt-get install chromium chromium-driver)";
      if ("true".equals(System.getenv("CI"))) {
        fail(why + " (CI=true: test.sh installs them)");
      }
      Assumptions.abort(why);
    }
    dns = Dnsmasq.start(dir, "198.18.0.10 shop.example.com\n198.18.0.11 shop.example.com\n"
        + "198.18.0.20 learned.example.com\n", 60);
    server = EgressServer.start(EgressServerConfig.builder(StoreConfig.sqlite(dir.resolve("egress.db")).build())
        .bind(new InetSocketAddress("127.0.0.1", 0))
        .adminToken("ops", TOKEN)
        .dnsServers(List.of(dns.address()))
        .allowedSpecial(IpPrefixSet.parse("198.18.0.0/15", "fd00::/8"))
        .bindPush(new InetSocketAddress("127.0.0.1", 0), TlsMaterial.of(CA.mintServerLeaf("127.0.0.1"), CA.certificate()))
        .gatewayToken("gw-1", GATEWAY_TOKEN)
        .build());
    base = "http://127.0.0.1:" + server.httpAddress().getPort();
    ChromeOptions options = new ChromeOptions();
    options.setBinary(CHROMIUM.toFile());
    // root in CI: chromium's sandbox needs user namespaces it may not get; the page is our own
    options.addArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
        "--user-data-dir=" + Files.createDirectories(dir.resolve("chromium")), "--window-size=1400,1000");
    LoggingPreferences logs = new LoggingPreferences();
    logs.enable(LogType.BROWSER, java.util.logging.Level.ALL);
    options.setCapability("goog:loggingPrefs", logs);
    ChromeDriverService service = new ChromeDriverService.Builder()
        .usingDriverExecutable(CHROMEDRIVER.toFile()).usingAnyFreePort()
        .withLogFile(dir.resolve("chromedriver.log").toFile()).build();
    browser = new ChromeDriver(service, options);
  }

  @AfterAll
  static void stop() throws Exception {
    if (browser != null) {
      browser.quit();
    }
    if (server != null) {
      server.close();
    }
    if (dns != null) {
      dns.close();
    }
  }

  static void awaitTrue(String what, java.util.function.Function<WebDriver, Boolean> condition) {
    new WebDriverWait(browser, PATIENCE).withMessage(what).ignoring(org.openqa.selenium.StaleElementReferenceException.class)
        .until(condition::apply);
  }

  static WebElement visible(String css) {
    return new WebDriverWait(browser, PATIENCE).withMessage(css + " visible")
        .ignoring(org.openqa.selenium.StaleElementReferenceException.class).until(d -> {
          List<WebElement> found = d.findElements(By.cssSelector(css));
          return found.isEmpty() || !found.get(0).isDisplayed() ? null : found.get(0);
        });
  }

  /** The text of an element found afresh (the page redraws a table when its data changes). */
  static String text(String css) {
    return read(css, WebElement::getText);
  }

  static String attribute(String css, String name) {
    return read(css, e -> e.getAttribute(name));
  }

  static String read(String css, java.util.function.Function<WebElement, String> what) {
    return new WebDriverWait(browser, PATIENCE).withMessage(css)
        .ignoring(org.openqa.selenium.StaleElementReferenceException.class)
        .ignoring(org.openqa.selenium.NoSuchElementException.class)
        .until(d -> what.apply(d.findElement(By.cssSelector(css))));
  }

  static void click(String css) {
    new WebDriverWait(browser, PATIENCE).withMessage("click " + css)
        .ignoring(org.openqa.selenium.StaleElementReferenceException.class)
        .ignoring(org.openqa.selenium.NoSuchElementException.class)
        .until(d -> {
          d.findElement(By.cssSelector(css)).click();
          return true;
        });
  }

  static void tab(String name) {
    browser.findElement(By.cssSelector("button.tab[data-tab='" + name + "']")).click();
    visible("#tab-" + name);
  }

  static void signIn() {
    browser.get(base + "/ui/");
    browser.manage().deleteAllCookies(); // each test signs in afresh
    browser.get(base + "/ui/");
    WebElement token = visible("#token");
    token.sendKeys("not-the-token-0000000000");
    browser.findElement(By.id("login-submit")).click();
    awaitTrue("a refused token said so", d -> d.findElement(By.id("login-error")).getText().equals("Wrong token."));
    token.clear();
    token.sendKeys(TOKEN);
    browser.findElement(By.id("login-submit")).click();
    visible("#app");
  }

  @Test
  void signsInAddsSeesResolvedAndTrafficAdoptsDeletesAndShowsValidationErrors() throws Exception {
    signIn();
    assertThat(browser.findElement(By.id("login")).isDisplayed()).isFalse();

    // add: the entry appears with the addresses dnsmasq answered, and when it was resolved
    browser.findElement(By.id("add-value")).sendKeys("shop.example.com");
    browser.findElement(By.id("add-ports")).sendKeys("443, 8443");
    browser.findElement(By.id("add-comment")).sendKeys("web shop");
    browser.findElement(By.id("add-submit")).click();
    awaitTrue("the add confirmed", d -> d.findElement(By.id("add-ok")).getText().equals("Added shop.example.com"));
    visible("#entries tr[data-value='shop.example.com']");
    awaitTrue("both addresses listed", d -> d.findElements(By.cssSelector(
        "#entries tr[data-value='shop.example.com'] li[data-address]")).size() == 2);
    assertThat(browser.findElements(By.cssSelector("#entries tr[data-value='shop.example.com'] li[data-address]"))
        .stream().map(e -> e.getAttribute("data-address")).toList()).containsExactly("198.18.0.10", "198.18.0.11");
    String shop = "#entries tr[data-value='shop.example.com'] ";
    assertThat(text(shop + ".ports")).isEqualTo("443, 8443");
    assertThat(text(shop + ".kind")).isEqualTo("domain");
    String resolvedAt = attribute(shop + ".last-resolution time", "datetime");
    assertThat(Instant.parse(resolvedAt)).isBetween(Instant.now().minus(Duration.ofMinutes(5)),
        Instant.now().plusSeconds(5));
    assertThat(text(shop + ".resolved")).contains("active");

    // a gateway connects over the push channel, receives the allowlist and reports traffic and a denied flow
    int pushPort = server.pushAddress().orElseThrow().getPort();
    try (ConduitResources resources = ConduitResources.create();
        PushClient gateway = PushClient.builder(resources)
        .addresses(List.of(URI.create("wss://127.0.0.1:" + pushPort + PushServer.DEFAULT_PATH)))
        .trustAnchors(List.of(CA.certificate())).bearerToken(GATEWAY_TOKEN).identity("gw-1", "egress-gateway")
        .stateFile(dir.resolve("gateway-push-state.json"))
        .backoff(Duration.ofMillis(50), Duration.ofMillis(500))
        .applier(u -> u.state().hash()).build()) {
      gateway.start();
      awaitTrue("the gateway receiving the resolved addresses", d -> gateway.state().resources()
          .containsKey("198.18.0.10"));
      ObjectNode report = JsonNodeFactory.instance.objectNode().put("type", "egress-gateway").put("mode", "report");
      report.putArray("counters").addObject().put("address", "198.18.0.10").put("bytesIn", 123_456L)
          .put("bytesOut", 7_890L).put("packetsIn", 95).put("packetsOut", 60);
      report.putArray("activeFlows").add("198.18.0.10");
      report.put("activeFlowsTruncated", false);
      report.putArray("denied").addObject().put("destination", "198.18.0.20").put("port", 443)
          .put("sni", "learned.example.com").putNull("host").put("count", 3).put("lastSeen", Instant.now().toString());
      awaitTrue("the report sent", d -> gateway.report(report));

      // its traffic, on the entry and per address
      browser.findElement(By.id("refresh")).click();
      awaitTrue("the entry's traffic shown", d -> "131346".equals(d.findElement(By.cssSelector(
          "#entries tr[data-value='shop.example.com'] .traffic [data-bytes]")).getAttribute("data-bytes")));
      tab("traffic");
      String address = "#traffic tr[data-address='198.18.0.10'] ";
      visible(address);
      assertThat(attribute(address + ".bytes-in [data-bytes]", "data-bytes")).isEqualTo("123456");
      assertThat(attribute(address + ".bytes-out [data-bytes]", "data-bytes")).isEqualTo("7890");
      assertThat(text(address)).contains("shop.example.com", "95 / 60");
      assertThat(text("#traffic-entries tr[data-value='shop.example.com']")).contains("128.3 KiB");

      // the gateways list
      tab("gateways");
      awaitTrue("the connected gateway listed", d -> d.findElements(By.cssSelector("#gateways tbody tr")).stream()
          .anyMatch(r -> r.getText().contains("yes")));

      // the learned allowlist: adopt the name its SNI carried, in one click
      tab("learned");
      String learned = "#learned tr[data-destination='198.18.0.20'] ";
      visible(learned);
      assertThat(text(learned + ".sni")).isEqualTo("learned.example.com");
      click(learned + "button.adopt[data-value='learned.example.com']");
      tab("entries");
      visible("#entries tr[data-value='learned.example.com'] li[data-address='198.18.0.20']");
      // on the port the denied flow was seen on, not every port
      assertThat(text("#entries tr[data-value='learned.example.com'] .ports")).isEqualTo("443");
    }

    // search narrows the table (server side)
    browser.findElement(By.id("search")).sendKeys("learned");
    awaitTrue("only the learned entry left", d -> d.findElements(By.cssSelector("#entries tbody tr")).size() == 1
        && d.findElements(By.cssSelector("#entries tr[data-value='learned.example.com']")).size() == 1);
    browser.findElement(By.id("search")).sendKeys(org.openqa.selenium.Keys.chord(org.openqa.selenium.Keys.CONTROL, "a"),
        org.openqa.selenium.Keys.BACK_SPACE);
    visible("#entries tr[data-value='shop.example.com']");

    // delete: two clicks, then the row goes and the audit log says who did it
    click(shop + "button.delete");
    awaitTrue("the delete armed", d -> text(shop + "button.delete").equals("Confirm delete"));
    click(shop + "button.delete");
    awaitTrue("the entry gone", d -> d.findElements(By.cssSelector("#entries tr[data-value='shop.example.com']"))
        .isEmpty());
    tab("audit");
    awaitTrue("the delete in the audit log", d -> d.findElements(By.cssSelector("#audit tr[data-action='delete']"))
        .stream().anyMatch(r -> r.getText().contains("shop.example.com") && r.getText().contains("ui:ops")));
    assertThat(browser.findElements(By.cssSelector("#audit tr[data-action='adopt']"))).isNotEmpty();

    // a private address: the API's message, shown as it is; nothing added
    tab("entries");
    int before = server.entries().size();
    browser.findElement(By.id("add-value")).sendKeys("10.0.0.1");
    browser.findElement(By.id("add-submit")).click();
    awaitTrue("the validation message", d -> d.findElement(By.id("add-error")).getText()
        .equals("10.0.0.1: private address space (10.0.0.0/8) is not allowed"));
    assertThat(server.entries()).hasSize(before);
    assertThat(browser.findElements(By.cssSelector("#entries tr[data-value='10.0.0.1']"))).isEmpty();

    // the page ran under default-src 'self' without a single violation
    List<String> violations = browser.manage().logs().get(LogType.BROWSER).getAll().stream()
        .map(LogEntry::getMessage).filter(m -> m.contains("Content Security Policy")).toList();
    assertThat(violations).isEmpty();
  }

  @Test
  void aPostWithTheSessionCookieButWithoutTheCsrfHeaderIsRefused() throws Exception {
    signIn();
    JavascriptExecutor js = browser;
    // the browser itself, same origin, cookie attached: without the header the server refuses
    Object refused = js.executeAsyncScript("const done = arguments[arguments.length - 1];"
        + "fetch('/api/v1/entries', {method: 'POST', credentials: 'same-origin',"
        + " headers: {'Content-Type': 'application/json'}, body: JSON.stringify({value: '198.18.0.77'})})"
        + ".then(r => r.text().then(t => done(r.status + ' ' + t)), e => done('error ' + e));");
    assertThat(String.valueOf(refused)).startsWith("403 ").contains("X-CSRF-Token");
    assertThat(server.entries()).noneMatch(e -> e.value().equals("198.18.0.77"));

    // the same cookies replayed by another client: refused without the header, accepted with it
    Map<String, String> cookies = browser.manage().getCookies().stream()
        .collect(Collectors.toMap(org.openqa.selenium.Cookie::getName, org.openqa.selenium.Cookie::getValue));
    assertThat(cookies).containsKeys("conduit_session", "conduit_csrf");
    assertThat(browser.manage().getCookieNamed("conduit_session").isHttpOnly()).isTrue();
    String cookieHeader = "conduit_session=" + cookies.get("conduit_session") + "; conduit_csrf="
        + cookies.get("conduit_csrf");
    HttpClient http = HttpClient.newHttpClient();
    HttpResponse<String> noHeader = http.send(HttpRequest.newBuilder(URI.create(base + "/api/v1/entries"))
        .header("Cookie", cookieHeader).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString("{\"value\":\"198.18.0.78\"}")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(noHeader.statusCode()).isEqualTo(403);
    HttpResponse<String> withHeader = http.send(HttpRequest.newBuilder(URI.create(base + "/api/v1/entries"))
        .header("Cookie", cookieHeader).header("Content-Type", "application/json")
        .header("X-CSRF-Token", cookies.get("conduit_csrf"))
        .POST(HttpRequest.BodyPublishers.ofString("{\"value\":\"198.18.0.78\"}")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(withHeader.statusCode()).as(withHeader.body()).isEqualTo(201);

    // the page itself: its CSP and framing headers
    HttpResponse<String> page = http.send(HttpRequest.newBuilder(URI.create(base + "/ui/")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(page.headers().firstValue("Content-Security-Policy")).contains("default-src 'self'");
    assertThat(page.headers().firstValue("X-Frame-Options")).contains("DENY");
    assertThat(page.body()).doesNotContain("<script>").doesNotContain("style=");
  }
}
