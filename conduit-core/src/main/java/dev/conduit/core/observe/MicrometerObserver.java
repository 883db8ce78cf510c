package dev.conduit.core.observe;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.ConduitResources;
import dev.conduit.core.ConnectRequest;
import dev.conduit.core.ConnectionInfo;
import dev.conduit.core.DialException;
import dev.conduit.core.DialFailure;
import dev.conduit.core.route.Router;
import io.micrometer.core.instrument.Counter;
import dev.conduit.core.overload.OverloadStatus;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.BaseUnits;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.SingleThreadEventExecutor;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Queue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.BooleanSupplier;

/**
 * A {@link ConnectionObserver} that records conduit's meters ({@link MeterNames}) in a Micrometer
 * {@link MeterRegistry} the embedder owns.
 *
 * <p>Micrometer is an optional dependency of conduit-core: only this class uses it, so a conduit
 * without a {@code MicrometerObserver} neither needs Micrometer on its class path nor spends
 * anything on metrics.
 *
 * <pre>{@code
 * PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
 * MicrometerObserver metrics = MicrometerObserver.builder(registry).resources(resources).build();
 * Conduit conduit = Conduit.builder().resources(resources).observer(metrics)...build().start();
 * }</pre>
 *
 * <p>Meters are created on first use and cached, so a callback costs a map lookup and a few atomic
 * increments. Bytes are counted when a connection closes. {@link #close()} removes this observer's
 * meters from the registry.
 */
public final class MicrometerObserver implements ConnectionObserver, AutoCloseable {

  /** The dial-duration histogram's bucket bounds. */
  public static final List<Duration> DIAL_BUCKETS = List.of(
      Duration.ofMillis(1), Duration.ofMillis(5), Duration.ofMillis(10), Duration.ofMillis(25),
      Duration.ofMillis(50), Duration.ofMillis(100), Duration.ofMillis(250), Duration.ofMillis(500),
      Duration.ofSeconds(1), Duration.ofMillis(2500), Duration.ofSeconds(5), Duration.ofSeconds(10),
      Duration.ofSeconds(30));

  private static final String NONE = "none";
  private static final Outcome[] OUTCOMES = Outcome.values();
  private static final String[] OUTCOME_TAGS = lowerNames(OUTCOMES);
  private static final DialFailure[] FAILURES = DialFailure.values();
  private static final String[] FAILURE_TAGS = lowerNames(FAILURES);

  private final MeterRegistry registry;
  private final Queue<Meter> meters = new ConcurrentLinkedQueue<>();
  private final ConcurrentHashMap<String, ListenerMeters> listeners = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, ListenerMeters> detected = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, OutboundMeters> outbounds = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, Counter> rules = new ConcurrentHashMap<>();
  private final IpTraffic clientIps;
  private final IpTraffic destinationIps;
  private final AtomicBoolean loopsGauged = new AtomicBoolean();
  private final AtomicBoolean drainingGauged = new AtomicBoolean();

  private MicrometerObserver(Builder b) {
    this.registry = b.registry;
    if (b.resources != null) {
      gaugeEventLoops(b.resources);
    }
    if (b.draining != null) {
      gaugeDraining(b.draining);
    }
    this.clientIps = b.perIpLimit > 0 ? new IpTraffic(MeterNames.CLIENT_IP_TRAFFIC, b.perIpLimit) : null;
    this.destinationIps = b.perIpLimit > 0 ? new IpTraffic(MeterNames.DESTINATION_IP_TRAFFIC, b.perIpLimit) : null;
  }

  /**
   * Gauges the started conduit's event loops and draining state, unless the builder was given them:
   * so {@link #of(MeterRegistry)} alone records {@link MeterNames#EVENT_LOOP_PENDING_TASKS} and
   * {@link MeterNames#DRAINING}. With several conduits, the first one's are gauged.
   */
  @Override
  public void conduitStarted(ConduitResources resources, BooleanSupplier draining) {
    gaugeEventLoops(resources);
    gaugeDraining(draining);
  }

  private void gaugeEventLoops(ConduitResources resources) {
    if (!loopsGauged.compareAndSet(false, true)) {
      return;
    }
    int i = 0;
    for (EventExecutor e : resources.eventLoopGroup()) {
      if (e instanceof SingleThreadEventExecutor loop) {
        meters.add(Gauge.builder(MeterNames.EVENT_LOOP_PENDING_TASKS, loop, SingleThreadEventExecutor::pendingTasks)
            .description("Tasks queued on an event loop")
            .tag("loop", Integer.toString(i))
            .register(registry));
      }
      i++;
    }
  }

