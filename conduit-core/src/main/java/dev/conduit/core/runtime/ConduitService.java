package dev.conduit.core.runtime;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.Conduit;
import dev.conduit.core.admin.AdminServer;
import java.time.Instant;
import java.util.concurrent.CompletionStage;

/**
 * A {@link Conduit} as a {@link Service}: started by the runtime, drained by {@link Conduit#stop()}
 * (which stops accepting and waits for open connections up to its own drain timeout), and behind the
 * admin endpoint's {@code /connections}, {@code /healthz} and {@code /readyz}.
 *
 * <p>Changing routes on reload is up to the role that owns them ({@link Conduit#update}); this
 * service itself has no section. With several conduits in one runtime, the one added last is the one
 * behind the admin endpoint's connection and health paths.
 */
public final class ConduitService implements Service {
  private final String name;
  private final Conduit conduit;

  /**
   * A service named {@code conduit}.
   *
   * @param conduit the conduit, built and not started
   */
  public ConduitService(Conduit conduit) {
    this("conduit", conduit);
  }

  /**
   * A service of this name, for a process that runs several conduits.
   *
   * @param name the service's name
   * @param conduit the conduit, built and not started
   */
  public ConduitService(String name, Conduit conduit) {
    this.name = requireNonNull(name, "name");
    this.conduit = requireNonNull(conduit, "conduit");
  }

  /** The conduit. */
  public Conduit conduit() {
    return conduit;
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public void start() throws java.io.IOException {
    conduit.start();
  }

  @Override
  public CompletionStage<Void> drain(Instant deadline) {
    return conduit.stop();
  }

  @Override
  public void mount(AdminServer.Builder admin) {
    admin.conduit(conduit);
  }

  /** Stops the conduit if no drain did; connections still open are cut when its event loops close. */
  @Override
  public void close() {
    conduit.stop();
  }

  @Override
  public String toString() {
    return name;
  }
}
