package dev.conduit.core.control.store;

/** The outcome of {@link ControlStore#admitWithToken}. */
public enum TokenAdmission {
  /** The token was valid and unused; it is now used, and the node is approved. */
  ADMITTED,
  /** No such token, or the secret does not match (the two are not told apart). */
  UNKNOWN,
  /** The token was used already (perhaps a moment ago by a concurrent enrolment). */
  USED,
  /** The token has expired. */
  EXPIRED,
  /** A node with this name exists; the token was not used. */
  NAME_TAKEN
}