  private void gaugeDraining(BooleanSupplier draining) {
    if (drainingGauged.compareAndSet(false, true)) {
      meters.add(Gauge.builder(MeterNames.DRAINING, () -> draining.getAsBoolean() ? 1 : 0)
          .description("1 while conduit drains connections before stopping")
          .strongReference(true)
          .register(registry));
    }
  }

  /** A builder recording into {@code registry}. */
  public static Builder builder(MeterRegistry registry) {
    return new Builder(registry);
  }

  /**
   * An observer with the default settings: the started conduit's event-loop and draining gauges,
   * no per-IP meters.
   */
  public static MicrometerObserver of(MeterRegistry registry) {
    return builder(registry).build();
  }

  @Override
  public void accepted(ConnectionInfo connection) {
    ListenerMeters m = listener(connection);
    m.accepted.increment();
    m.active.incrementAndGet();
  }

  @Override
  public void routed(ConnectRequest request, Router.Match match) {
    Counter c = rules.get(match.rule());
    if (c == null) {
      c = rules.computeIfAbsent(match.rule(), r -> register(Counter.builder(MeterNames.RULE_MATCHES)
          .description("Routing decisions by rule")
          .tag("rule", r)
          .register(registry)));
    }
    c.increment();
  }

  @Override
  public void dialSucceeded(ConnectRequest request, String outbound, InetSocketAddress remote, Duration elapsed) {
    outbound(outbound).dialOk.record(elapsed.toNanos(), TimeUnit.NANOSECONDS);
  }

  @Override
  public void dialFailed(ConnectRequest request, String outbound, DialException cause, Duration elapsed) {
    OutboundMeters m = outbound(outbound);
    m.dialFailed.record(elapsed.toNanos(), TimeUnit.NANOSECONDS);
    int i = cause.failure().ordinal();
    m.failures.get(i, () -> Counter.builder(MeterNames.DIAL_FAILURES)
        .description("Failed dials by outbound and reason")
        .tag("outbound", m.name)
        .tag("reason", FAILURE_TAGS[i])
        .register(registry)).increment();
  }

  @Override
  public void closed(ConnectionSummary s) {
    ListenerMeters own = listener(s.connection());
    own.active.decrementAndGet();
    ListenerMeters m = closing(s.connection(), own); // on a mixed listener: the detected protocol's
    int o = s.outcome().ordinal();
    m.closed.get(o, () -> m.counter(MeterNames.CONNECTIONS_CLOSED, "Connections closed by outcome", "outcome", OUTCOME_TAGS[o]))
        .increment();
    switch (s.outcome()) {
      case PROTOCOL_ERROR, AUTH_FAILED, NEGOTIATION_TIMEOUT -> m.handshake.get(o,
          () -> m.counter(MeterNames.HANDSHAKE_FAILURES, "Connections that failed before a usable request",
              "reason", OUTCOME_TAGS[o])).increment();
      case IDLE_TIMEOUT -> m.idleCloses.get(0, () -> register(Counter.builder(MeterNames.RELAY_IDLE_CLOSES)
          .description("Tunnels closed by the relay idle timeout")
          .tag("listener", m.listener)
          .register(registry))).increment();
      default -> { }
    }
    String outbound = s.outbound().orElse(NONE);
    Counter[] traffic = m.traffic.get(outbound);
    if (traffic == null) {
      traffic = m.traffic.computeIfAbsent(outbound, ob -> new Counter[] {
          bytes(MeterNames.TRAFFIC, "Bytes relayed, counted at close", "upload", "listener", m.listener, "outbound", ob),
          bytes(MeterNames.TRAFFIC, "Bytes relayed, counted at close", "download", "listener", m.listener,
              "outbound", ob)});
    }
    add(traffic, s.bytesFromClient(), s.bytesToClient());
    if (clientIps != null) {
      add(clientIps.counters(s.connection().client().getAddress()), s.bytesFromClient(), s.bytesToClient());
      if (s.dialed().isPresent()) {
        add(destinationIps.counters(s.dialed().get().getAddress()), s.bytesFromClient(), s.bytesToClient());
      }
    }
  }

  private static void add(Counter[] upDown, long up, long down) {
    if (up > 0) {
      upDown[0].increment(up);
    }
    if (down > 0) {
      upDown[1].increment(down);
    }
  }

  private volatile OverloadStatus overload;

  @Override
  public void overload(OverloadStatus status) {
    if (overload == null) {
      registerOverloadMeters();
    }
    overload = status;
  }

