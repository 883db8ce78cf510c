package dev.conduit.netfilter;

import static java.util.Objects.requireNonNull;

import dev.conduit.netfilter.internal.DriftSections;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The installed rules of a {@link CapturePlan}, from {@link #install} to {@link #close}: checks the
 * {@link Prerequisites}, replaces whatever an earlier (crashed) conduit left under the same prefix,
 * applies the plan, and removes it again on {@link #close()} or, if the JVM exits first, from a
 * shutdown hook. Only {@code kill -9} leaves rules behind; the next install replaces them.
 *
 * <pre>{@code
 * Conduit conduit = ...start();                      // the listener exists before traffic is diverted
 * TransparentCapture capture = TransparentCapture.install(plan, NetfilterBackend.iptables(runner), runner);
 * ...
 * capture.close();                                   // established connections keep flowing
 * conduit.stop();
 * }</pre>
 *
 * <p>Blocking (runs iptables/nft/ip): never call it on an event loop.
 */
public final class TransparentCapture implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(TransparentCapture.class);

  private volatile CapturePlan plan;
  private final NetfilterBackend backend;
  private final Thread shutdownHook;
  private boolean closed;
  private String installed = "";
  private DriftRepair driftRepair;

  private TransparentCapture(CapturePlan plan, NetfilterBackend backend) {
    this.plan = plan;
    this.backend = backend;
    this.shutdownHook = new Thread(this::removeQuietly, "conduit-capture-cleanup-" + plan.prefix());
  }

  /**
   * Checks prerequisites, removes stale rules of the plan's prefix, installs the plan and registers
   * a shutdown hook that removes it.
   *
   * @param plan the plan
   * @param backend the backend that installs it
   * @param runner runs the prerequisite probes (the runner the backend uses)
   * @return the installed capture; close it to remove the rules
   * @throws NetfilterException when a prerequisite is not met (the message lists each problem and
   *     its fix) or a tool refuses; nothing of the plan stays installed then
   */
  public static TransparentCapture install(CapturePlan plan, NetfilterBackend backend, CommandRunner runner)
      throws NetfilterException {
    requireNonNull(plan, "plan");
    requireNonNull(backend, "backend");
    requireNonNull(runner, "runner");
    List<Prerequisites.Problem> problems = Prerequisites.check(plan, backend.name(), runner);
    if (!problems.isEmpty()) {
      throw new NetfilterException("cannot install capture " + plan.prefix() + " with " + backend.name() + ": "
          + problems.stream().map(Prerequisites.Problem::toString).collect(Collectors.joining("; ")));
    }
    TransparentCapture capture = new TransparentCapture(plan, backend);
    try {
      // apply() clears the prefix first, so leftovers of a kill -9 (another mode, other sets) go too
      backend.apply(plan);
      capture.installed = backend.show(plan.prefix());
    } catch (NetfilterException | RuntimeException e) {
      capture.removeQuietly();
      throw e;
    }
    Runtime.getRuntime().addShutdownHook(capture.shutdownHook);
    log.info("capture {} installed with {}: {}", plan.prefix(), backend.name(), plan);
    return capture;
  }

  /** Returns the installed plan. */
  public CapturePlan plan() {
    return plan;
  }

  /** Returns the backend that installed it. */
  public NetfilterBackend backend() {
    return backend;
  }

  /**
   * Starts checking every interval that the rules are still installed as conduit installed them,
   * and applying them again when they vanished or changed (see {@link DriftRepair}). At most one
   * repair runs per capture: a second call returns the running one.
   *
   * @param interval time between checks, e.g. 2 seconds
   * @param onRepair told what happened at each repair (e.g. to count it in a metric); runs on the
   *     repair thread
   * @return the running repair; closing the capture stops it too
   */
  public synchronized DriftRepair startDriftRepair(Duration interval, Consumer<String> onRepair) {
    if (closed) {
      throw new IllegalStateException("capture " + plan.prefix() + " is closed");
    }
    if (driftRepair == null) {
      driftRepair = DriftRepair.start(this, interval, onRepair);
    }
    return driftRepair;
  }

  /**
   * Replaces the installed plan with {@code next} of the same prefix (e.g. the addresses of a mesh whose
   * membership changed): the backend removes the old rules and sets and installs the new ones in one apply, so
   * the capture is replaced rather than dropped. Drift repair keeps the new plan from then on.
   *
   * @param next the new plan, with this capture's prefix
   * @throws IllegalArgumentException if the prefix differs
   * @throws IllegalStateException if the capture was closed
   * @throws NetfilterException when a tool refuses (what is installed is then whatever the tool left: drift
   *     repair, or the next update, applies it again)
   */
  public synchronized void update(CapturePlan next) throws NetfilterException {
    requireNonNull(next, "next");
    if (!next.prefix().equals(plan.prefix())) {
      throw new IllegalArgumentException("next: prefix " + next.prefix() + " (expected: " + plan.prefix() + ")");
    }
    if (closed) {
      throw new IllegalStateException("capture " + plan.prefix() + " is closed");
    }
    backend.apply(next);
    plan = next;
    installed = backend.show(next.prefix());
    log.info("capture {} updated: {}", next.prefix(), next);
  }

  /** A repair: "vanished" or "changed", and what changed by table and chain ("missing" or "altered"). */
  record Drift(String what, Map<DriftSections.Section, String> sections) {}

  /** Applies the plan again when what is installed differs from what conduit installed. */
  synchronized Optional<Drift> repairIfChanged() throws NetfilterException {
    if (closed) {
      return Optional.empty();
    }
    String now = backend.show(plan.prefix());
    if (now.equals(installed)) {
      return Optional.empty();
    }
    Drift drift = new Drift(now.isEmpty() ? "vanished" : "changed", DriftSections.changes(installed, now));
    backend.apply(plan);
    installed = backend.show(plan.prefix());
    return Optional.of(drift);
  }

  synchronized boolean isClosed() {
    return closed;
  }

  /**
   * Lists the installed rules (see {@link NetfilterBackend#show}).
   *
   * @return the tools' listing
   * @throws NetfilterException when a tool refuses
   */
  public String show() throws NetfilterException {
    return backend.show(plan.prefix());
  }

  /**
   * Removes every rule, set, table and route of the plan's prefix. Idempotent. Established
   * connections keep flowing (conntrack keeps their NAT mapping); new ones are no longer captured.
   *
   * @throws NetfilterException when a tool refuses
   */
  @Override
  public void close() throws NetfilterException {
    DriftRepair repair;
    synchronized (this) {
      repair = driftRepair;
    }
    if (repair != null) {
      repair.close(); // outside the lock: a running check holds it
    }
    closeRules();
  }

  private synchronized void closeRules() throws NetfilterException {
    if (closed) {
      return;
    }
    closed = true;
    try {
      Runtime.getRuntime().removeShutdownHook(shutdownHook);
    } catch (IllegalStateException e) {
      // the JVM is exiting: the hook runs (or ran) anyway
    }
    backend.clear(plan.prefix());
    log.info("capture {} removed", plan.prefix());
  }

  private synchronized void removeQuietly() {
    if (closed) {
      return;
    }
    closed = true;
    try {
      backend.clear(plan.prefix());
      log.info("capture {} removed", plan.prefix());
    } catch (NetfilterException | RuntimeException e) {
      System.err.println("conduit: cannot remove capture rules of " + plan.prefix() + ": " + e.getMessage()
          + " (they are replaced at the next start, or run the backend's clear)");
    }
  }
}
