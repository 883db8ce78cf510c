package dev.conduit.core.internal.dial;

import dev.conduit.core.DialException;
import dev.conduit.core.DialFailure;
import io.netty.channel.ConnectTimeoutException;
import io.netty.handler.proxy.HttpProxyHandler;
import io.netty.handler.proxy.ProxyConnectException;
import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.NoRouteToHostException;
import java.net.UnknownHostException;
import java.nio.channels.DatagramChannel;
import java.util.Locale;

/** Maps I/O and proxy-handshake errors to {@link DialFailure}s. */
public final class DialErrors {
  private DialErrors() {}

  /** The failure for a direct TCP connect error. */
  public static DialFailure ofConnect(Throwable cause) {
    String msg = String.valueOf(cause.getMessage()).toLowerCase(Locale.ROOT);
    if (cause instanceof ConnectTimeoutException || msg.contains("timed out")) {
      return DialFailure.TIMEOUT;
    }
    if (cause instanceof UnknownHostException) {
      return DialFailure.HOST_UNREACHABLE;
    }
    if (msg.contains("network is unreachable")) {
      return DialFailure.NETWORK_UNREACHABLE;
    }
    if (cause instanceof NoRouteToHostException || msg.contains("no route to host") || msg.contains("host is unreachable")) {
      return DialFailure.HOST_UNREACHABLE;
    }
    if (msg.contains("connection refused") || cause instanceof ConnectException && msg.contains("refused")) {
      return DialFailure.CONNECTION_REFUSED;
    }
    return DialFailure.GENERAL;
  }

  /**
   * As {@link #ofConnect(Throwable)} for a connect to {@code address}, also telling "network unreachable"
   * from "host unreachable" where the transport does not: Netty's epoll transport reports ENETUNREACH and
   * EHOSTUNREACH alike, as a {@link NoRouteToHostException} without a message. Then the kernel's route to
   * {@code address} decides: a UDP socket's {@code connect} looks it up without sending anything, and fails
   * with "Network is unreachable" when there is none. Only failed dials pay for it.
   */
  public static DialFailure ofConnect(Throwable cause, InetSocketAddress address) {
    DialFailure failure = ofConnect(cause);
    if (failure == DialFailure.HOST_UNREACHABLE && isBareNoRoute(cause) && address != null
        && !address.isUnresolved() && !hasRoute(address)) {
      return DialFailure.NETWORK_UNREACHABLE;
    }
    return failure;
  }

  /**
   * A connect error's text for people: the exception's message, or for the bare no-route exception of
   * Netty's epoll transport (whose message reads "null: /address") what {@code failure} means.
   */
  public static String connectReason(Throwable cause, DialFailure failure) {
    if (isBareNoRoute(cause)) {
      return failure == DialFailure.NETWORK_UNREACHABLE ? "network is unreachable" : "no route to host";
    }
    return cause.getMessage() != null ? cause.getMessage() : cause.toString();
  }

  /** Netty's epoll ENETUNREACH/EHOSTUNREACH: no message, or "null: /address" once annotated with the address. */
  private static boolean isBareNoRoute(Throwable cause) {
    String m = cause.getMessage();
    return cause instanceof NoRouteToHostException && (m == null || m.startsWith("null: ") || m.equals("null"));
  }

  /** Whether the kernel has a route to {@code address} (any answer but "network is unreachable" counts as one). */
  static boolean hasRoute(InetSocketAddress address) {
    try (DatagramChannel probe = DatagramChannel.open()) {
      probe.connect(address);
      return true;
    } catch (IOException | RuntimeException e) {
      return !String.valueOf(e.getMessage()).toLowerCase(Locale.ROOT).contains("network is unreachable");
    }
  }

