/**
 * conduit's mesh manager as a library: {@link dev.conduit.core.mesh.MeshManager} serves enrolment, renewal and
 * the operator's admin API over TLS; {@link dev.conduit.core.mesh.ManagerAdminClient} is the operator's client.
 */
package dev.conduit.core.mesh;
