/**
 * Mesh data-plane guarantees enforced by the kernel: {@link dev.conduit.netfilter.mesh.InboundEnforcement}
 * ({@code server.enforce}) lets chosen local ports accept only connections the local conduit tunnel server
 * delivers (plus loopback), so hosts outside the mesh cannot reach them in clear.
 */
package dev.conduit.netfilter.mesh;
