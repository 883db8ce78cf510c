package dev.conduit.core.mesh;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.runtime.Service;

/**
 * The mesh manager as a {@link Service} of a {@link dev.conduit.core.runtime.ConduitRuntime}: started with the
 * runtime, closed (store included) when it stops. A JVM application hosts a manager beside other roles with it, the
 * way {@code conduit manager} does.
 */
public final class MeshManagerService implements Service {

  private final MeshManager.Builder builder;
  private volatile MeshManager manager;

  /**
   * Creates the service; the manager is built and started at {@link #start()}.
   *
   * @param builder the manager's settings
   */
  public MeshManagerService(MeshManager.Builder builder) {
    this.builder = requireNonNull(builder, "builder");
  }

  @Override
  public String name() {
    return "manager";
  }

  @Override
  public void start() throws Exception {
    if (manager != null) {
      throw new IllegalStateException("already started");
    }
    manager = builder.build().start();
  }

  /**
   * Returns the running manager.
   *
   * @throws IllegalStateException before {@link #start()}
   */
  public MeshManager manager() {
    MeshManager m = manager;
    if (m == null) {
      throw new IllegalStateException("not started");
    }
    return m;
  }

  @Override
  public void close() {
    MeshManager m = manager;
    if (m != null) {
      m.close();
    }
  }

  @Override
  public String toString() {
    return "MeshManagerService{" + (manager == null ? "not started" : manager) + "}";
  }
}
