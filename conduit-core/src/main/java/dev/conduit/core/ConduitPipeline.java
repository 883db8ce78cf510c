package dev.conduit.core;

/**
 * The names of conduit's channel handlers, in every module, and the order they take in each kind of pipeline.
 * Handlers are added and found by these names only; a handler without one here has a name Netty generated (the
 * decoders Netty's SOCKS version detection adds, the push channel's handlers).
 *
 * <h2>Accepted channels (listeners), head to tail</h2>
 * <ol>
 *   <li>{@link #TLS} on listeners with TLS, with {@link #TLS_GATE} at the tail until the handshake succeeds and
 *       the protocol is installed;</li>
 *   <li>{@link #TRAFFIC} counts bytes each way for the access log;</li>
 *   <li>{@link #NEGOTIATION_TIMEOUT} closes clients that do not finish their request in time (removed when the
 *       relay starts);</li>
 *   <li>the protocol's handlers, which remove themselves when the relay starts:
 *     <ul>
 *       <li>HTTP: {@link #HTTP_HEAD_WATCH}, {@link #HTTP_CODEC}, {@link #HTTP_HANDLER};</li>
 *       <li>SOCKS: {@link #SOCKS_DETECT} (which replaces itself with Netty's decoder for the version the client
 *           speaks), then for SOCKS5 {@link #SOCKS5_AUTH_DECODER} or {@link #SOCKS5_COMMAND_DECODER}, and
 *           {@link #SOCKS_HANDLER};</li>
 *       <li>mixed: {@link #MIXED_DETECT}, replaced by the HTTP or SOCKS handlers after the first byte;</li>
 *       <li>tunnel server: {@link #TUNNEL_CONNECT} (HTTP/1.1 CONNECT) or, when TLS negotiated {@code h2},
 *           {@link #H2_CODEC}, {@link #H2_STREAMS}, {@link #H2_IDLE}, {@link #H2_EVENTS};</li>
 *       <li>port forwarding: {@link #TUNNEL_FORWARD};</li>
 *       <li>transparent (conduit-netfilter): {@link #TRANSPARENT};</li>
 *       <li>MITM proxy (conduit-mitm): {@link #MITM_CODEC}, {@link #MITM_CHUNKED}, {@link #MITM_AGGREGATOR},
 *           {@link #MITM}; an intercepted CONNECT swaps the first three for {@link #MITM_SNI},
 *           {@link #MITM_TLS_CODEC}, {@link #MITM_TLS_CHUNKED} and {@link #MITM_TLS_AGGREGATOR}, before
 *           {@link #MITM};</li>
 *     </ul></li>
 *   <li>{@link #LAST_RESORT}, which closes the connection on an exception that reached it;</li>
 *   <li>{@link #RELAY_IDLE} and {@link #RELAY} once tunnelled; when the tunnel is spliced, {@link #RELAY_IDLE}
 *       goes and {@link #RELAY_SPLICE} follows {@link #RELAY} on both channels.</li>
 * </ol>
 *
 * <h2>Dialed channels (upstreams), head to tail</h2>
 * {@link #TRAFFIC}, then one {@link #HOP_TLS_PREFIX hop TLS} and {@link #HOP_PROXY_PREFIX hop proxy} handler per
 * hop while dialing (the hop's index appended), then {@link #DIAL_GUARD}; the hop handlers stay, the guard goes
 * when the dial succeeds. Then, by who uses the upstream:
 * <ul>
 *   <li>a tunnel: {@link #RELAY};</li>
 *   <li>the HTTP proxy forwarding a request: {@link #HTTP_UPSTREAM_CODEC}, {@link #HTTP_UPSTREAM};</li>
 *   <li>the MITM proxy: {@link #MITM_UPSTREAM_TLS} and {@link #MITM_UPSTREAM_GUARD} for {@code https},
 *       {@link #MITM_UPSTREAM_TIMEOUT}, {@link #MITM_UPSTREAM_CODEC}, {@link #MITM_UPSTREAM} during a call, or
 *       {@link #MITM_POOL_IDLE} while the connection waits in the pool.</li>
 * </ul>
 *
 * <h2>Multiplexed (HTTP/2) tunnels</h2>
 * A client's pooled connection: {@link #HOP_TLS_PREFIX}{@code 0}, {@link #H2_CODEC}, {@link #H2_STREAMS},
 * {@link #H2_LAST_RESORT}. A tunnel stream, on either side: {@link #H2_STREAM} (DATA frames to bytes and back,
 * END_STREAM as half-close), {@link #TRAFFIC}, then as an accepted or dialed channel (the server adds
 * {@link #TUNNEL_CONNECT}).
 *
 * <h2>Admin endpoint and mesh manager API</h2>
 * The admin endpoint: {@link #ADMIN_TLS} (with TLS only), {@link #ADMIN_CODEC}, {@link #ADMIN_KEEP_ALIVE}, {@link #ADMIN_AGGREGATOR}, {@link #ADMIN}.
 * The mesh manager's API: {@link #MANAGER_TLS}, {@link #MANAGER_IDLE}, {@link #MANAGER_CODEC},
 * {@link #MANAGER_AGGREGATOR}, {@link #MANAGER_API}. The control plane's push channel (server and client) adds
 * its handlers without names: nothing looks them up.
 */
