package dev.conduit.core.runtime;

import static java.util.Objects.requireNonNull;

import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * What a {@link Service} made of a reload.
 *
 * @param kind applied, unchanged, or restart needed
 * @param detail what was applied, or what needs the restart; empty when unchanged
 */
public record ReloadOutcome(Kind kind, String detail) {

  /** The kinds of outcome. */
  public enum Kind {
    /** The new section is in force (for new work; work in progress keeps the old one). */
    APPLIED,
    /** The service's section did not change, or it has none. */
    UNCHANGED,
    /** The section changed in a way that takes effect only after a restart; the old one stays. */
    RESTART_NEEDED
  }

  /** Checks the arguments. */
  public ReloadOutcome {
    requireNonNull(kind, "kind");
    requireNonNull(detail, "detail");
  }

  /** The new section is in force; {@code detail} says what, e.g. {@code "3 rules, 2 outbounds"}. */
  public static ReloadOutcome applied(String detail) {
    return new ReloadOutcome(Kind.APPLIED, detail);
  }

  /** Nothing changed for this service. */
  public static ReloadOutcome unchanged() {
    return new ReloadOutcome(Kind.UNCHANGED, "");
  }

  /** {@code what} changed and needs a restart, e.g. {@code "listeners"}. */
  public static ReloadOutcome restartNeeded(String what) {
    return new ReloadOutcome(Kind.RESTART_NEEDED, what);
  }

  /**
   * For a service that cannot change its section while running: unchanged when the running and the new
   * section are equal, otherwise restart needed for {@code what}.
   *
   * @param running the section in force
   * @param next the new section (null when the new configuration has none)
   * @param what names the section in the report
   * @return the outcome
   */
  public static ReloadOutcome restartIfChanged(@Nullable Object running, @Nullable Object next, String what) {
    return Objects.equals(running, next) ? unchanged() : restartNeeded(what);
  }

  @Override
  public String toString() {
    return detail.isEmpty() ? kind.toString() : kind + " (" + detail + ")";
  }
}
