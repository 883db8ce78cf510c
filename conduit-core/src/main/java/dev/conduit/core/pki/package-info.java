/**
 * conduit's PKI: a small certificate authority for the mesh and for TLS interception, PEM I/O, and Netty
 * contexts for mutual TLS.
 *
 * <ul>
 *   <li>{@link dev.conduit.core.pki.CertificateAuthority} creates (ECDSA P-256) or loads a CA, issues node
 *       certificates from a {@link dev.conduit.core.pki.CertificateRequest} (optionally built from a CSR) and
 *       mints short-lived per-host server leaves for MITM.</li>
 *   <li>{@link dev.conduit.core.pki.IssuedCertificate} is the result: certificate, chain, optional key, PEM and
 *       file output.</li>
 *   <li>{@link dev.conduit.core.pki.TlsMaterial} and {@link dev.conduit.core.pki.ReloadingTlsMaterial} build the
 *       server (client certificate required) and client {@code SslContext}s, the latter re-reading renewed
 *       files.</li>
 *   <li>{@link dev.conduit.core.pki.PeerIdentity} names a verified peer for authorization;
 *       {@link dev.conduit.core.pki.CertificateInfo} describes a certificate for people;
 *       {@link dev.conduit.core.pki.Pem} reads and writes PEM.</li>
 * </ul>
 *
 * <p>Design notes.
 * <ul>
 *   <li>BouncyCastle builds and parses the ASN.1 structures only; keys, signatures and certificates are JDK
 *       objects made by the JDK's providers. BouncyCastle is never installed as a global provider, so embedding
 *       applications see no change in their JCA setup, and no BouncyCastle type appears in this API.</li>
 *   <li>Leaf minting generates a fresh P-256 key per leaf by default. Measured on a busy 2-core machine with
 *       JDK 17: about 1.6-1.9 ms per leaf with a fresh key, 0.8 ms with a shared key (key generation is half of
 *       the cost). Both are well under the 5 ms target, and a leaf is minted once per host and then cached, so
 *       the default keeps one key per host; {@link dev.conduit.core.pki.CertificateAuthority#withSharedLeafKey()}
 *       is there for callers who measure a need.</li>
 *   <li>Every {@code notBefore} is one hour in the past, so peers whose clocks run slow accept new
 *       certificates; no certificate outlives its CA (the end of validity is capped).</li>
 *   <li>Private keys are written with mode 0600 set when the file is created, then renamed into place, so
 *       no reader ever sees a key with wider permissions or a half-written file.</li>
 * </ul>
 *
 * <p>Types and members here are non-null unless marked {@code @Nullable}.
 */
@NullMarked
package dev.conduit.core.pki;

import org.jspecify.annotations.NullMarked;
