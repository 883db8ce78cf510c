/**
 * A caching, intercepting HTTP(S) proxy on conduit (seed 004, dduct).
 *
 * <ul>
 *   <li>{@link dev.conduit.mitm.MitmProxy}: the {@code InboundProtocol} (plain or TLS listener):
 *       {@code http://} forwarding, {@code CONNECT} interception for configured hosts with per-host
 *       leaf certificates, blind tunnels for the rest, upstream TLS validated (502 with the reason
 *       otherwise), cacheable GETs through a {@link dev.conduit.mitm.cache.BlobCache}.</li>
 *   <li>{@link dev.conduit.mitm.HttpInterceptor} / {@link dev.conduit.mitm.InterceptedExchange}: observe,
 *       rewrite or answer requests and responses, e.g. from a JVM test suite embedding the proxy.</li>
 *   <li>{@link dev.conduit.mitm.MitmCa}: the CA on disk ({@code ca.crt}, {@code ca.key},
 *       {@code ca.p12}), created on first start.</li>
 *   <li>{@link dev.conduit.mitm.MitmServer}: the whole seed-004 set-up from a few settings.</li>
 * </ul>
 */
package dev.conduit.mitm;
