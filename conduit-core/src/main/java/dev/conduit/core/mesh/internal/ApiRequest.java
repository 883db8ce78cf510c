package dev.conduit.core.mesh.internal;

import java.net.InetAddress;
import java.security.cert.X509Certificate;
import java.util.Optional;

/**
 * One HTTP request to the manager, copied off the event loop's buffers.
 *
 * @param method the method
 * @param path the path without the query
 * @param query the query string, or empty
 * @param authorization the Authorization header, if any
 * @param body the body bytes
 * @param peer the client certificate TLS verified, if the client sent one
 * @param source the client's address
 */
public record ApiRequest(String method, String path, String query, Optional<String> authorization, byte[] body,
    Optional<X509Certificate> peer, InetAddress source) {
}
