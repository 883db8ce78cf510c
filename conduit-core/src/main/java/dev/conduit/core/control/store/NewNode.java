package dev.conduit.core.control.store;

import static java.util.Objects.requireNonNull;

import java.util.List;
import java.util.Optional;

/**
 * A node asking to join, as the enrolment layer has checked it.
 *
 * @param name its unique name
 * @param identity its identity URI
 * @param role what it runs
 * @param addresses its host addresses (canonical IP literals)
 * @param serverAddress its tunnel server's {@code host:port}, if it runs one
 * @param publicKeyPin {@code sha256:HEX} of its public key
 * @param csr its CSR (PEM), kept while it is pending
 */
public record NewNode(String name, String identity, NodeRole role, List<String> addresses,
    Optional<String> serverAddress, String publicKeyPin, String csr) {

  /** Checks the components and copies the address list. */
  public NewNode {
    requireNonNull(name, "name");
    requireNonNull(identity, "identity");
    requireNonNull(role, "role");
    addresses = List.copyOf(requireNonNull(addresses, "addresses"));
    requireNonNull(serverAddress, "serverAddress");
    requireNonNull(publicKeyPin, "publicKeyPin");
    requireNonNull(csr, "csr");
  }
}
