package dev.conduit.core.internal.http;

import dev.conduit.core.inbound.HttpInboundOptions;
import dev.conduit.core.inbound.InboundContext;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpRequest;
import java.util.Optional;

/**
 * Basic proxy authentication for one connection: the header accepted last is remembered, so the same header
 * on every request of a kept-alive connection is checked once.
 */
final class ProxyAuthentication {
  private final HttpInboundOptions options;
  private final InboundContext context;
  private String acceptedAuthorization;
  private String principal;

  ProxyAuthentication(HttpInboundOptions options, InboundContext context) {
    this.options = options;
    this.context = context;
  }

  /** The authenticated user, or null. */
  String principal() {
    return principal;
  }

  /** Null when the request may go on; otherwise why it may not (then: 407). */
  String check(HttpRequest req) {
    if (options.authenticator().isEmpty()) {
      return null;
    }
    String header = req.headers().get(HttpHeaderNames.PROXY_AUTHORIZATION);
    if (header != null && header.equals(acceptedAuthorization)) {
      return null;
    }
    String[] creds = HttpMessages.basicCredentials(header);
    Optional<String> who = creds == null ? Optional.empty()
        : options.authenticator().get().authenticate(creds[0], creds[1]);
    if (who.isEmpty()) {
      return header == null ? "no Proxy-Authorization"
          : creds == null ? "malformed Proxy-Authorization" : "wrong credentials for user " + creds[0];
    }
    acceptedAuthorization = header;
    principal = who.get();
    context.principal(principal);
    return null;
  }

  /** The {@code Proxy-Authenticate} header line of the 407. */
  String challenge() {
    return "Proxy-Authenticate: Basic realm=\"" + options.realm() + "\"";
  }
}
