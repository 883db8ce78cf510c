package dev.conduit.core.control.store;

import static java.util.Objects.requireNonNull;

import java.time.Instant;

/**
 * A revoked certificate that has not expired yet: what peers must refuse.
 *
 * @param serial the certificate's serial number in lower-case hex
 * @param nodeName the node it was issued to
 * @param notAfter when it expires (after that it needs no listing)
 * @param revokedAt when it was revoked
 */
public record RevokedCertificate(String serial, String nodeName, Instant notAfter, Instant revokedAt) {

  /** Checks the components. */
  public RevokedCertificate {
    requireNonNull(serial, "serial");
    requireNonNull(nodeName, "nodeName");
    requireNonNull(notAfter, "notAfter");
    requireNonNull(revokedAt, "revokedAt");
  }
}
