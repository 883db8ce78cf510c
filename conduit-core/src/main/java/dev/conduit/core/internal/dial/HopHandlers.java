package dev.conduit.core.internal.dial;

import dev.conduit.core.ConnectRequest;
import dev.conduit.core.Credentials;
import dev.conduit.core.Destination;
import dev.conduit.core.internal.tls.PeerGuards;
import dev.conduit.core.outbound.Hop;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.proxy.HttpProxyHandler;
import io.netty.handler.proxy.ProxyConnectException;
import io.netty.handler.proxy.ProxyHandler;
import io.netty.handler.proxy.Socks5ProxyHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.NetUtil;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import javax.net.ssl.SSLParameters;

/** The TLS and proxy handlers of one hop in one chain dial, and which of them failed. */
final class HopHandlers {
  final int index;
  final SslHandler tls;
  final ProxyHandler proxy;

  /**
   * @param resolved the endpoint's address when this is the first hop (the socket connects to it), else null
   * @param timeoutMillis what is left of the dial's deadline
   * @param defaultTls the TLS context of hops without one of their own (public CAs)
   */
  HopHandlers(Hop hop, Destination endpoint, int index, InetSocketAddress resolved, ConnectRequest request,
      long timeoutMillis, SslContext defaultTls) {
    this.index = index;
    InetSocketAddress address = endpoint.toUnresolvedAddress();
    if (hop.tls()) {
      SslContext ctx = hop.sslContext().orElse(defaultTls);
      String sni = hop.tlsServerName().orElse(endpoint.host());
      SslHandler ssl = ctx.newHandler(ByteBufAllocator.DEFAULT, sni, endpoint.port());
      SSLParameters params = ssl.engine().getSSLParameters();
      params.setEndpointIdentificationAlgorithm("HTTPS");
      ssl.engine().setSSLParameters(params);
      ssl.setHandshakeTimeoutMillis(timeoutMillis);
      hop.peerGuard().ifPresent(guard -> PeerGuards.refuseOnHandshake(guard, ssl));
      this.tls = ssl;
    } else {
      this.tls = null;
    }
    // a proxy address that is a name must be resolved for the first hop only (we connect to it);
    // later hops are reached through the previous hop, which resolves them
    SocketAddress proxyAddress = resolved != null ? resolved : address;
    Credentials c = hop.credentials().orElse(null);
    ProxyHandler p;
    if (hop.protocol() == Hop.Protocol.HTTP) {
      HttpHeaders headers = new DefaultHttpHeaders();
      if (hop.forwardClientAddress()) {
        InetSocketAddress client = request.connection().client();
        headers.set("Forwarded", "for=\"" + NetUtil.toSocketAddressString(client) + "\"");
      }
      p = c == null ? new HttpProxyHandler(proxyAddress, headers)
          : new HttpProxyHandler(proxyAddress, c.username(), c.password(), headers);
    } else {
      p = c == null ? new Socks5ProxyHandler(proxyAddress)
          : new Socks5ProxyHandler(proxyAddress, c.username(), c.password());
    }
    p.setConnectTimeoutMillis(timeoutMillis);
    this.proxy = p;
  }

  /** Why this hop's TLS or proxy handshake failed, or null (not failed, or failed only as a consequence). */
  Throwable failure() {
    if (tls != null && tls.handshakeFuture().isDone() && !tls.handshakeFuture().isSuccess()) {
      return tls.handshakeFuture().cause();
    }
    if (proxy.connectFuture().isDone() && !proxy.connectFuture().isSuccess()) {
      Throwable c = proxy.connectFuture().cause();
      // a hop whose only problem is that the channel closed under it is a consequence, not a cause
      if (c instanceof ProxyConnectException && String.valueOf(c.getMessage()).contains("disconnected")
          && index > 0) {
        return null;
      }
      return c;
    }
    return null;
  }
}
