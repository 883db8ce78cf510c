package dev.conduit.core.inbound;

/**
 * Fired as a user event on a downstream connection whose negotiation timeout expired before its protocol
 * called {@link InboundContext#negotiated()}. Right after it conduit closes the connection; a protocol that
 * can say why (HTTP: {@code 408 Request Timeout} to a client that began a request) writes its answer while
 * handling the event.
 */
public final class NegotiationTimeoutEvent {
  /** The only instance. */
  public static final NegotiationTimeoutEvent INSTANCE = new NegotiationTimeoutEvent();

  private NegotiationTimeoutEvent() {}

  @Override
  public String toString() {
    return "NegotiationTimeoutEvent";
  }
}
