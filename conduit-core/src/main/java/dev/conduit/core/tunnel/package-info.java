/**
 * conduit-to-conduit tunnels: HTTP/1.1 {@code CONNECT} over mutually authenticated TLS 1.3
 * ({@link dev.conduit.core.tunnel.Tunnel}), active peer health checks
 * ({@link dev.conduit.core.tunnel.TunnelHealthChecker}), and point-to-point tunnel settings (peers, forward
 * entries, the server's TLS and allow list: {@link dev.conduit.core.tunnel.TunnelPeer},
 * {@link dev.conduit.core.tunnel.TunnelTls}, {@link dev.conduit.core.tunnel.TunnelAllow}) mapped onto listeners,
 * outbounds and rules ({@link dev.conduit.core.tunnel.MeshPlan}).
 *
 * <p>Authorization is by the peer certificate's identity: the tunnel listener's requests carry it as their
 * principal, and router rules on that listener say which destinations each principal may reach, ending in
 * a reject rule, so a tunnel server is never an open relay.
 *
 * <p>Types and members here are non-null unless marked {@code @Nullable}.
 */
@NullMarked
package dev.conduit.core.tunnel;

import org.jspecify.annotations.NullMarked;
