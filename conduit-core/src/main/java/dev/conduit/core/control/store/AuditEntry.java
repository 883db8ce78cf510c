package dev.conduit.core.control.store;

import static java.util.Objects.requireNonNull;

import java.time.Instant;

/**
 * One line of the audit log: who did what, to what, when.
 *
 * @param id increasing number
 * @param at when
 * @param actor who: {@code admin-token}, {@code admin:URI}, {@code node:NAME}, {@code manager}
 * @param action what, e.g. {@code node.approve}
 * @param subject to what, e.g. a node name; empty when none
 * @param detail more, free text; empty when none
 */
public record AuditEntry(long id, Instant at, String actor, String action, String subject, String detail) {

  /** Checks the components. */
  public AuditEntry {
    requireNonNull(at, "at");
    requireNonNull(actor, "actor");
    requireNonNull(action, "action");
    requireNonNull(subject, "subject");
    requireNonNull(detail, "detail");
  }
}
