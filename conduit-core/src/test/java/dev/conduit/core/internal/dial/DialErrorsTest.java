package dev.conduit.core.internal.dial;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.conduit.core.DialException;
import dev.conduit.core.DialFailure;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ConnectTimeoutException;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.socksx.v4.Socks4CommandStatus;
import io.netty.handler.codec.socksx.v5.Socks5CommandStatus;
import io.netty.handler.proxy.HttpProxyHandler.HttpProxyConnectException;
import io.netty.handler.proxy.ProxyConnectException;
import java.io.IOException;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NoRouteToHostException;
import java.net.ServerSocket;
import java.net.SocketException;
import java.net.UnknownHostException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The wire values every {@link DialFailure} stands for (RFC 1928 §6 reply codes, HTTP statuses), and
 * how {@link DialErrors} classifies connect errors and upstream proxies' replies.
 */
class DialErrorsTest {

  private static final String SOCKS5_PREFIX = "socks5, none, /127.0.0.1:1080 => example.com:443, ";
  private static final String HTTP_PREFIX = "http, none, /127.0.0.1:3128 => example.com:443, ";

  /** Each failure's SOCKS5 reply byte and HTTP status, as literal wire values. */
  @Test
  void failuresCarryTheirWireValues() {
    assertThat(DialFailure.NOT_ALLOWED.socks5Reply()).isEqualTo(0x02); // connection not allowed by ruleset
    assertThat(DialFailure.NOT_ALLOWED.httpStatus()).isEqualTo(403);
    assertThat(DialFailure.NETWORK_UNREACHABLE.socks5Reply()).isEqualTo(0x03);
    assertThat(DialFailure.NETWORK_UNREACHABLE.httpStatus()).isEqualTo(502);
    assertThat(DialFailure.HOST_UNREACHABLE.socks5Reply()).isEqualTo(0x04);
    assertThat(DialFailure.HOST_UNREACHABLE.httpStatus()).isEqualTo(502);
    assertThat(DialFailure.CONNECTION_REFUSED.socks5Reply()).isEqualTo(0x05);
    assertThat(DialFailure.CONNECTION_REFUSED.httpStatus()).isEqualTo(502);
    assertThat(DialFailure.TIMEOUT.socks5Reply()).isEqualTo(0x06); // TTL expired
    assertThat(DialFailure.TIMEOUT.httpStatus()).isEqualTo(504);
    assertThat(DialFailure.UPSTREAM_AUTH_FAILED.socks5Reply()).isEqualTo(0x01);
    assertThat(DialFailure.UPSTREAM_AUTH_FAILED.httpStatus()).isEqualTo(502);
    assertThat(DialFailure.GENERAL.socks5Reply()).isEqualTo(0x01);
    assertThat(DialFailure.GENERAL.httpStatus()).isEqualTo(502);
    // no failure claims success (0x00) or a code RFC 1928 reserves for the request itself (0x07, 0x08)
    assertThat(DialFailure.values()).extracting(DialFailure::socks5Reply).allSatisfy(r ->
        assertThat(r).isBetween(0x01, 0x06));
  }

  /**
   * SOCKS4 has one reply for every failure: the SOCKS handler answers 0x5A (granted) or 0x5B (rejected
   * or failed) through these Netty constants; these are their bytes.
   */
  @Test
  void socks4RepliesAreGrantedOrRejected() {
    assertThat(Socks4CommandStatus.SUCCESS.byteValue()).isEqualTo((byte) 0x5A);
    assertThat(Socks4CommandStatus.REJECTED_OR_FAILED.byteValue()).isEqualTo((byte) 0x5B);
  }