public final class ConduitPipeline {
  // ---- accepted channels, conduit's own handlers

  /** The server-side TLS handler of a TLS listener (first in the pipeline). */
  public static final String TLS = "conduit-tls";
  /** Holds the protocol back until the TLS handshake succeeded. */
  public static final String TLS_GATE = "conduit-tls-gate";
  /** Counts the bytes read and written (accepted, dialed and stream channels). */
  public static final String TRAFFIC = "conduit-traffic";
  /** Bounds the time to a complete request; removed when the relay starts. */
  public static final String NEGOTIATION_TIMEOUT = "conduit-negotiation-timeout";
  /** Closes the connection on an exception no protocol handler dealt with; kept after the protocol's handlers. */
  public static final String LAST_RESORT = "conduit-last-resort";
  /** Closes a tunnel idle for too long. */
  public static final String RELAY_IDLE = "conduit-relay-idle";
  /** Moves bytes between the two channels of a tunnel. */
  public static final String RELAY = "conduit-relay";
  /** Added when the relay splices: stops splicing before the channel's descriptor closes. */
  public static final String RELAY_SPLICE = "conduit-relay-splice";

  // ---- dialed channels

  /** Prefix of a hop's TLS handler while dialing, followed by the hop's index. */
  public static final String HOP_TLS_PREFIX = "conduit-hop-tls-";
  /** Prefix of a hop's proxy handshake handler while dialing, followed by the hop's index. */
  public static final String HOP_PROXY_PREFIX = "conduit-hop-proxy-";
  /** Closes a channel on an error raised while dialing (the dial's future reports it); removed on success. */
  public static final String DIAL_GUARD = "conduit-dial-guard";

  // ---- HTTP proxy

  /** Notes when a request head starts arriving (bounds the time it takes to complete). */
  public static final String HTTP_HEAD_WATCH = "http-head-watch";
  /** The HTTP server codec of the HTTP proxy. */
  public static final String HTTP_CODEC = "http-codec";
  /** The HTTP proxy's logic. */
  public static final String HTTP_HANDLER = "http-handler";
  /** The HTTP client codec on an upstream that carries forwarded requests. */
  public static final String HTTP_UPSTREAM_CODEC = "http-upstream-codec";
  /** Hands an upstream's responses to the HTTP proxy. */
  public static final String HTTP_UPSTREAM = "http-upstream";

  // ---- SOCKS

  /** Netty's SOCKS version detection; replaces itself with the decoder of the client's version. */
  public static final String SOCKS_DETECT = "socks-detect";
  /** The SOCKS proxy's logic. */
  public static final String SOCKS_HANDLER = "socks-handler";
  /** Decodes a SOCKS5 username/password request (RFC 1929). */
  public static final String SOCKS5_AUTH_DECODER = "socks5-auth-decoder";
  /** Decodes a SOCKS5 command request. */
  public static final String SOCKS5_COMMAND_DECODER = "socks5-command-decoder";

  // ---- mixed (HTTP and SOCKS on one port)

  /** Looks at the first byte and installs the HTTP or the SOCKS handlers. */
  public static final String MIXED_DETECT = "mixed-detect";

  // ---- tunnels

