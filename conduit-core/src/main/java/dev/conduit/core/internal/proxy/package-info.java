/**
 * HTTP forward-proxy basics that conduit's HTTP proxy and its MITM caching proxy share: hop-by-hop headers, the
 * {@code CONNECT} reply, {@code Proxy-Status} errors. Internal: exported to {@code dev.conduit.mitm} only.
 */
@NullMarked
package dev.conduit.core.internal.proxy;

import org.jspecify.annotations.NullMarked;