  /** Each failure's RFC 9209 Proxy-Status error type. */
  @Test
  void proxyStatusErrorTypes() {
    assertThat(DialErrors.proxyStatusError(DialFailure.CONNECTION_REFUSED)).isEqualTo("connection_refused");
    assertThat(DialErrors.proxyStatusError(DialFailure.TIMEOUT)).isEqualTo("connection_timeout");
    assertThat(DialErrors.proxyStatusError(DialFailure.HOST_UNREACHABLE)).isEqualTo("destination_unavailable");
    assertThat(DialErrors.proxyStatusError(DialFailure.NETWORK_UNREACHABLE)).isEqualTo("destination_ip_unroutable");
    assertThat(DialErrors.proxyStatusError(DialFailure.NOT_ALLOWED)).isEqualTo("destination_ip_prohibited");
    assertThat(DialErrors.proxyStatusError(DialFailure.GENERAL)).isEqualTo("proxy_internal_error");
    assertThat(DialErrors.proxyStatusError(DialFailure.UPSTREAM_AUTH_FAILED)).isEqualTo("proxy_internal_error");
  }

  /**
   * Connect errors with the classes and messages Netty's epoll transport gives them: a failed
   * {@code connect}/{@code finishConnect} becomes a {@link ConnectException} "...(..) failed with
   * error(-errno): strerror", then annotated with the address; ENETUNREACH and EHOSTUNREACH both
   * become a message-less {@link NoRouteToHostException}.
   */
  @Test
  void connectErrorsAsEpollReportsThem() {
    assertThat(DialErrors.ofConnect(new ConnectException(
        "finishConnect(..) failed with error(-111): Connection refused: /127.0.0.1:9"))).isEqualTo(
        DialFailure.CONNECTION_REFUSED);
    assertThat(DialErrors.ofConnect(new ConnectException(
        "finishConnect(..) failed with error(-110): Connection timed out: /192.0.2.1:443"))).isEqualTo(
        DialFailure.TIMEOUT);
    // the exception alone cannot tell the two apart (the errno is dropped): the host-level reply, 0x04; with the
    // address, the route lookup decides (ShadedJarIT.unreachableNetworkAndHostAreToldApartInANamespace)
    assertThat(DialErrors.ofConnect(new NoRouteToHostException())).isEqualTo(DialFailure.HOST_UNREACHABLE);
    assertThat(DialErrors.ofConnect(new NoRouteToHostException("null: /192.0.2.1:443")))
        .isEqualTo(DialFailure.HOST_UNREACHABLE);
    assertThat(DialErrors.ofConnect(new ConnectTimeoutException("connection timed out after 10000 ms: /192.0.2.1:443")))
        .isEqualTo(DialFailure.TIMEOUT);
  }

  /**
   * With the address: loopback has a route, so epoll's bare no-route stays "host unreachable"; other errors are
   * not looked up; the text for people never reads "null".
   */
  @Test
  void bareNoRouteWithAnAddressThatHasARouteIsHostUnreachable() {
    InetSocketAddress loopback = new InetSocketAddress(InetAddress.getLoopbackAddress(), 9);
    NoRouteToHostException bare = new NoRouteToHostException("null: /127.0.0.1:9");
    assertThat(DialErrors.hasRoute(loopback)).isTrue();
    assertThat(DialErrors.ofConnect(bare, loopback)).isEqualTo(DialFailure.HOST_UNREACHABLE);
    assertThat(DialErrors.connectReason(bare, DialFailure.HOST_UNREACHABLE)).isEqualTo("no route to host");
    assertThat(DialErrors.connectReason(new NoRouteToHostException(), DialFailure.NETWORK_UNREACHABLE))
        .isEqualTo("network is unreachable");
    ConnectException refused = new ConnectException("Connection refused: /127.0.0.1:9");
    assertThat(DialErrors.ofConnect(refused, loopback)).isEqualTo(DialFailure.CONNECTION_REFUSED);
    assertThat(DialErrors.connectReason(refused, DialFailure.CONNECTION_REFUSED)).isEqualTo("Connection refused: /127.0.0.1:9");
    assertThat(DialErrors.ofConnect(bare, InetSocketAddress.createUnresolved("example.test", 9)))
        .isEqualTo(DialFailure.HOST_UNREACHABLE);
  }

