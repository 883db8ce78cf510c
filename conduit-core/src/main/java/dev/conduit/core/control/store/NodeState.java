package dev.conduit.core.control.store;

/** Where a node stands in the mesh. */
public enum NodeState {
  /** Asked to join without a token; waits for an operator's approval. */
  PENDING,
  /** A member: it has (or may get) a certificate. */
  APPROVED,
  /** Thrown out: its certificates are revoked and it gets no new one. */
  REVOKED
}
