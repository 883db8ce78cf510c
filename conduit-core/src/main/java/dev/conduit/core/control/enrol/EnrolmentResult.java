package dev.conduit.core.control.enrol;

import static java.util.Objects.requireNonNull;

import java.time.Instant;

/** What an enrolment or renewal gave: a certificate, or a place in the queue for approval. */
public sealed interface EnrolmentResult {

  /**
   * A certificate was issued.
   *
   * @param name the node's name
   * @param identity its identity URI
   * @param certificateChainPem the certificate followed by the CA's, in PEM
   * @param caPem the CA certificate in PEM (the trust root for peers and the manager)
   * @param serial the certificate's serial in lower-case hex
   * @param notAfter when it expires
   */
  record Issued(String name, String identity, String certificateChainPem, String caPem, String serial,
      Instant notAfter) implements EnrolmentResult {
    /** Checks the components. */
    public Issued {
      requireNonNull(name, "name");
      requireNonNull(identity, "identity");
      requireNonNull(certificateChainPem, "certificateChainPem");
      requireNonNull(caPem, "caPem");
      requireNonNull(serial, "serial");
      requireNonNull(notAfter, "notAfter");
    }
  }

  /**
   * The node waits for an operator's approval; it should ask again later with the same key.
   *
   * @param name the node's name
   * @param approveHint what the operator runs to approve it
   */
  record Pending(String name, String approveHint) implements EnrolmentResult {
    /** Checks the components. */
    public Pending {
      requireNonNull(name, "name");
      requireNonNull(approveHint, "approveHint");
    }
  }
}