  /** The JDK's (NIO transport) messages, name resolution failures, and anything else. */
  @Test
  void connectErrorsAsTheJdkReportsThem() {
    assertThat(DialErrors.ofConnect(new ConnectException("Connection refused"))).isEqualTo(
        DialFailure.CONNECTION_REFUSED);
    assertThat(DialErrors.ofConnect(new SocketException("Network is unreachable: /198.51.100.1:80")))
        .isEqualTo(DialFailure.NETWORK_UNREACHABLE);
    assertThat(DialErrors.ofConnect(new ConnectException("Network is unreachable"))).isEqualTo(
        DialFailure.NETWORK_UNREACHABLE);
    assertThat(DialErrors.ofConnect(new NoRouteToHostException("No route to host"))).isEqualTo(
        DialFailure.HOST_UNREACHABLE);
    assertThat(DialErrors.ofConnect(new SocketException("Host is unreachable"))).isEqualTo(
        DialFailure.HOST_UNREACHABLE);
    assertThat(DialErrors.ofConnect(new ConnectException("Connection timed out"))).isEqualTo(DialFailure.TIMEOUT);
    assertThat(DialErrors.ofConnect(new UnknownHostException("nosuch.invalid: Name or service not known")))
        .isEqualTo(DialFailure.HOST_UNREACHABLE);
    assertThat(DialErrors.ofConnect(new UnknownHostException(
        "Failed to resolve 'nosuch.invalid' [A(1), AAAA(28)]"))).isEqualTo(DialFailure.HOST_UNREACHABLE);
    assertThat(DialErrors.ofConnect(new IOException("Connection reset by peer"))).isEqualTo(DialFailure.GENERAL);
    assertThat(DialErrors.ofConnect(new IllegalStateException())).isEqualTo(DialFailure.GENERAL);
  }

