package dev.conduit.netfilter;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.admin.AdminResponse;
import dev.conduit.core.admin.AdminServer;
import dev.conduit.core.runtime.Service;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Function;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link TransparentCapture} as a runtime {@link dev.conduit.core.runtime.Service}: installs the plan at
 * start (add it after the conduit whose listener it captures to, so the listener exists before traffic
 * is diverted, and the plan can name its bound port), removes the rules when the runtime drains (new
 * connections are no longer captured; established ones keep flowing), and mounts {@code GET /capture}
 * (the installed rules) on the admin endpoint.
 *
 * <pre>{@code
 * runtime.service(new ConduitService(conduit))
 *     .service(CaptureService.builder(() -> ForwardTableCapture.plan(entries, conduit.address("client")),
 *         NetfilterBackend.iptables(runner), runner).build());
 * }</pre>
 *
 * <p>A {@linkplain Builder#watcher watcher} (e.g. one that repairs drift of the installed rules) is started
 * after the install and closed before the removal.
 */
public final class CaptureService implements Service {
  private static final Logger log = LoggerFactory.getLogger(CaptureService.class);

  /** The admin path of the installed rules. */
  public static final String ADMIN_PATH = "/capture";

  private final String name;
  private final Supplier<CapturePlan> plan;
  private final NetfilterBackend backend;
  private final CommandRunner runner;
  private final Function<TransparentCapture, AutoCloseable> watcher;
  private final Function<CapturePlan, String> description;
  private volatile TransparentCapture capture;
  private AutoCloseable watch;

  private CaptureService(Builder b) {
    this.name = b.name;
    this.plan = b.plan;
    this.backend = b.backend;
    this.runner = b.runner;
    this.watcher = b.watcher;
    this.description = b.description;
  }

  /**
   * A builder.
   *
   * @param plan makes the plan at start (after the services before this one started)
   * @param backend installs it
   * @param runner runs the prerequisite probes (the runner the backend uses)
   * @return the builder
   */
  public static Builder builder(Supplier<CapturePlan> plan, NetfilterBackend backend, CommandRunner runner) {
    return new Builder(plan, backend, runner);
  }

  /** The installed capture, while it is. */
  public Optional<TransparentCapture> capture() {
    return Optional.ofNullable(capture);
  }

  @Override
  public String name() {
    return name;
  }

  /**
   * Checks the prerequisites and installs the plan (see {@link TransparentCapture#install}).
   *
   * @throws NetfilterException naming each unmet prerequisite and its fix, or the tool's refusal
   */
  @Override
  public synchronized void start() throws NetfilterException {
    CapturePlan p = requireNonNull(plan.get(), "plan");
    TransparentCapture installed = TransparentCapture.install(p, backend, runner);
    if (watcher != null) {
      try {
        watch = watcher.apply(installed);
      } catch (RuntimeException e) {
        installed.close();
        throw e;
      }
    }
    capture = installed;
    if (description != null) {
      log.info("capture: {} ({} rules, prefix {}, bypass mark {})", description.apply(p), backend.name(), p.prefix(),
          CapturePlan.hex(p.bypassMark()));
    }
  }

  /** Removes the rules: new connections are no longer captured, established ones keep flowing. */
  @Override
  public CompletionStage<Void> drain(Instant deadline) {
    remove();
    return CompletableFuture.completedFuture(null);
  }

  @Override
  public void mount(AdminServer.Builder admin) {
    admin.route(ADMIN_PATH, request -> {
      TransparentCapture c = capture;
      return c == null ? AdminResponse.text(404, "no capture installed\n") : AdminResponse.text(200, c.show());
    });
  }

  /** Removes the rules if a drain did not; a failure is logged. */
  @Override
  public void close() {
    remove();
  }

  private synchronized void remove() {
    if (watch != null) {
      try {
        watch.close();
      } catch (Exception e) {
        log.warn("capture watcher did not stop cleanly: {}", e.toString());
      }
      watch = null;
    }
    TransparentCapture c = capture;
    if (c == null) {
      return;
    }
    capture = null;
    try {
      c.close();
      log.info("capture rules removed");
    } catch (NetfilterException e) {
      log.warn("could not remove the capture rules {} (run 'conduit netfilter clear'): {}", c.plan().prefix(),
          e.getMessage());
    }
  }

  @Override
  public String toString() {
    return name;
  }

  /** Builds a {@link CaptureService}. */
  public static final class Builder {
    private final Supplier<CapturePlan> plan;
    private final NetfilterBackend backend;
    private final CommandRunner runner;
    private String name = "capture";
    private Function<TransparentCapture, AutoCloseable> watcher;
    private Function<CapturePlan, String> description;

    private Builder(Supplier<CapturePlan> plan, NetfilterBackend backend, CommandRunner runner) {
      this.plan = requireNonNull(plan, "plan");
      this.backend = requireNonNull(backend, "backend");
      this.runner = requireNonNull(runner, "runner");
    }

    /** The service's name (default {@code capture}). */
    public Builder name(String value) {
      this.name = requireNonNull(value, "name");
      return this;
    }

    /**
     * Starts a watcher of the installed rules after the install (e.g. drift repair) and closes what it
     * returns before the rules are removed.
     *
     * @param value starts the watcher for the installed capture
     * @return this
     */
    public Builder watcher(Function<TransparentCapture, AutoCloseable> value) {
      this.watcher = requireNonNull(value, "watcher");
      return this;
    }

    /** Logs {@code capture: <description>} once installed, e.g. what is redirected where. */
    public Builder description(Function<CapturePlan, String> value) {
      this.description = requireNonNull(value, "description");
      return this;
    }

    /** The service. */
    public CaptureService build() {
      return new CaptureService(this);
    }
  }
}
