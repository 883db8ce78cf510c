package dev.conduit.core.inbound;

/**
 * Fired as a user event on every open downstream connection when a graceful stop begins. Protocols
 * that keep idle connections open (HTTP keep-alive) close them at the next safe boundary, so a stop
 * does not wait the whole drain deadline for clients that are merely idle. Tunnels ignore it.
 */
public final class DrainEvent {
  /** The only instance. */
  public static final DrainEvent INSTANCE = new DrainEvent();

  private DrainEvent() {}

  @Override
  public String toString() {
    return "DrainEvent";
  }
}
