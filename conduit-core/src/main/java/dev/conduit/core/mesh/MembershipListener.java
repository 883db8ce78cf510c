package dev.conduit.core.mesh;

/**
 * What a {@link MeshNode} tells the data plane: each membership it installs (restored from disk at start, then
 * every version the manager pushes). Called on the node's apply thread, one membership at a time, so it may block
 * (netfilter, file I/O); throwing rejects the membership: the node keeps the previous one and reports the message
 * to the manager.
 */
@FunctionalInterface
public interface MembershipListener {

  /**
   * Installs {@code membership}.
   *
   * @throws Exception if it could not be installed
   */
  void membershipChanged(MeshMembership membership) throws Exception;
}