  /** A real refused connect on loopback, through NIO and (where available) epoll: 0x05 and 502. */
  @Test
  void realRefusedConnectIsConnectionRefused() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    InetSocketAddress closed = new InetSocketAddress(InetAddress.getLoopbackAddress(), port);
    Throwable nio = refusedCause(NioIoHandler.newFactory(), NioSocketChannel.class, closed);
    assertThat(DialErrors.ofConnect(nio)).isEqualTo(DialFailure.CONNECTION_REFUSED);
    DialException wrapped = DialErrors.wrap(nio, "dial " + closed);
    assertThat(wrapped.failure().socks5Reply()).isEqualTo(0x05);
    assertThat(wrapped.failure().httpStatus()).isEqualTo(502);
    assertThat(wrapped.getMessage()).startsWith("dial ").contains("Connection refused");
    assumeTrue(Epoll.isAvailable(), "epoll is not available here");
    Throwable epoll = refusedCause(EpollIoHandler.newFactory(), EpollSocketChannel.class, closed);
    assertThat(epoll).isInstanceOf(ConnectException.class);
    assertThat(DialErrors.ofConnect(epoll)).isEqualTo(DialFailure.CONNECTION_REFUSED);
  }

  private static Throwable refusedCause(IoHandlerFactory io, Class<? extends Channel> type, InetSocketAddress to)
      throws InterruptedException {
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, io);
    try {
      ChannelFuture f = new Bootstrap().group(group).channel(type).handler(new ChannelInboundHandlerAdapter())
          .connect(to);
      assertThat(f.await(5, TimeUnit.SECONDS)).isTrue();
      assertThat(f.isSuccess()).isFalse();
      return f.cause();
    } finally {
      group.shutdownGracefully(0, 0, TimeUnit.SECONDS).sync();
    }
  }

  /** wrap keeps a DialException as it is and classifies anything else. */
  @Test
  void wrapKeepsDialExceptions() {
    DialException d = new DialException(DialFailure.NOT_ALLOWED, "rule says no");
    assertThat(DialErrors.wrap(d, "x")).isSameAs(d);
    DialException t = DialErrors.wrap(new ConnectTimeoutException("connection timed out after 5 ms"), "dial a:1");
    assertThat(t.failure().socks5Reply()).isEqualTo(0x06);
    assertThat(t.failure().httpStatus()).isEqualTo(504);
    assertThat(t.getMessage()).isEqualTo("dial a:1: connection timed out after 5 ms");
  }

  /** An upstream SOCKS5 proxy's reply byte carries over to ours unchanged, as Netty's handler words it. */
  @Test
  void socks5UpstreamRepliesCarryOver() {
    assertThat(socks5(Socks5CommandStatus.FAILURE)).isEqualTo(DialFailure.GENERAL);
    assertThat(socks5(Socks5CommandStatus.FORBIDDEN)).isEqualTo(DialFailure.NOT_ALLOWED);
    assertThat(socks5(Socks5CommandStatus.NETWORK_UNREACHABLE)).isEqualTo(DialFailure.NETWORK_UNREACHABLE);
    assertThat(socks5(Socks5CommandStatus.HOST_UNREACHABLE)).isEqualTo(DialFailure.HOST_UNREACHABLE);
    assertThat(socks5(Socks5CommandStatus.CONNECTION_REFUSED)).isEqualTo(DialFailure.CONNECTION_REFUSED);
    assertThat(socks5(Socks5CommandStatus.TTL_EXPIRED)).isEqualTo(DialFailure.TIMEOUT);
    assertThat(socks5(Socks5CommandStatus.COMMAND_UNSUPPORTED)).isEqualTo(DialFailure.GENERAL);
    assertThat(socks5(Socks5CommandStatus.ADDRESS_UNSUPPORTED)).isEqualTo(DialFailure.GENERAL);
    // the byte the upstream sent is the byte our client gets, 0x01 to 0x06
    for (int code = 0x01; code <= 0x06; code++) {
      assertThat(socks5(Socks5CommandStatus.valueOf((byte) code)).socks5Reply()).as("reply %d", code)
          .isEqualTo(code);
    }
    assertThat(DialErrors.ofProxyReply(new ProxyConnectException(
        "socks4, none, /127.0.0.1:1080 => example.com:443, status: " + Socks4CommandStatus.REJECTED_OR_FAILED)))
        .isEqualTo(DialFailure.GENERAL);
  }

  /** The proxy itself failing (timeout, bad credentials) is not a reply about the target: null. */
  @Test
  void proxyFailuresThatAreNotAboutTheTarget() {
    assertThat(DialErrors.ofProxyReply(new ProxyConnectException(SOCKS5_PREFIX + "timeout"))).isNull();
    ProxyConnectException auth = new ProxyConnectException(
        SOCKS5_PREFIX + "authStatus: " + io.netty.handler.codec.socksx.v5.Socks5PasswordAuthStatus.FAILURE);
    assertThat(DialErrors.ofProxyReply(auth)).isNull();
    assertThat(DialErrors.isAuthFailure(auth)).isTrue();
    assertThat(DialErrors.isAuthFailure(new ProxyConnectException(SOCKS5_PREFIX + "unexpected authMethod: "
        + io.netty.handler.codec.socksx.v5.Socks5AuthMethod.UNACCEPTED))).isTrue();
    assertThat(DialErrors.isAuthFailure(new ProxyConnectException(
        SOCKS5_PREFIX + "status: " + Socks5CommandStatus.CONNECTION_REFUSED))).isFalse();
  }

  /** An upstream HTTP proxy's status (407, 403, 502, 504, 500) and its RFC 9209 Proxy-Status header. */
  @Test
  void httpUpstreamReplies() {
    HttpProxyConnectException e407 = http(HttpResponseStatus.PROXY_AUTHENTICATION_REQUIRED, null);
    assertThat(DialErrors.ofProxyReply(e407)).isNull();
    assertThat(DialErrors.isAuthFailure(e407)).isTrue();

    DialFailure forbidden = DialErrors.ofProxyReply(http(HttpResponseStatus.FORBIDDEN, null));
    assertThat(forbidden).isEqualTo(DialFailure.NOT_ALLOWED);
    assertThat(forbidden.httpStatus()).isEqualTo(403);
    assertThat(forbidden.socks5Reply()).isEqualTo(0x02);

    DialFailure gatewayTimeout = DialErrors.ofProxyReply(http(HttpResponseStatus.GATEWAY_TIMEOUT, null));
    assertThat(gatewayTimeout).isEqualTo(DialFailure.TIMEOUT);
    assertThat(gatewayTimeout.httpStatus()).isEqualTo(504);
    assertThat(gatewayTimeout.socks5Reply()).isEqualTo(0x06);

    DialFailure badGateway = DialErrors.ofProxyReply(http(HttpResponseStatus.BAD_GATEWAY, null));
    assertThat(badGateway).isEqualTo(DialFailure.GENERAL);
    assertThat(badGateway.httpStatus()).isEqualTo(502);
    assertThat(badGateway.socks5Reply()).isEqualTo(0x01);
    // tinyproxy answers 500 for a refused connect
    assertThat(DialErrors.ofProxyReply(http(HttpResponseStatus.INTERNAL_SERVER_ERROR, null)))
        .isEqualTo(DialFailure.GENERAL);
    assertThat(DialErrors.isAuthFailure(http(HttpResponseStatus.BAD_GATEWAY, null))).isFalse();

    // a Proxy-Status header is more precise than the status line
    assertThat(DialErrors.ofProxyReply(http(HttpResponseStatus.BAD_GATEWAY,
        "squid; error=connection_refused; details=\"x\""))).isEqualTo(DialFailure.CONNECTION_REFUSED);
    assertThat(DialErrors.ofProxyReply(http(HttpResponseStatus.BAD_GATEWAY, "proxy; error=dns_error")))
        .isEqualTo(DialFailure.HOST_UNREACHABLE);
    assertThat(DialErrors.ofProxyReply(http(HttpResponseStatus.GATEWAY_TIMEOUT, "proxy; error=dns_timeout")))
        .isEqualTo(DialFailure.TIMEOUT);
    assertThat(DialErrors.ofProxyReply(http(HttpResponseStatus.BAD_GATEWAY,
        "proxy; error=destination_ip_unroutable"))).isEqualTo(DialFailure.NETWORK_UNREACHABLE);
    assertThat(DialErrors.ofProxyReply(http(HttpResponseStatus.FORBIDDEN,
        "proxy; error=destination_ip_prohibited"))).isEqualTo(DialFailure.NOT_ALLOWED);
    // an unknown error type falls back to the status
    assertThat(DialErrors.ofProxyReply(http(HttpResponseStatus.GATEWAY_TIMEOUT, "proxy; error=something_new")))
        .isEqualTo(DialFailure.TIMEOUT);
    // no status at all: the proxy failed, not the target
    assertThat(DialErrors.ofProxyReply(new HttpProxyConnectException(HTTP_PREFIX + "timeout", null))).isNull();
  }

  private static DialFailure socks5(Socks5CommandStatus status) {
    return DialErrors.ofProxyReply(new ProxyConnectException(SOCKS5_PREFIX + "status: " + status));
  }

  private static HttpProxyConnectException http(HttpResponseStatus status, String proxyStatus) {
    HttpHeaders headers = new DefaultHttpHeaders();
    if (proxyStatus != null) {
      headers.set("Proxy-Status", proxyStatus);
    }
    return new HttpProxyConnectException(HTTP_PREFIX + "status: " + status, headers);
  }
}
