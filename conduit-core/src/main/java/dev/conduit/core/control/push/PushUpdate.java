package dev.conduit.core.control.push;

import static java.util.Objects.requireNonNull;

import java.util.Optional;

/**
 * What a {@link PushApplier} is asked to install: the full new state, the state it replaces, and, for a
 * {@link Kind#DELTA}, the changes between them (an applier may install either).
 *
 * @param kind why the update happens
 * @param state the state to install
 * @param previous the state installed until now ({@link PushState#empty()} at first)
 * @param delta the changes from {@code previous} to {@code state}, present for {@link Kind#DELTA} only
 */
public record PushUpdate(Kind kind, PushState state, PushState previous, Optional<PushDelta> delta) {

  /** Why an update happens. */
  public enum Kind {
    /** The agent started and restores the state it saved before (the server may be unreachable). */
    RESTORED,
    /** The server sent its full state: everything not in it is gone. */
    SNAPSHOT,
    /** The server sent the changes from the installed version. */
    DELTA
  }

  /** Checks the components. */
  public PushUpdate {
    requireNonNull(kind, "kind");
    requireNonNull(state, "state");
    requireNonNull(previous, "previous");
    requireNonNull(delta, "delta");
    if (delta.isPresent() != (kind == Kind.DELTA)) {
      throw new IllegalArgumentException("delta: " + delta + " (expected: present for DELTA only)");
    }
  }
}
