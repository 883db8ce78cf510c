package dev.conduit.core.inbound;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.internal.mixed.MixedInbound;
import dev.conduit.core.internal.http.HttpInbound;
import dev.conduit.core.internal.socks.SocksInbound;

/** The built-in inbound protocols. */
public final class InboundProtocols {
  private InboundProtocols() {}

  /** An HTTP proxy: absolute-form requests forwarded with keep-alive, and {@code CONNECT} tunnels. */
  public static InboundProtocol http(HttpInboundOptions options) {
    return new HttpInbound(requireNonNull(options, "options"));
  }

  /** An HTTP proxy without authentication. */
  public static InboundProtocol http() {
    return http(HttpInboundOptions.defaults());
  }

  /** A SOCKS proxy: SOCKS5 (RFC 1928, 1929) and SOCKS4/4a, {@code CONNECT} only. */
  public static InboundProtocol socks(SocksInboundOptions options) {
    return new SocksInbound(requireNonNull(options, "options"));
  }

  /** A SOCKS proxy without authentication. */
  public static InboundProtocol socks() {
    return socks(SocksInboundOptions.defaults());
  }

  /** HTTP and SOCKS on one port, told apart by the first byte. */
  public static InboundProtocol mixed(HttpInboundOptions http, SocksInboundOptions socks) {
    requireNonNull(http, "http");
    requireNonNull(socks, "socks");
    return new MixedInbound((ch, ctx) -> HttpInbound.install(ch, ctx, http),
        (ch, ctx) -> SocksInbound.install(ch, ctx, socks));
  }

  /** HTTP and SOCKS on one port without authentication. */
  public static InboundProtocol mixed() {
    return mixed(HttpInboundOptions.defaults(), SocksInboundOptions.defaults());
  }
}
