/**
 * Enrolment and the mesh's PKI on top of {@link dev.conduit.core.pki}: the manager's rules
 * ({@link dev.conduit.core.control.enrol.EnrolmentService}: CSR only, single-use join tokens or approval, identity
 * URIs, reported IPs only, renewal and revocation), the CA kept once in the store
 * ({@link dev.conduit.core.control.enrol.ManagerCertificateAuthority}), and the node's side
 * ({@link dev.conduit.core.control.enrol.NodeEnrolment}: own key, pinned or trust-on-first-use CA, renewal at
 * about two thirds of the lifetime).
 */
package dev.conduit.core.control.enrol;
