package dev.conduit.core.egress;

import static java.util.Objects.requireNonNull;

import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * One allowlist entry as the egress server keeps it.
 *
 * @param id the entry's id
 * @param value what it allows
 * @param ports the destination ports it allows (empty: all)
 * @param nonDeletable whether it may never be deleted
 * @param comment the operator's note (may be empty)
 * @param createdAt when it was added
 * @param createdBy who added it (an audit actor, e.g. {@code token:ops})
 * @param lastResolvedAt when a domain entry was last resolved successfully
 * @param lastError the last resolution problem, cleared by a success
 * @param addresses the addresses a domain entry resolved to, in address order
 */
public record EgressEntry(String id, EntryValue value, List<Integer> ports, boolean nonDeletable, String comment,
    Instant createdAt, String createdBy, Optional<Instant> lastResolvedAt, Optional<String> lastError,
    List<ResolvedAddress> addresses) {

  /** Checks and copies the components. */
  public EgressEntry {
    requireNonNull(id, "id");
    requireNonNull(value, "value");
    ports = List.copyOf(ports);
    requireNonNull(comment, "comment");
    requireNonNull(createdAt, "createdAt");
    requireNonNull(createdBy, "createdBy");
    requireNonNull(lastResolvedAt, "lastResolvedAt");
    requireNonNull(lastError, "lastError");
    addresses = List.copyOf(addresses);
  }
}
