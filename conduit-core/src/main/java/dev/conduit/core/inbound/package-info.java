/**
 * Downstream protocols: the {@link dev.conduit.core.inbound.InboundProtocol} SPI, its
 * {@link dev.conduit.core.inbound.InboundContext}, and the built-in HTTP, SOCKS and mixed protocols
 * from {@link dev.conduit.core.inbound.InboundProtocols}.
 *
 * <p>Types and members here are non-null unless marked {@code @Nullable}.
 */
@NullMarked
package dev.conduit.core.inbound;

import org.jspecify.annotations.NullMarked;