  private synchronized void registerOverloadMeters() {
    if (overload != null) {
      return;
    }
    overload = OverloadStatus.NONE;
    overloadGauge(MeterNames.OVERLOAD_LEVEL, "Overload level: 0 normal, 1 pressure, 2 refusing, 3 shedding",
        s -> s.level().ordinal());
    overloadGauge(MeterNames.OVERLOAD_MEMORY, "Memory counted against the overload budget", s -> s.memoryBytes());
    overloadGauge(MeterNames.OVERLOAD_MEMORY_BUDGET, "The overload memory budget", s -> s.memoryBudgetBytes());
    overloadGauge(MeterNames.OVERLOAD_BUFFERED, "Bytes in connections' outbound buffers", s -> s.bufferedBytes());
    overloadGauge(MeterNames.OVERLOAD_OPEN_FILES, "Open file descriptors", s -> s.openFiles());
    overloadGauge(MeterNames.OVERLOAD_FILE_BUDGET, "The file-descriptor budget", s -> s.fileBudget());
    overloadGauge(MeterNames.OVERLOAD_THROTTLED, "Connections held back now", s -> s.throttled());
    overloadCounter("throttle", s -> s.throttledTotal());
    overloadCounter("refuse", s -> s.refusedTotal());
    overloadCounter("shed", s -> s.shedTotal());
  }

  private void overloadGauge(String name, String description, java.util.function.ToDoubleFunction<OverloadStatus> f) {
    meters.add(Gauge.builder(name, this, o -> f.applyAsDouble(o.overload)).description(description)
        .strongReference(true).register(registry));
  }

  private void overloadCounter(String action, java.util.function.ToDoubleFunction<OverloadStatus> f) {
    meters.add(io.micrometer.core.instrument.FunctionCounter.builder(MeterNames.OVERLOAD_ACTIONS, this,
        o -> f.applyAsDouble(o.overload)).description("Overload actions taken").tag("action", action)
        .register(registry));
  }

  /** Removes this observer's meters from the registry. */
  @Override
  public void close() {
    Meter m;
    while ((m = meters.poll()) != null) {
      registry.remove(m);
    }
    listeners.clear();
    outbounds.clear();
    rules.clear();
  }

  @Override
  public String toString() {
    return "MicrometerObserver[" + registry.getClass().getSimpleName()
        + (clientIps != null ? ", per-IP traffic up to " + clientIps.limit + " IPs" : "") + "]";
  }

  private <M extends Meter> M register(M meter) {
    meters.add(meter);
    return meter;
  }

  private Counter bytes(String name, String description, String direction, String... tags) {
    return register(Counter.builder(name)
        .description(description)
        .baseUnit(BaseUnits.BYTES)
        .tags(tags)
        .tag("direction", direction)
        .register(registry));
  }

  private ListenerMeters listener(ConnectionInfo c) {
    ListenerMeters m = listeners.get(c.listener());
    if (m == null) {
      m = listeners.computeIfAbsent(c.listener(), l -> new ListenerMeters(l, c.protocol(), true));
    }
    return m;
  }

  /** A closed connection's meters: per detected protocol on a mixed listener (accepted, active: the listener's). */
  private ListenerMeters closing(ConnectionInfo c, ListenerMeters own) {
    return own.protocol.equals(c.protocol()) ? own : detected.computeIfAbsent(c.listener() + "\u0000" + c.protocol(),
        k -> new ListenerMeters(c.listener(), c.protocol(), false));
  }

  private OutboundMeters outbound(String name) {
    OutboundMeters m = outbounds.get(name);
    if (m == null) {
      m = outbounds.computeIfAbsent(name, OutboundMeters::new);
    }
    return m;
  }

  private static String[] lowerNames(Enum<?>[] values) {
    String[] out = new String[values.length];
    for (Enum<?> v : values) {
      out[v.ordinal()] = v.name().toLowerCase(Locale.ROOT);
    }
    return out;
  }

  /** Meters created on first use; racing creators get the same meter from the registry. */
  private static final class LazyMeters<M> {
    private final AtomicReferenceArray<M> array;

    LazyMeters(int size) {
      array = new AtomicReferenceArray<>(size);
    }

    M get(int i, java.util.function.Supplier<M> create) {
      M m = array.get(i);
      if (m == null) {
        m = create.get();
        array.set(i, m);
      }
      return m;
    }
  }

  private final class ListenerMeters {
    final String listener;
    final String protocol;
    final Counter accepted;
    final AtomicLong active = new AtomicLong();
    final LazyMeters<Counter> closed = new LazyMeters<>(OUTCOMES.length);
    final LazyMeters<Counter> handshake = new LazyMeters<>(OUTCOMES.length);
    final LazyMeters<Counter> idleCloses = new LazyMeters<>(1);
    final ConcurrentHashMap<String, Counter[]> traffic = new ConcurrentHashMap<>();

