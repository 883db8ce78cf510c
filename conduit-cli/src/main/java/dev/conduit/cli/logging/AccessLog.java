package dev.conduit.cli.logging;

import dev.conduit.core.observe.ConnectionObserver;
import dev.conduit.core.observe.ConnectionSummary;
import dev.conduit.core.observe.Outcome;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Logs one line per closed connection on the {@code conduit.access} logger, starting with the
 * connection id: {@code [c12] socks 127.0.0.1:51234 -> example.com:443 rule=default via=direct OK
 * in=517 out=4096 1203ms}. At INFO, so the default level shows traffic.
 */
public final class AccessLog implements ConnectionObserver {

  private static final Logger log = LoggerFactory.getLogger("conduit.access");

  @Override
  public void closed(ConnectionSummary s) {
    if (!log.isInfoEnabled()) {
      return;
    }
    StringBuilder b = new StringBuilder(160);
    b.append('[').append(s.connection().id()).append("] ").append(s.connection().listener()).append(' ')
        .append(s.connection().client().getAddress() == null ? s.connection().client().getHostString()
            : s.connection().client().getAddress().getHostAddress())
        .append(':').append(s.connection().client().getPort());
    s.destination().ifPresent(d -> b.append(" -> ").append(d));
    s.principal().ifPresent(p -> b.append(" user=").append(p));
    s.rule().ifPresent(r -> b.append(" rule=").append(r));
    s.outbound().ifPresent(o -> b.append(" via=").append(o));
    b.append(' ').append(s.outcome());
    if (!s.detail().isEmpty() && s.outcome() != Outcome.OK) {
      b.append(" (").append(s.detail()).append(')');
    }
    b.append(" in=").append(s.bytesFromClient()).append(" out=").append(s.bytesToClient())
        .append(' ').append(s.total().toMillis()).append("ms");
    log.info(b.toString());
  }
}
