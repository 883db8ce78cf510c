package dev.conduit.junit5;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.Conduit;
import dev.conduit.core.ConduitBuilder;
import dev.conduit.core.Listener;
import dev.conduit.core.inbound.InboundProtocols;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.ProxySelector;
import java.util.function.Consumer;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A conduit proxy for tests: HTTP and SOCKS5 on one free loopback port, with a {@link RecordingObserver}.
 * Registered on a static field it runs once for the test class; on an instance field, once per test.
 *
 * <pre>{@code
 * @RegisterExtension
 * static final ConduitExtension proxy = ConduitExtension.create();
 *
 * @Test
 * void goesThroughTheProxy() throws Exception {
 *   HttpClient client = HttpClient.newBuilder().proxy(proxy.proxySelector()).build();
 *   client.send(HttpRequest.newBuilder(uri).build(), BodyHandlers.ofString());
 *   ConnectionSummary s = proxy.recorder().awaitClosed(c -> c.destination().isPresent(), Duration.ofSeconds(10));
 * }
 * }</pre>
 *
 * <p>{@link #configure} adds to the proxy before it starts (rules, outbounds, more listeners, observers).
 */
public final class ConduitExtension implements BeforeAllCallback, AfterAllCallback, BeforeEachCallback,
    AfterEachCallback {

  /** The name of the extension's mixed listener. */
  public static final String LISTENER = "proxy";

  private final Consumer<ConduitBuilder> configuration;
  private final RecordingObserver recorder = new RecordingObserver();
  private Conduit conduit;
  private boolean perClass;

  private ConduitExtension(Consumer<ConduitBuilder> configuration) {
    this.configuration = configuration;
  }

  /** A proxy that sends everything direct. */
  public static ConduitExtension create() {
    return new ConduitExtension(b -> {});
  }

  /**
   * A proxy configured further before it starts.
   *
   * @param configuration adds rules, outbounds, listeners or observers to the builder
   * @return the extension
   */
  public static ConduitExtension configure(Consumer<ConduitBuilder> configuration) {
    return new ConduitExtension(requireNonNull(configuration, "configuration"));
  }

  @Override
  public void beforeAll(ExtensionContext context) {
    perClass = true;
    start();
  }

  @Override
  public void afterAll(ExtensionContext context) {
    stop();
  }

  @Override
  public void beforeEach(ExtensionContext context) {
    if (!perClass) {
      start();
    }
  }

  @Override
  public void afterEach(ExtensionContext context) {
    if (!perClass) {
      stop();
    }
  }

  private void start() {
    ConduitBuilder b = Conduit.builder()
        .listener(Listener.builder(LISTENER).bind("127.0.0.1:0").protocol(InboundProtocols.mixed()).build())
        .observer(recorder);
    configuration.accept(b);
    try {
      conduit = b.build().start();
    } catch (IOException e) {
      throw new UncheckedIOException("conduit did not start", e);
    }
  }

  private void stop() {
    if (conduit != null) {
      conduit.close();
      conduit = null;
    }
    recorder.clear();
  }

  /** The running proxy. */
  public Conduit conduit() {
    if (conduit == null) {
      throw new IllegalStateException("the proxy runs only during the tests (expected: @RegisterExtension)");
    }
    return conduit;
  }

  /** The address of the proxy's listener: HTTP and SOCKS5. */
  public InetSocketAddress address() {
    return conduit().address(LISTENER);
  }

  /** A selector that sends everything to the proxy, for {@code HttpClient.Builder.proxy}. */
  public ProxySelector proxySelector() {
    return ProxySelector.of(address());
  }

  /** {@code http://127.0.0.1:PORT}, e.g. for curl's {@code -x} or {@code HTTP_PROXY}. */
  public String httpProxyUrl() {
    return "http://" + address().getAddress().getHostAddress() + ":" + address().getPort();
  }

  /** What went through the proxy. */
  public RecordingObserver recorder() {
    return recorder;
  }
}
