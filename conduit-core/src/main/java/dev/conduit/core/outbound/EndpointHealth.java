package dev.conduit.core.outbound;

import dev.conduit.core.Destination;

/**
 * The health of hop endpoints as a conduit's dialer sees it: a failed endpoint is backed off (skipped while other
 * endpoints of its hop answer, for a time that grows with each consecutive failure) and one that succeeded is used
 * again at once, in its configured order. The dialer reports its own dials; active checkers (such as
 * {@code TunnelHealthChecker}) report theirs. Thread-safe.
 */
public interface EndpointHealth {

  /** Records a failure of {@code endpoint}. */
  void failed(Destination endpoint);

  /** Records a success of {@code endpoint}. */
  void succeeded(Destination endpoint);

  /** Whether {@code endpoint} is currently backed off. */
  boolean isBackedOff(Destination endpoint);
}
