/**
 * conduit's push channel: versioned, acknowledged state pushed from a control-plane server to its agents over
 * WebSocket with mutual TLS. {@link dev.conduit.core.control.push.PushServer} publishes
 * {@link dev.conduit.core.control.push.PushState}s (a snapshot on connect, then deltas with upserts and removals)
 * and keeps each agent's {@link dev.conduit.core.control.push.PushAgentStatus};
 * {@link dev.conduit.core.control.push.PushClient} installs them through a
 * {@link dev.conduit.core.control.push.PushApplier}, acknowledges each with the hash of what it installed, and
 * keeps the last state on disk. The mesh manager pushes its membership and the egress server its allowlist with
 * it. Needs Jackson ({@code com.fasterxml.jackson.core:jackson-databind}), an optional dependency of conduit-core.
 */
package dev.conduit.core.control.push;
