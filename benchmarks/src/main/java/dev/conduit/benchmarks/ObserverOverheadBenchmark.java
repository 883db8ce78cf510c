package dev.conduit.benchmarks;

import dev.conduit.core.ConnectRequest;
import dev.conduit.core.ConnectionInfo;
import dev.conduit.core.DialException;
import dev.conduit.core.DialFailure;
import dev.conduit.core.Destination;
import dev.conduit.core.observe.AccessLog;
import dev.conduit.core.observe.ConnectionObserver;
import dev.conduit.core.observe.ConnectionSummary;
import dev.conduit.core.observe.MicrometerObserver;
import dev.conduit.core.observe.Outcome;
import dev.conduit.core.route.RouteDecision;
import dev.conduit.core.route.Router;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * Observer cost per connection in ns: the callbacks one tunnel triggers (accepted, routed,
 * dialStarted, dialSucceeded, closed; every 16th connection's dial fails instead), with no observer,
 * with {@link MicrometerObserver} on a Prometheus registry (what the CLI uses), with the access log
 * to a no-op consumer in JSON and logfmt, and with metrics and the JSON access log together. Two
 * threads, as two event loops would. Compare with the per-connection cost of a real tunnel (tens of
 * microseconds of syscalls at least) to judge the overhead.
 *
 * <pre>{@code java -cp <benchmarks class path> org.openjdk.jmh.Main ObserverOverhead}</pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
@Threads(2)
public class ObserverOverheadBenchmark {

  @Param({"none", "micrometer", "accesslog-json", "accesslog-logfmt", "micrometer+accesslog"})
  public String observer;

  private ConnectionObserver target;
  private PrometheusMeterRegistry registry;
  private MicrometerObserver metrics;
  private ConnectionInfo info;
  private ConnectRequest request;
  private Router.Match match;
  private InetSocketAddress remote;
  private ConnectionSummary okSummary;
  private ConnectionSummary failedSummary;
  private DialException refused;

  /** Builds the observer and one connection's events. */
  @Setup(Level.Trial)
  public void setUp() {
    registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    metrics = MicrometerObserver.of(registry);
    AccessLog json = AccessLog.builder().sink(line -> { }).build();
    AccessLog logfmt = AccessLog.builder().format(AccessLog.Format.LOGFMT).sink(line -> { }).build();
    target = switch (observer) {
      case "none" -> ConnectionObserver.NONE;
      case "micrometer" -> metrics;
      case "accesslog-json" -> json;
      case "accesslog-logfmt" -> logfmt;
      case "micrometer+accesslog" -> ConnectionObserver.composite(List.of(metrics, json));
      default -> throw new IllegalArgumentException("observer: " + observer);
    };
    info = new ConnectionInfo("1a2b", "socks", "socks", new InetSocketAddress("192.0.2.10", 50123),
        new InetSocketAddress("192.0.2.1", 1080), Instant.now());
    request = ConnectRequest.of(info, Destination.of("example.com", 443));
    match = new Router.Match("corp", RouteDecision.via("upstream"));
    remote = new InetSocketAddress("198.18.0.5", 3128);
    okSummary = new ConnectionSummary(info, Optional.of("alice"), Optional.of(request.destination()),
        Optional.of("corp"), Optional.of("upstream"), Optional.of(remote), 2_345, 123_456, 1,
        Duration.ofNanos(412_000), Duration.ofNanos(1_800_000), Duration.ofMillis(950), Outcome.OK, "");
    refused = new DialException(DialFailure.CONNECTION_REFUSED, "connect refused");
    failedSummary = new ConnectionSummary(info, Optional.empty(), Optional.of(request.destination()),
        Optional.of("corp"), Optional.empty(), Optional.empty(), 30, 12, 1, Duration.ofNanos(300_000),
        Duration.ofNanos(700_000), Duration.ofMillis(2), Outcome.DIAL_FAILED, "connect refused");
  }

  /** Removes the meters. */
  @TearDown(Level.Trial)
  public void tearDown() {
    metrics.close();
    registry.close();
  }

  /** Per-thread connection counter, to mix in failures. */
  @State(Scope.Thread)
  public static class Counter {
    int n;
  }

  /** One connection's callbacks. */
  @Benchmark
  public void connection(Counter c, Blackhole bh) {
    ConnectionObserver o = target;
    o.accepted(info);
    o.routed(request, match);
    o.dialStarted(request, "upstream");
    if ((++c.n & 15) == 0) {
      o.dialFailed(request, "upstream", refused, Duration.ofNanos(700_000));
      o.closed(failedSummary);
    } else {
      o.dialSucceeded(request, "upstream", remote, Duration.ofNanos(1_800_000));
      o.closed(okSummary);
    }
    bh.consume(o);
  }
}
