package dev.conduit.core.runtime;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.admin.AdminResponse;
import dev.conduit.core.admin.AdminServer;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs a process's {@link Service services} as one: starts them in order and stops them in reverse,
 * hands each its new configuration section on {@link #reload}, drains them by one deadline, and serves
 * the admin endpoint that each service mounts its routes on. Every {@code conduit} command runs
 * through one; a JVM application hosting several roles uses it the same way:
 *
 * <pre>{@code
 * ConduitRuntime runtime = ConduitRuntime.builder()
 *     .service(new ConduitService(conduit))          // started first, stopped last
 *     .service(MitmService.of(cacheServer))
 *     .admin(AdminServer.builder().bind("127.0.0.1:9090"))
 *     .drainTimeout(Duration.ofSeconds(30))
 *     .build()
 *     .start();                                       // a failed start closes what had started
 * runtime.reload(newSections);                        // e.g. from a SIGHUP handler
 * runtime.stop();                                     // drain in reverse by the deadline, then close
 * }</pre>
 *
 * <p>Stopping has two phases: every service is asked to {@linkplain Service#drain drain} (in reverse
 * order, all against one deadline, {@linkplain Builder#drainTimeout drain timeout} after the stop began),
 * then every service is {@linkplain Service#close closed} in reverse order as soon as it drained or the
 * deadline passed. The admin endpoint stays up while the others drain, so {@code /readyz} tells.
 *
 * <p>A {@link RuntimeListener} hears each start, reload, drain and close (for metrics or logs).
 *
 * <p>Thread-safe: start, reload and stop are serialised.
 */
public final class ConduitRuntime implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ConduitRuntime.class);

  /** The admin path where the runtime reports its services and the last reload. */
  public static final String STATUS_PATH = "/runtime";

  /** The states of a runtime. */
  public enum State {
    /** Built, not started. */
    NEW,
    /** Starting services. */
    STARTING,
    /** Every service started. */
    RUNNING,
    /** Draining and closing. */
    STOPPING,
    /** Stopped, or its start failed. */
    STOPPED
  }

  private final List<Service> services;
  private final Clock clock;
  private final Duration drainTimeout;
  private final AdminService admin;
  private final RuntimeListener listener;
  private final List<Service> started = new ArrayList<>();
  private volatile State state = State.NEW;
  private volatile ConfigSections sections;
  private volatile ReloadReport lastReload;

  private ConduitRuntime(Builder b) {
    this.clock = b.clock;
    this.drainTimeout = b.drainTimeout;
    this.sections = b.sections;
    this.listener = b.listener;
    List<Service> all = new ArrayList<>(b.services);
    this.admin = b.admin == null ? null : new AdminService(b.admin);
    if (admin != null) {
      all.add(admin);
    }
    this.services = List.copyOf(all);
  }

  /** A builder. */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Starts every service in order. When one fails, the ones started before it are closed in reverse
   * order and the runtime is stopped.
   *
   * @return this
   * @throws ServiceStartException naming the service that failed, with its error as the cause
   */
  public synchronized ConduitRuntime start() throws ServiceStartException {
    if (state != State.NEW) {
      throw new IllegalStateException("start: runtime is " + state + " (expected: NEW)");
    }
    state(State.STARTING);
    for (Service s : services) {
      try {
        log.debug("starting {}", s.name());
        s.start();
      } catch (Exception e) {
        log.debug("{} failed to start: {}; closing the {} started before it", s.name(), e.toString(), started.size());
        notify(l -> l.startFailed(s, e));
        closeStarted();
        state(State.STOPPED);
        throw new ServiceStartException(s.name(), e);
      }
      started.add(s);
      notify(l -> l.started(s));
    }
    state(State.RUNNING);
    return this;
  }

  /**
   * Hands every service the new configuration, in start order (what SIGHUP does). A service that
   * fails keeps its running section, is reported, and does not keep the others from reloading.
   *
   * @param next the new configuration
   * @return what each service made of it
   * @throws IllegalStateException when the runtime is not running
   */
  public synchronized ReloadReport reload(ConfigSections next) {
    requireNonNull(next, "next");
    if (state != State.RUNNING) {
      throw new IllegalStateException("reload: runtime is " + state + " (expected: RUNNING)");
    }
    Map<String, ReloadOutcome> outcomes = new LinkedHashMap<>();
    Map<String, String> failures = new LinkedHashMap<>();
    for (Service s : started) {
      try {
        ReloadOutcome o = requireNonNull(s.reload(next), "reload outcome of " + s.name());
        outcomes.put(s.name(), o);
        notify(l -> l.reloaded(s, o));
        if (o.kind() == ReloadOutcome.Kind.RESTART_NEEDED) {
          log.warn("reload: {}: {} changed: restart needed (the running settings stay)", s.name(), o.detail());
        } else if (o.kind() == ReloadOutcome.Kind.APPLIED) {
          log.info("{} reloaded: {}", s.name(), o.detail());
        }
      } catch (Exception e) {
        String message = oneLine(e);
        failures.put(s.name(), message);
        notify(l -> l.reloadFailed(s, e));
        log.error("reload: {} failed, keeping its running configuration: {}", s.name(), message);
      }
    }
    sections = next;
    ReloadReport report = new ReloadReport(outcomes, failures);
    lastReload = report;
    return report;
  }

  /**
   * Stops: drains every service in reverse order by one deadline, then closes each in reverse order.
   * Idempotent; a stop of a runtime that never started only marks it stopped.
   *
   * @return whether every service drained by the deadline
   */
  public synchronized boolean stop() {
    if (state == State.STOPPED || state == State.STOPPING) {
      return true;
    }
    if (state == State.NEW) {
      state(State.STOPPED);
      return true;
    }
    state(State.STOPPING);
    Instant deadline = clock.instant().plus(drainTimeout);
    List<Service> reverse = new ArrayList<>(started);
    java.util.Collections.reverse(reverse);
    List<CompletableFuture<Void>> drains = new ArrayList<>();
    for (Service s : reverse) {
      CompletableFuture<Void> f;
      try {
        f = s.drain(deadline).toCompletableFuture();
      } catch (RuntimeException e) {
        log.warn("{} failed to drain: {}", s.name(), oneLine(e));
        f = CompletableFuture.completedFuture(null);
      }
      drains.add(f);
    }
    boolean drained = true;
    for (int i = 0; i < reverse.size(); i++) {
      Service s = reverse.get(i);
      boolean inTime = await(s, drains.get(i), deadline);
      notify(l -> l.drained(s, inTime));
      drained &= inTime;
      close(s);
    }
    started.clear();
    state(State.STOPPED);
    return drained;
  }

  /** {@link #stop()}. */
  @Override
  public void close() {
    stop();
  }

  /** The state. */
  public State state() {
    return state;
  }

  /** The services, in start order (the admin endpoint's last, when there is one). */
  public List<Service> services() {
    return services;
  }

  /** The first service of this type, in start order. */
  public <S extends Service> Optional<S> service(Class<S> type) {
    return services.stream().filter(type::isInstance).map(type::cast).findFirst();
  }

  /** The admin endpoint, once started, when the runtime has one. */
  public Optional<AdminServer> admin() {
    return admin == null ? Optional.empty() : Optional.ofNullable(admin.server);
  }

  /** The configuration given at build or by the last reload. */
  public ConfigSections sections() {
    return sections;
  }

  /** The last reload's report, if there was one. */
  public Optional<ReloadReport> lastReload() {
    return Optional.ofNullable(lastReload);
  }

  /** How long the services may drain at stop. */
  public Duration drainTimeout() {
    return drainTimeout;
  }

  @Override
  public String toString() {
    return "ConduitRuntime[" + state + ", " + services.stream().map(Service::name).toList() + "]";
  }

  private boolean await(Service s, CompletableFuture<Void> drain, Instant deadline) {
    if (drain.isDone()) {
      return !drain.isCompletedExceptionally() || logFailed(s, drain);
    }
    Duration remaining = Duration.between(clock.instant(), deadline);
    if (remaining.isNegative() || remaining.isZero()) {
      log.warn("{} did not drain by the deadline: closing it", s.name());
      return false;
    }
    try {
      drain.get(remaining.toNanos(), TimeUnit.NANOSECONDS);
      return true;
    } catch (TimeoutException e) {
      log.warn("{} did not drain within {} ms: closing it", s.name(), drainTimeout.toMillis());
      return false;
    } catch (ExecutionException e) {
      return logFailed(s, drain);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  private static boolean logFailed(Service s, CompletableFuture<Void> drain) {
    try {
      drain.join();
    } catch (RuntimeException e) {
      log.warn("{} failed to drain: {}", s.name(), oneLine(e.getCause() == null ? e : e.getCause()));
    }
    return false;
  }

  private void closeStarted() {
    for (int i = started.size() - 1; i >= 0; i--) {
      close(started.get(i));
    }
    started.clear();
  }

  private void close(Service s) {
    try {
      s.close();
    } catch (Exception | Error e) {
      log.warn("{} did not close cleanly: {}", s.name(), oneLine(e));
    }
    notify(l -> l.closed(s));
  }

  private void state(State next) {
    state = next;
    notify(l -> l.stateChanged(next));
  }

  private void notify(java.util.function.Consumer<RuntimeListener> event) {
    try {
      event.accept(listener);
    } catch (RuntimeException e) {
      log.warn("runtime listener failed: {}", oneLine(e));
    }
  }

  static String oneLine(Throwable e) {
    String m = e.getMessage() == null ? e.toString() : e.getMessage();
    return m.strip().replaceAll("\\s*\\R\\s*", "; ");
  }

  /** The admin endpoint as the last service: the others mount their routes on it as it starts. */
  private final class AdminService implements Service {
    private final AdminServer.Builder builder;
    private volatile AdminServer server;

    AdminService(AdminServer.Builder builder) {
      this.builder = builder;
    }

    @Override
    public String name() {
      return "admin";
    }

    @Override
    public void start() throws Exception {
      for (Service s : started) {
        s.mount(builder);
      }
      builder.route(STATUS_PATH, request -> AdminResponse.json(200, statusJson()));
      server = builder.build().start();
    }

    @Override
    public void close() {
      AdminServer s = server;
      if (s != null) {
        s.close();
      }
    }
  }

  private String statusJson() {
    StringBuilder sb = new StringBuilder("{\"state\":\"").append(state.name().toLowerCase(java.util.Locale.ROOT))
        .append("\",\"services\":[");
    for (int i = 0; i < services.size(); i++) {
      sb.append(i == 0 ? "" : ",").append('"').append(Json.escape(services.get(i).name())).append('"');
    }
    sb.append("],\"drain_timeout_ms\":").append(drainTimeout.toMillis());
    ReloadReport r = lastReload;
    if (r != null) {
      sb.append(",\"last_reload\":{");
      int n = 0;
      for (Map.Entry<String, ReloadOutcome> e : r.outcomes().entrySet()) {
        sb.append(n++ == 0 ? "" : ",").append('"').append(Json.escape(e.getKey())).append("\":\"")
            .append(Json.escape(e.getValue().toString())).append('"');
      }
      for (Map.Entry<String, String> e : r.failures().entrySet()) {
        sb.append(n++ == 0 ? "" : ",").append('"').append(Json.escape(e.getKey())).append("\":\"failed: ")
            .append(Json.escape(e.getValue())).append('"');
      }
      sb.append('}');
    }
    return sb.append("}\n").toString();
  }

  /** Builds a {@link ConduitRuntime}. */
  public static final class Builder {
    private final List<Service> services = new ArrayList<>();
    private AdminServer.Builder admin;
    private Duration drainTimeout = Duration.ofSeconds(30);
    private Clock clock = Clock.systemUTC();
    private ConfigSections sections = ConfigSections.empty();
    private RuntimeListener listener = RuntimeListener.NONE;

    private Builder() {}

    /** Hears the runtime's events (default: {@link RuntimeListener#NONE}). */
    public Builder listener(RuntimeListener value) {
      this.listener = requireNonNull(value, "listener");
      return this;
    }

    /**
     * Adds a service: started after the ones added before it, drained and closed before them.
     *
     * @param service the service; its name must be unique in this runtime
     * @return this
     */
    public Builder service(Service service) {
      requireNonNull(service, "service");
      for (Service s : services) {
        if (s.name().equals(service.name())) {
          throw new IllegalArgumentException("service: " + service.name() + " added twice (expected: unique names)");
        }
      }
      services.add(service);
      return this;
    }

    /**
     * Serves the admin endpoint, started after every service (which {@linkplain Service#mount mount}
     * their parts on it) and stopped first. The runtime mounts {@value #STATUS_PATH} itself.
     *
     * @param value the endpoint's builder (address, token, ...)
     * @return this
     */
    public Builder admin(AdminServer.Builder value) {
      this.admin = requireNonNull(value, "admin");
      return this;
    }

    /** How long the services may drain at stop, all together (default: 30 s). */
    public Builder drainTimeout(Duration value) {
      requireNonNull(value, "drainTimeout");
      if (value.isNegative()) {
        throw new IllegalArgumentException("drainTimeout: " + value + " (expected: 0 or more)");
      }
      this.drainTimeout = value;
      return this;
    }

    /** The clock of the drain deadline (default: the system's; tests pass their own). */
    public Builder clock(Clock value) {
      this.clock = requireNonNull(value, "clock");
      return this;
    }

    /** The configuration the services start with, as {@link #sections()} reports it (default: none). */
    public Builder sections(ConfigSections value) {
      this.sections = requireNonNull(value, "sections");
      return this;
    }

    /** The runtime, not started. */
    public ConduitRuntime build() {
      if (admin != null && services.stream().anyMatch(s -> s.name().equals("admin"))) {
        throw new IllegalArgumentException("service: admin is the runtime's admin endpoint (expected: another name)");
      }
      return new ConduitRuntime(this);
    }
  }
}
