/**
 * Downstream protocols: the {@link dev.conduit.core.inbound.InboundProtocol} SPI, its
 * {@link dev.conduit.core.inbound.InboundContext}, and the built-in HTTP, SOCKS and mixed protocols
 * from {@link dev.conduit.core.inbound.InboundProtocols}.
 */
package dev.conduit.core.inbound;
