package dev.conduit.core.control.enrol;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.control.store.NodeRole;
import java.util.List;
import java.util.Optional;

/**
 * What a node sends to join or renew: its name, role, host addresses and tunnel server address, a CSR for the key
 * it made (the key never leaves it), and optionally a join token. {@link #toString()} masks the token.
 *
 * @param name the node's name (a DNS label)
 * @param role what it runs
 * @param addresses its host addresses, IPv4 and IPv6; they become the certificate's IP names
 * @param serverAddress its tunnel server's {@code host:port}, if it runs one
 * @param csrPem the PKCS#10 request in PEM
 * @param token a join token ({@code id.secret}), if it has one
 */
public record EnrolmentRequest(String name, NodeRole role, List<String> addresses, Optional<String> serverAddress,
    String csrPem, Optional<String> token) {

  /** Checks the components and copies the address list. */
  public EnrolmentRequest {
    requireNonNull(name, "name");
    requireNonNull(role, "role");
    addresses = List.copyOf(requireNonNull(addresses, "addresses"));
    requireNonNull(serverAddress, "serverAddress");
    requireNonNull(csrPem, "csrPem");
    requireNonNull(token, "token");
  }

  /** Describes the request with the token masked and without the CSR. */
  @Override
  public String toString() {
    return "EnrolmentRequest{name=" + name + ", role=" + role.text() + ", addresses=" + addresses
        + ", serverAddress=" + serverAddress.orElse("-") + ", token=" + (token.isPresent() ? "****" : "none") + "}";
  }
}