  /** The tunnel server's CONNECT handler (an HTTP/1.1 connection, or one HTTP/2 stream). */
  public static final String TUNNEL_CONNECT = "tunnel-connect";
  /** Port forwarding: dials the entry's destination and relays. */
  public static final String TUNNEL_FORWARD = "tunnel-forward";
  /** The HTTP/2 frame codec of a multiplexed tunnel connection (either side). */
  public static final String H2_CODEC = "conduit-h2";
  /** The HTTP/2 stream multiplexer of a multiplexed tunnel connection (either side). */
  public static final String H2_STREAMS = "conduit-h2-streams";
  /** Server side: closes a multiplexed tunnel connection idle for too long. */
  public static final String H2_IDLE = "conduit-h2-idle";
  /** Server side: a multiplexed tunnel connection's idle and drain events. */
  public static final String H2_EVENTS = "conduit-h2-events";
  /** Client side: closes a pooled multiplexed connection on an error nothing else handled. */
  public static final String H2_LAST_RESORT = "conduit-h2-last-resort";
  /** A tunnel stream's first handler: DATA frames to bytes and back, END_STREAM as half-close. */
  public static final String H2_STREAM = "conduit-h2-stream";

  // ---- transparent proxy (conduit-netfilter)

  /** Relays a redirected connection to its original destination, after sniffing its host name. */
  public static final String TRANSPARENT = "transparent";

  // ---- MITM proxy (conduit-mitm)

  /** The HTTP server codec of the MITM proxy (plain requests and CONNECT). */
  public static final String MITM_CODEC = "mitm-codec";
  /** Writes chunked (streamed) responses of the MITM proxy. */
  public static final String MITM_CHUNKED = "mitm-chunked";
  /** Aggregates requests of the MITM proxy. */
  public static final String MITM_AGGREGATOR = "mitm-aggregator";
  /** The MITM proxy's logic. */
  public static final String MITM = "mitm";
  /** An intercepted CONNECT: picks the leaf certificate by SNI and terminates TLS. */
  public static final String MITM_SNI = "mitm-sni";
  /** An intercepted CONNECT: the HTTP server codec of the decrypted requests. */
  public static final String MITM_TLS_CODEC = "mitm-tls-codec";
  /** An intercepted CONNECT: writes chunked (streamed) responses. */
  public static final String MITM_TLS_CHUNKED = "mitm-tls-chunked";
  /** An intercepted CONNECT: aggregates the decrypted requests. */
  public static final String MITM_TLS_AGGREGATOR = "mitm-tls-aggregator";
  /** The TLS handler of an {@code https} origin connection. */
  public static final String MITM_UPSTREAM_TLS = "mitm-upstream-tls";
  /** Closes an origin connection on an error after its TLS handshake. */
  public static final String MITM_UPSTREAM_GUARD = "mitm-upstream-guard";
  /** Bounds the wait for an origin's response bytes. */
  public static final String MITM_UPSTREAM_TIMEOUT = "mitm-upstream-timeout";
  /** The HTTP client codec of an origin connection. */
  public static final String MITM_UPSTREAM_CODEC = "mitm-upstream-codec";
  /** One call to an origin: hands its response to the MITM proxy. */
  public static final String MITM_UPSTREAM = "mitm-upstream";
  /** Watches an idle pooled origin connection. */
  public static final String MITM_POOL_IDLE = "mitm-pool-idle";

  // ---- admin endpoint

  /** The admin endpoint's TLS handler, when it serves HTTPS. */
  public static final String ADMIN_TLS = "admin-tls";
  /** The admin endpoint's HTTP server codec. */
  public static final String ADMIN_CODEC = "admin-codec";
  /** Keeps admin connections alive between requests. */
  public static final String ADMIN_KEEP_ALIVE = "admin-keep-alive";
  /** Aggregates admin requests. */
  public static final String ADMIN_AGGREGATOR = "admin-aggregator";
  /** The admin endpoint's routes. */
  public static final String ADMIN = "admin";

  // ---- mesh manager API (control plane)

  /** The manager API's TLS handler. */
  public static final String MANAGER_TLS = "manager-tls";
  /** Closes manager API connections idle for too long. */
  public static final String MANAGER_IDLE = "manager-idle";
  /** The manager API's HTTP server codec. */
  public static final String MANAGER_CODEC = "manager-codec";
  /** Aggregates manager API requests. */
  public static final String MANAGER_AGGREGATOR = "manager-aggregator";
  /** The manager API's routes. */
  public static final String MANAGER_API = "manager-api";

  private ConduitPipeline() {}
}
