package dev.conduit.core.internal.dial;

import dev.conduit.core.Destination;
import dev.conduit.core.DialException;
import dev.conduit.core.DialFailure;
import io.netty.handler.proxy.ProxyConnectException;
import java.util.List;
import javax.net.ssl.SSLException;

/**
 * What a failed chain dial means: the error to report, whether another endpoint may do better, and (recorded in
 * the endpoints' health) which endpoint failed. The first hop whose step failed is the culprit; later hops fail as
 * a consequence.
 */
record ChainFailure(DialException error, boolean retry) {

  /**
   * Judges a failure of the chain through {@code chosen} (one endpoint per hop) to {@code target}, backing off the
   * endpoint that failed in {@code health}.
   */
  static ChainFailure judge(List<HopHandlers> handlers, List<Destination> chosen, Throwable cause, Destination target,
      EndpointBackoff health) {
    int culprit = -1;
    Throwable reason = cause;
    for (HopHandlers h : handlers) {
      Throwable c = h.failure();
      if (c != null) {
        culprit = h.index;
        reason = c;
        break;
      }
    }
    if (culprit < 0) {
      // TCP connect to the first hop failed
      health.failed(chosen.get(0));
      return new ChainFailure(new DialException(DialErrors.ofConnect(cause),
          "upstream proxy " + chosen.get(0) + " unreachable: " + cause.getMessage(), cause), true);
    }
    if (reason instanceof ProxyConnectException pce && DialErrors.isAuthFailure(pce)) {
      return new ChainFailure(new DialException(DialFailure.UPSTREAM_AUTH_FAILED,
          "upstream proxy " + chosen.get(culprit) + " refused our credentials", pce), false);
    }
    if (reason instanceof ProxyConnectException pce && DialErrors.ofProxyReply(pce) != null) {
      DialFailure failure = DialErrors.ofProxyReply(pce);
      boolean lastHop = culprit == handlers.size() - 1;
      if (lastHop) {
        return new ChainFailure(new DialException(failure, "upstream proxy " + chosen.get(culprit)
            + " could not reach " + target + ": " + pce.getMessage(), pce), false);
      }
      // the hop could not reach the next hop's endpoint
      health.failed(chosen.get(culprit + 1));
      return new ChainFailure(new DialException(failure, "hop " + chosen.get(culprit) + " could not reach hop "
          + chosen.get(culprit + 1) + ": " + pce.getMessage(), pce), true);
    }
    if (reason instanceof SSLException || reason.getCause() instanceof SSLException) {
      health.failed(chosen.get(culprit));
      return new ChainFailure(new DialException(DialFailure.GENERAL, "TLS handshake with upstream proxy "
          + chosen.get(culprit) + " failed: " + DialErrors.describe(reason), reason), true);
    }
    health.failed(chosen.get(culprit));
    DialFailure f = reason instanceof ProxyConnectException && String.valueOf(reason.getMessage()).contains("timeout")
        ? DialFailure.TIMEOUT : DialFailure.GENERAL;
    return new ChainFailure(new DialException(f, "upstream proxy " + chosen.get(culprit) + " failed: "
        + reason.getMessage(), reason), true);
  }
}
