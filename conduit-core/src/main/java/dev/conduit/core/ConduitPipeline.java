package dev.conduit.core;

/**
 * Names of conduit's handlers, and their order.
 *
 * <p>Downstream (accepted) channels, head to tail:
 * <ol>
 *   <li>{@link #TLS} on listeners with TLS, and {@link #TLS_GATE} (at the tail, until the handshake
 *       succeeds and the protocol is installed);</li>
 *   <li>{@link #TRAFFIC} counts bytes each way for the access log;</li>
 *   <li>{@link #NEGOTIATION_TIMEOUT} closes clients that do not finish their handshake in time
 *       (removed when the relay starts);</li>
 *   <li>the protocol's handlers ({@code http-codec}, {@code socks-decoder}, ...), which remove
 *       themselves when the relay starts;</li>
 *   <li>{@link #LAST_RESORT}, which closes the connection on an exception that reached it;</li>
 *   <li>{@link #RELAY_IDLE} and {@link #RELAY} once tunnelled; when the tunnel is spliced,
 *       {@link #RELAY_IDLE} goes and {@link #RELAY_SPLICE} follows {@link #RELAY} on both channels.</li>
 * </ol>
 * Upstream (dialed) channels, head to tail: {@link #TRAFFIC}, then one {@code hop-N-tls} and
 * {@code hop-N-proxy} pair per hop while dialing (removed after the last handshake), then
 * {@link #RELAY}.
 *
 * <p>HTTP/2 tunnel streams (multiplexed tunnels), head to tail: {@code conduit-h2-stream} (DATA frames to bytes
 * and back, END_STREAM as half-close), {@link #TRAFFIC}, then as an accepted or dialed channel. Their parent
 * connection carries {@link #TLS}, the HTTP/2 codec and the stream multiplexer.
 */
public final class ConduitPipeline {
  /** The server-side TLS handler of a TLS listener (first in the pipeline). */
  public static final String TLS = "conduit-tls";
  /** Holds the protocol back until the TLS handshake succeeded. */
  public static final String TLS_GATE = "conduit-tls-gate";
  /** Counts the bytes read and written. */
  public static final String TRAFFIC = "conduit-traffic";
  /** Bounds the time to a complete request; removed when the relay starts. */
  public static final String NEGOTIATION_TIMEOUT = "conduit-negotiation-timeout";
  /** Closes a tunnel idle for too long. */
  public static final String RELAY_IDLE = "conduit-relay-idle";
  /** Moves bytes between the two channels of a tunnel. */
  public static final String RELAY = "conduit-relay";
  /** Added when the relay splices: stops splicing before the channel's descriptor closes. */
  public static final String RELAY_SPLICE = "conduit-relay-splice";
  /** Prefix of a hop's TLS handler while dialing, followed by the hop's index. */
  public static final String HOP_TLS_PREFIX = "conduit-hop-tls-";
  /** Prefix of a hop's proxy handshake handler while dialing, followed by the hop's index. */
  public static final String HOP_PROXY_PREFIX = "conduit-hop-proxy-";
  /** Closes the connection on an exception no protocol handler dealt with; kept after the protocol's handlers. */
  public static final String LAST_RESORT = "conduit-last-resort";

  private ConduitPipeline() {}
}