  /**
   * The failure an upstream proxy reported about its target, or {@code null} when the proxy itself
   * failed (unreachable, timed out, closed, bad credentials are reported by {@link #isAuthFailure}).
   */
  public static DialFailure ofProxyReply(ProxyConnectException e) {
    String msg = String.valueOf(e.getMessage());
    if (e instanceof HttpProxyHandler.HttpProxyConnectException http) {
      String proxyStatus = http.headers() == null ? null : http.headers().get("Proxy-Status");
      if (proxyStatus != null) {
        DialFailure fromHeader = ofProxyStatus(proxyStatus);
        if (fromHeader != null) {
          return fromHeader;
        }
      }
      if (msg.contains("status: 504")) {
        return DialFailure.TIMEOUT;
      }
      if (msg.contains("status: 403")) {
        return DialFailure.NOT_ALLOWED;
      }
      if (msg.contains("status: 407")) {
        return null; // our credentials: see isAuthFailure
      }
      // any other answer comes from a working proxy about its target (tinyproxy says 500 for a refused
      // connect): the proxy is not at fault and failing over to its sibling would not help
      return msg.contains("status: ") ? DialFailure.GENERAL : null;
    }
    if (msg.contains("status: CONNECTION_REFUSED")) {
      return DialFailure.CONNECTION_REFUSED;
    }
    if (msg.contains("status: HOST_UNREACHABLE")) {
      return DialFailure.HOST_UNREACHABLE;
    }
    if (msg.contains("status: NETWORK_UNREACHABLE")) {
      return DialFailure.NETWORK_UNREACHABLE;
    }
    if (msg.contains("status: TTL_EXPIRED")) {
      return DialFailure.TIMEOUT;
    }
    if (msg.contains("status: FORBIDDEN")) {
      return DialFailure.NOT_ALLOWED;
    }
    if (msg.contains("status: FAILURE") || msg.contains("status: COMMAND_UNSUPPORTED")
        || msg.contains("status: ADDRESS_UNSUPPORTED") || msg.contains("status: REJECTED")) {
      return DialFailure.GENERAL;
    }
    return null;
  }

  /** The failure named by an RFC 9209 {@code Proxy-Status} error parameter, or {@code null}. */
  public static DialFailure ofProxyStatus(String proxyStatus) {
    String s = proxyStatus.toLowerCase(Locale.ROOT);
    if (s.contains("error=connection_refused")) {
      return DialFailure.CONNECTION_REFUSED;
    }
    if (s.contains("error=connection_timeout") || s.contains("error=dns_timeout")) {
      return DialFailure.TIMEOUT;
    }
    if (s.contains("error=dns_error")) {
      return DialFailure.HOST_UNREACHABLE;
    }
    if (s.contains("error=destination_ip_unroutable")) {
      return DialFailure.NETWORK_UNREACHABLE;
    }
    if (s.contains("error=destination_unavailable") || s.contains("error=destination_not_found")) {
      return DialFailure.HOST_UNREACHABLE;
    }
    if (s.contains("error=destination_ip_prohibited") || s.contains("error=proxy_configuration_error")) {
      return DialFailure.NOT_ALLOWED;
    }
    return null;
  }

  /** The RFC 9209 {@code Proxy-Status} error type for a failure. */
  public static String proxyStatusError(DialFailure failure) {
    return switch (failure) {
      case CONNECTION_REFUSED -> "connection_refused";
      case TIMEOUT -> "connection_timeout";
      case HOST_UNREACHABLE -> "destination_unavailable";
      case NETWORK_UNREACHABLE -> "destination_ip_unroutable";
      case NOT_ALLOWED -> "destination_ip_prohibited";
      case UPSTREAM_AUTH_FAILED -> "proxy_internal_error";
      case GENERAL -> "proxy_internal_error";
      case OVERLOADED -> "proxy_internal_response";
    };
  }

  /** Whether the proxy refused our credentials. */
  public static boolean isAuthFailure(ProxyConnectException e) {
    String msg = String.valueOf(e.getMessage());
    return msg.contains("status: 407") || msg.contains("authStatus: FAILURE") || msg.contains("unexpected authMethod");
  }

  /**
   * The message of {@code e} followed by its causes' messages, so that a provider's generic text
   * ("General OpenSslEngine problem") is followed by the reason (a PKIX path or hostname failure).
   */
  public static String describe(Throwable e) {
    StringBuilder sb = new StringBuilder(String.valueOf(e.getMessage()));
    Throwable c = e.getCause();
    for (int i = 0; c != null && i < 5; i++, c = c.getCause()) {
      String m = c.getMessage();
      if (m != null && sb.indexOf(m) < 0) {
        sb.append(": ").append(m);
      }
    }
    return sb.toString();
  }

  /** Wraps anything into a {@link DialException}. */
  public static DialException wrap(Throwable cause, String what) {
    if (cause instanceof DialException d) {
      return d;
    }
    return new DialException(ofConnect(cause), what + ": " + cause.getMessage(), cause);
  }
}
