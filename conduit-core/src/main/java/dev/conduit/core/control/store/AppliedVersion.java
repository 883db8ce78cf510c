package dev.conduit.core.control.store;

import static java.util.Objects.requireNonNull;

/**
 * What a node acknowledged over the push channel: the state version it applied and the hash of what it installed.
 *
 * @param name the node
 * @param version the state version it applied
 * @param hash the hash of what it installed
 */
public record AppliedVersion(String name, long version, String hash) {

  /** Checks the components. */
  public AppliedVersion {
    requireNonNull(name, "name");
    requireNonNull(hash, "hash");
  }
}