    /** {@code accepting}: whether to register the accepted counter and the active gauge (the listener's own). */
    ListenerMeters(String listener, String protocol, boolean accepting) {
      this.listener = listener;
      this.protocol = protocol;
      if (!accepting) {
        this.accepted = null;
        return;
      }
      this.accepted = register(Counter.builder(MeterNames.CONNECTIONS_ACCEPTED)
          .description("Connections accepted")
          .tag("listener", listener)
          .tag("protocol", protocol)
          .register(registry));
      register(Gauge.builder(MeterNames.CONNECTIONS_ACTIVE, active, AtomicLong::get)
          .description("Connections open now")
          .tag("listener", listener)
          .tag("protocol", protocol)
          .strongReference(true)
          .register(registry));
    }

    Counter counter(String name, String description, String key, String value) {
      return register(Counter.builder(name)
          .description(description)
          .tag("listener", listener)
          .tag("protocol", protocol)
          .tag(key, value)
          .register(registry));
    }
  }

  private final class OutboundMeters {
    final String name;
    final Timer dialOk;
    final Timer dialFailed;
    final LazyMeters<Counter> failures = new LazyMeters<>(FAILURES.length);

    OutboundMeters(String name) {
      this.name = name;
      this.dialOk = dialTimer(name, "ok");
      this.dialFailed = dialTimer(name, "failed");
    }

    private Timer dialTimer(String outbound, String result) {
      return register(Timer.builder(MeterNames.DIAL_DURATION)
          .description("Dial latency by outbound")
          .tag("outbound", outbound)
          .tag("result", result)
          .serviceLevelObjectives(DIAL_BUCKETS.toArray(Duration[]::new))
          .minimumExpectedValue(DIAL_BUCKETS.get(0))
          .maximumExpectedValue(DIAL_BUCKETS.get(DIAL_BUCKETS.size() - 1))
          .register(registry));
    }
  }

  /** Byte counters for the first {@code limit} distinct IPs, then one shared "other" pair. */
  private final class IpTraffic {
    final String name;
    final int limit;
    final ConcurrentHashMap<InetAddress, Counter[]> admitted = new ConcurrentHashMap<>();
    volatile Counter[] other;

    IpTraffic(String name, int limit) {
      this.name = name;
      this.limit = limit;
    }

    Counter[] counters(InetAddress ip) {
      if (ip == null) {
        return other();
      }
      Counter[] c = admitted.get(ip);
      if (c != null) {
        return c;
      }
      synchronized (this) {
        c = admitted.get(ip);
        if (c == null) {
          if (admitted.size() >= limit) {
            return other();
          }
          c = pair(ip.getHostAddress());
          admitted.put(ip, c);
        }
        return c;
      }
    }

    private Counter[] other() {
      Counter[] c = other;
      if (c == null) {
        c = pair(MeterNames.OTHER_IP);
        other = c;
      }
      return c;
    }

    private Counter[] pair(String ip) {
      String description = "Bytes by IP (first " + limit + " IPs, then ip=other), counted at close";
      return new Counter[] {bytes(name, description, "upload", "ip", ip), bytes(name, description, "download", "ip", ip)};
    }
  }

  /** Builds a {@link MicrometerObserver}. */
  public static final class Builder {
    private final MeterRegistry registry;
    private ConduitResources resources;
    private BooleanSupplier draining;
    private int perIpLimit;

    private Builder(MeterRegistry registry) {
      this.registry = requireNonNull(registry, "registry");
    }

    /** Also gauge each event loop's pending tasks ({@link MeterNames#EVENT_LOOP_PENDING_TASKS}). */
    public Builder resources(ConduitResources value) {
      this.resources = requireNonNull(value, "resources");
      return this;
    }

    /**
     * Also expose {@link MeterNames#DRAINING}, 1 while {@code value} is true; for a conduit,
     * {@code conduit::isStopping}.
     */
    public Builder draining(BooleanSupplier value) {
      this.draining = requireNonNull(value, "draining");
      return this;
    }

    /**
     * Opt-in per-IP byte counters ({@link MeterNames#CLIENT_IP_TRAFFIC},
     * {@link MeterNames#DESTINATION_IP_TRAFFIC}): the first {@code maxAddresses} distinct client IPs
     * and as many dialed IPs get their own series, the rest count under {@code ip="other"}. Series
     * stay until {@link #close()}, so the cap bounds memory and scrape size: at most
     * {@code 2 × 2 × (maxAddresses + 1)} series. 0 (the default) turns them off.
     */
    public Builder perIpTraffic(int maxAddresses) {
      if (maxAddresses < 0 || maxAddresses > 10_000) {
        throw new IllegalArgumentException("perIpTraffic: " + maxAddresses + " (expected: 0-10000)");
      }
      this.perIpLimit = maxAddresses;
      return this;
    }

    /** Builds the immutable {@code MicrometerObserver}. */
    public MicrometerObserver build() {
      return new MicrometerObserver(this);
    }
  }
}
