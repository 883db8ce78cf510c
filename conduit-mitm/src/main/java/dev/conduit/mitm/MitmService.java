package dev.conduit.mitm;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.admin.AdminRoute;
import dev.conduit.core.admin.AdminServer;
import dev.conduit.core.runtime.ConfigSections;
import dev.conduit.core.runtime.ReloadOutcome;
import dev.conduit.core.runtime.SectionKey;
import dev.conduit.core.runtime.Service;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A {@link MitmServer} (the caching MITM proxy) as a runtime {@link Service}. The server is opened before
 * the conduit is built (its listeners go into the conduit's builder), so add this service before the
 * conduit's: the conduit then drains first and the cache closes after the last download.
 *
 * <p>Its settings cannot change while it runs: with a {@linkplain Builder#section section}, a reload that
 * changes it answers "restart needed". Roles mount the cache's admin routes with {@link Builder#route}.
 */
public final class MitmService implements Service {
  private final String name;
  private final MitmServer server;
  private final SectionKey<?> key;
  private final Object running;
  private final Map<String, AdminRoute> routes;

  private MitmService(Builder b) {
    this.name = b.name;
    this.server = b.server;
    this.key = b.key;
    this.running = b.running;
    this.routes = Map.copyOf(b.routes);
  }

  /**
   * A builder.
   *
   * @param server the opened server
   * @return the builder
   */
  public static Builder builder(MitmServer server) {
    return new Builder(server);
  }

  /** A service named {@code cache} for {@code server}, without section or routes. */
  public static MitmService of(MitmServer server) {
    return builder(server).build();
  }

  /** The server. */
  public MitmServer server() {
    return server;
  }

  @Override
  public String name() {
    return name;
  }

  /** Nothing to do: the server was opened before the conduit that serves its listeners was built. */
  @Override
  public void start() {}

  @Override
  public ReloadOutcome reload(ConfigSections sections) {
    if (key == null) {
      return ReloadOutcome.unchanged();
    }
    return ReloadOutcome.restartIfChanged(running, sections.get(key).orElse(null), key.name());
  }

  @Override
  public void mount(AdminServer.Builder admin) {
    routes.forEach(admin::route);
  }

  /** Closes the cache (and its files). */
  @Override
  public void close() {
    server.close();
  }

  @Override
  public String toString() {
    return name;
  }

  /** Builds a {@link MitmService}. */
  public static final class Builder {
    private final MitmServer server;
    private String name = "cache";
    private SectionKey<?> key;
    private Object running;
    private final Map<String, AdminRoute> routes = new LinkedHashMap<>();

    private Builder(MitmServer server) {
      this.server = requireNonNull(server, "server");
    }

    /** The service's name (default {@code cache}). */
    public Builder name(String value) {
      this.name = requireNonNull(value, "name");
      return this;
    }

    /**
     * The section the server was opened with: a reload whose section differs answers restart needed.
     *
     * @param sectionKey the section's key
     * @param value the section in force
     * @param <T> the section's type
     * @return this
     */
    public <T> Builder section(SectionKey<T> sectionKey, T value) {
      this.key = requireNonNull(sectionKey, "sectionKey");
      this.running = requireNonNull(value, "value");
      return this;
    }

    /** Mounts an admin route of the cache's under {@code prefix} (see {@link AdminServer.Builder#route}). */
    public Builder route(String prefix, AdminRoute route) {
      routes.put(requireNonNull(prefix, "prefix"), requireNonNull(route, "route"));
      return this;
    }

    /** The service. */
    public MitmService build() {
      return new MitmService(this);
    }
  }
}
