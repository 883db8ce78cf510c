package dev.conduit.core.control.store;

import static java.util.Objects.requireNonNull;

import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * One node as the store knows it.
 *
 * @param name the node's unique name (a DNS label)
 * @param identity its identity URI, e.g. {@code spiffe://conduit.mesh/node/a}
 * @param role what it runs
 * @param state pending, approved or revoked
 * @param addresses the host addresses it reported (canonical IP literals)
 * @param serverAddress its tunnel server's {@code host:port}, for servers
 * @param publicKeyPin {@code sha256:HEX} of the public key it enrolled with; a later request must come from
 *     the same key until it holds a certificate
 * @param pendingCsr the CSR (PEM) kept while it waits for approval
 * @param createdAt when it first asked to join
 * @param updatedAt when its row last changed
 * @param lastSeen when the manager last heard from it
 * @param certificateSerial the serial (hex) of its newest certificate
 * @param certificateNotAfter when that certificate expires
 * @param appliedVersion the state version it last acknowledged
 * @param appliedHash the hash of the rules it installed for that version
 * @param changedVersion the state version at which this node last changed
 */
public record NodeRecord(String name, String identity, NodeRole role, NodeState state, List<String> addresses,
    Optional<String> serverAddress, String publicKeyPin, Optional<String> pendingCsr, Instant createdAt,
    Instant updatedAt, Optional<Instant> lastSeen, Optional<String> certificateSerial,
    Optional<Instant> certificateNotAfter, OptionalLong appliedVersion, Optional<String> appliedHash,
    long changedVersion) {

  /** Checks the components and copies the address list. */
  public NodeRecord {
    requireNonNull(name, "name");
    requireNonNull(identity, "identity");
    requireNonNull(role, "role");
    requireNonNull(state, "state");
    addresses = List.copyOf(requireNonNull(addresses, "addresses"));
    requireNonNull(serverAddress, "serverAddress");
    requireNonNull(publicKeyPin, "publicKeyPin");
    requireNonNull(pendingCsr, "pendingCsr");
    requireNonNull(createdAt, "createdAt");
    requireNonNull(updatedAt, "updatedAt");
    requireNonNull(lastSeen, "lastSeen");
    requireNonNull(certificateSerial, "certificateSerial");
    requireNonNull(certificateNotAfter, "certificateNotAfter");
    requireNonNull(appliedVersion, "appliedVersion");
    requireNonNull(appliedHash, "appliedHash");
  }
}
