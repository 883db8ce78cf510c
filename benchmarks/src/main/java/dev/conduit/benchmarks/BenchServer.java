package dev.conduit.benchmarks;

import dev.conduit.core.Conduit;
import dev.conduit.core.ConduitBuilder;
import dev.conduit.core.ConduitResources;
import dev.conduit.core.Listener;
import dev.conduit.core.Timeouts;
import dev.conduit.core.overload.OverloadPolicy;
import dev.conduit.core.inbound.InboundProtocol;
import dev.conduit.core.inbound.InboundProtocols;
import dev.conduit.core.inbound.OriginalDestinationResolver;
import dev.conduit.core.tunnel.ForwardEntry;
import dev.conduit.core.tunnel.Tunnel;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;

/**
 * The conduit that the end-to-end harness ({@code benchmarks/e2e/run.sh}) measures: an embedded
 * {@link Conduit} with an HTTP, a SOCKS5 and a mixed listener on 127.0.0.1, everything routed
 * direct. It does not use the CLI, so it measures the library alone.
 *
 * <pre>
 * java -cp benchmarks/target/benchmarks.jar dev.conduit.benchmarks.BenchServer \
 *     [--http PORT] [--socks PORT] [--mixed PORT] [--forward PORT=HOST:PORT] [--io-threads N] [--splice on|off]
 *     [--overload on|off]
 * </pre>
 * {@code --splice on} relays tunnels with {@code splice(2)} (see {@code ConduitBuilder.splice}).
 * {@code --overload off} runs without the overload manager (its default budgets otherwise), to measure what it costs.
 * A port of 0 picks a free port; a listener whose option is absent is not started. Prints one line
 * {@code ready http=P socks=P mixed=P} when every listener is bound, then runs until it is
 * signalled (SIGTERM/SIGINT), when it stops with a one-second drain.
 */
public final class BenchServer {
  private BenchServer() {}

  /**
   * Starts the listeners and waits for a signal.
   *
   * @param args see the class documentation
   */
  public static void main(String[] args) throws Exception {
    List<Listener> listeners = new ArrayList<>();
    int ioThreads = 0;
    boolean splice = false;
    boolean overload = true;
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (i + 1 >= args.length) {
        usage("missing value after " + a);
      }
      String v = args[++i];
      switch (a) {
        case "--http" -> listeners.add(listener("http", v, InboundProtocols.http()));
        case "--socks" -> listeners.add(listener("socks", v, InboundProtocols.socks()));
        case "--mixed" -> listeners.add(listener("mixed", v, InboundProtocols.mixed()));
        case "--forward" -> listeners.add(forward(v));
        case "--io-threads" -> ioThreads = Integer.parseInt(v);
        case "--splice" -> splice = switch (v) {
          case "on" -> true;
          case "off" -> false;
          default -> {
            usage("--splice: " + v + " (expected: on or off)");
            yield false;
          }
        };
        case "--overload" -> overload = switch (v) {
          case "on" -> true;
          case "off" -> false;
          default -> {
            usage("--overload: " + v + " (expected: on or off)");
            yield true;
          }
        };
        default -> usage("unknown option " + a);
      }
    }
    if (listeners.isEmpty()) {
      usage("no listener");
    }
    ConduitBuilder b = Conduit.builder()
        .resources(ConduitResources.builder().ioThreads(ioThreads).build())
        .timeouts(Timeouts.builder().drain(Duration.ofSeconds(1)).build())
        .splice(splice)
        .overload(overload ? OverloadPolicy.defaults() : OverloadPolicy.disabled());
    listeners.forEach(b::listener);
    Conduit conduit = b.build().start();
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      conduit.close();
      conduit.resources().close();
      stopped.countDown();
    }, "bench-server-stop"));
    StringBuilder ready = new StringBuilder("ready");
    for (Listener l : listeners) {
      ready.append(' ').append(l.name()).append('=').append(conduit.address(l.name()).getPort());
    }
    ready.append(" native=").append(conduit.resources().isNativeTransport()).append(" splice=").append(splice);
    System.out.println(ready);
    System.out.flush();
    stopped.await();
  }

  private static Listener listener(String name, String port, InboundProtocol protocol) {
    int p = Integer.parseInt(port);
    if (p < 0 || p > 65535) {
      usage("port: " + p + " (expected: 0-65535)");
    }
    return Listener.builder(name).bind(new InetSocketAddress("127.0.0.1", p)).protocol(protocol)
        .allowSource("127.0.0.0/8").build();
  }

  /**
   * A fixed-destination TCP forward ({@code PORT=HOST:PORT}), the same job as HAProxy's {@code mode tcp}
   * relay: seed 000's forward-table listener without a tunnel, routed direct.
   */
  private static Listener forward(String spec) {
    int eq = spec.indexOf('=');
    if (eq < 0) {
      usage("--forward: " + spec + " (expected: PORT=HOST:PORT)");
    }
    String port = spec.substring(0, eq);
    ForwardEntry entry = ForwardEntry.parse(":" + port, spec.substring(eq + 1));
    return listener("forward-" + port, port, Tunnel.forwardProtocol(List.of(entry), OriginalDestinationResolver.NONE));
  }

  private static void usage(String problem) {
    System.err.println("BenchServer: " + problem);
    System.err.println("usage: BenchServer [--http PORT] [--socks PORT] [--mixed PORT] [--forward PORT=HOST:PORT] [--io-threads N] [--splice on|off] [--overload on|off]");
    System.exit(2);
  }
}
