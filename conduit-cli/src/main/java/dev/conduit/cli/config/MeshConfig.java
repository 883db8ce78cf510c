package dev.conduit.cli.config;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.inbound.OriginalDestinationResolver;
import dev.conduit.core.pki.PeerGuard;
import dev.conduit.core.tunnel.MeshPlan;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The {@code client} and {@code server} sections of {@code conduit.yaml} as written (seed 000's keys), plus
 * conduit's {@code allow} list; {@link #plan} checks them, naming the YAML key of the first invalid value, and maps
 * them onto core's typed tunnel settings ({@link MeshPlan#builder()}). Each component's javadoc names its YAML key. Absent sections and lists are
 * {@code null} or empty; absent numbers and booleans are 0 and false, as in seed 000.
 *
 * <pre>{@code
 * client:                         # host A
 *   enable: true
 *   network: tcp
 *   listen: 127.0.0.1:5052
 *   check_time: 60                # seconds between active peer checks; 0 disables (seed 000 crashed)
 *   forward_table:
 *     - dst: :80                  # ip:port or :port (any address)
 *       dst_as: 127.0.0.1:80      # what host B dials; absent: the original destination
 *       peer_index: 1
 *   peers:
 *     - index: 1
 *       network: tcp
 *       addresses: [172.168.0.11:5053, 172.168.0.12:5053]   # failover in this order
 *       tls: {enable: true, mtls: true, cas: [ca.pem], certs: [{cert: a.pem, key: a.key}]}
 * server:                         # host B
 *   enable: true
 *   listen:
 *     network: tcp
 *     addr: 172.168.0.11:5053
 *     tls: {enable: true, mtls: true, cas: [ca.pem], certs: [{cert: b.pem, key: b.key}]}
 *   allow:                        # conduit extension; see Server#allow
 *     - peer: spiffe://mesh/a
 *       cidrs: [127.0.0.1/32]
 *       ports: ["3306", "6379"]
 * }</pre>
 *
 * @param client YAML {@code client}: the tunnel client (host A), or null
 * @param server YAML {@code server}: the tunnel server (host B), or null
 */
public record MeshConfig(@Nullable Client client, @Nullable Server server) {

  /**
   * Maps the configuration; reads the PEM files (blocking I/O: call at start-up, not on an event loop) and
   * starts watching them. Logs a WARN for every plain TCP tunnel.
   *
   * @param resolver tells redirected connections' original destinations (conduit-netfilter), or
   *     {@link OriginalDestinationResolver#NONE}
   * @param tlsCheckInterval how often the PEM files are checked for changes
   * @throws IllegalArgumentException naming the first invalid value
   * @throws IOException if a PEM file cannot be read
   */
  public MeshPlan plan(OriginalDestinationResolver resolver, Duration tlsCheckInterval) throws IOException {
    return MeshConfigMapping.plan(this, resolver, tlsCheckInterval, null);
  }

  /**
   * {@link #plan(OriginalDestinationResolver, Duration)} with {@code guard} judging the peer of every TLS tunnel,
   * on the server's listener and on the client's peers (e.g. a {@link dev.conduit.core.pki.PeerDenyList} fed with
   * the mesh's revoked nodes and certificates), so a revoked peer is refused and its open tunnels closed.
   *
   * @throws IllegalArgumentException naming the first invalid value
   * @throws IOException if a PEM file cannot be read
   */
  public MeshPlan plan(OriginalDestinationResolver resolver, Duration tlsCheckInterval, PeerGuard guard)
      throws IOException {
    requireNonNull(guard, "guard");
    return MeshConfigMapping.plan(this, resolver, tlsCheckInterval, guard);
  }

  /** {@link #plan(OriginalDestinationResolver, Duration)} without redirection support, files checked every 10 s. */
  public MeshPlan plan() throws IOException {
    return plan(OriginalDestinationResolver.NONE, Duration.ofSeconds(10));
  }

  /**
   * The tunnel client.
   *
   * @param enable YAML {@code enable}: whether the client runs
   * @param network YAML {@code network}: {@code tcp} (default when empty; the only one supported)
   * @param listen YAML {@code listen}: {@code ip:port} of the plain TCP listener (also the target of the
   *     netfilter capture rules)
   * @param checkTime YAML {@code check_time}: seconds between active health checks of the peers; 0 disables
   * @param forwardTable YAML {@code forward_table}
   * @param peers YAML {@code peers}
   */
  public record Client(boolean enable, @Nullable String network, @Nullable String listen, int checkTime, List<Forward> forwardTable,
      List<Peer> peers) {
    /** Replaces absent lists with empty ones. */
    public Client {
      forwardTable = forwardTable == null ? List.of() : List.copyOf(forwardTable);
      peers = peers == null ? List.of() : List.copyOf(peers);
    }
  }

  /**
   * A forward table entry.
   *
   * @param dst YAML {@code dst}: {@code ip:port}, or {@code :port} for any address
   * @param dstAs YAML {@code dst_as}: {@code host:port} the peer dials instead; null for the original
   *     destination
   * @param peerIndex YAML {@code peer_index}: the {@link Peer#index()} to tunnel through
   */
  public record Forward(@Nullable String dst, @Nullable String dstAs, int peerIndex) {}

  /**
   * A tunnel server the client can use.
   *
   * @param index YAML {@code index}: unique number forward entries refer to
   * @param network YAML {@code network}: {@code tcp} (default when empty)
   * @param addresses YAML {@code addresses}: {@code host:port} of the server, tried in order with failover
   * @param tls YAML {@code tls}, or null for a plain TCP tunnel
   */
  public record Peer(int index, @Nullable String network, List<String> addresses, @Nullable Tls tls) {
    /** Replaces an absent list with an empty one. */
    public Peer {
      addresses = addresses == null ? List.of() : List.copyOf(addresses);
    }
  }

  /**
   * TLS settings (seed 000's {@code tls} block). Files are PEM; they are re-read when they change.
   *
   * @param enable YAML {@code enable}: TLS on; false means plain TCP
   * @param mtls YAML {@code mtls}: both sides present certificates issued under {@code cas}
   * @param cas YAML {@code cas}: one PEM file with the trusted CA certificate(s)
   * @param certs YAML {@code certs}: one {@code {cert, key}} pair, this side's certificate chain and key
   * @param insecureSkipVerify YAML {@code insecure_skip_verify}: client side only, accept any server
   *     certificate (testing only; logged as a WARN)
   * @param multiplex YAML {@code multiplex} (conduit extension): client side ({@code peers[].tls}) only, carry
   *     the tunnels to this peer as HTTP/2 streams over pooled connections ({@link dev.conduit.core.tunnel.Tunnel#multiplexedClientHop})
   *     instead of one TLS connection each; needs {@code enable: true}. Servers need no setting: they offer
   *     HTTP/2 and HTTP/1.1 and the client's ALPN decides
   */
  public record Tls(boolean enable, boolean mtls, List<String> cas, List<CertKey> certs, boolean insecureSkipVerify,
      boolean multiplex) {
    /** Replaces absent lists with empty ones. */
    public Tls {
      cas = cas == null ? List.of() : List.copyOf(cas);
      certs = certs == null ? List.of() : List.copyOf(certs);
    }

    /** TLS settings without {@code multiplex}. */
    public Tls(boolean enable, boolean mtls, List<String> cas, List<CertKey> certs, boolean insecureSkipVerify) {
      this(enable, mtls, cas, certs, insecureSkipVerify, false);
    }
  }

  /**
   * A certificate chain and its private key (paths; the key itself never enters the configuration).
   *
   * @param cert YAML {@code cert}: PEM certificate chain, leaf first
   * @param key YAML {@code key}: PEM private key (PKCS#8, SEC1 EC or PKCS#1 RSA)
   */
  public record CertKey(@Nullable String cert, @Nullable String key) {}

  /**
   * The tunnel server.
   *
   * @param enable YAML {@code enable}: whether the server runs
   * @param listen YAML {@code listen}
   * @param allow YAML {@code allow} (conduit extension): which destinations which peers may reach. When
   *     absent or empty the server allows only destinations on its own host: loopback ({@code 127.0.0.0/8},
   *     {@code ::1}, {@code localhost}) and the address it listens on, any port. That runs seed 000's
   *     client-server example ({@code dst_as: 127.0.0.1:80}) as written and reaches services on host B,
   *     its stated purpose, without ever relaying to other hosts. Once given, only the listed entries apply.
   */
  public record Server(boolean enable, @Nullable Listen listen, List<Allow> allow) {
    /** Replaces an absent list with an empty one. */
    public Server {
      allow = allow == null ? List.of() : List.copyOf(allow);
    }
  }

  /**
   * The server's listening socket.
   *
   * @param network YAML {@code network}: {@code tcp} (default when empty)
   * @param addr YAML {@code addr}: {@code ip:port}
   * @param tls YAML {@code tls}, or null for a plain TCP tunnel server
   */
  public record Listen(@Nullable String network, @Nullable String addr, @Nullable Tls tls) {}

  /**
   * What a peer may reach through the server; all listed kinds must hold (destination in {@code cidrs} or
   * {@code domains}, port in {@code ports}).
   *
   * @param peer YAML {@code peer}: the client certificate's identity (first URI SAN such as
   *     {@code spiffe://mesh/a}, else first DNS SAN, else CN); null or {@code *} for any authenticated peer
   *     (and, on a plain TCP server, anyone)
   * @param cidrs YAML {@code cidrs}: destination IP ranges ({@code 10.0.0.0/8}, {@code fd00::/8}, an IP)
   * @param ports YAML {@code ports}: {@code "3306"} or {@code "8000-8099"}; empty for any port
   * @param domains YAML {@code domains}: exact names, or {@code .example.com} for the domain and its subdomains
   */
  public record Allow(@Nullable String peer, List<String> cidrs, List<String> ports, List<String> domains) {
    /** Replaces absent lists with empty ones. */
    public Allow {
      cidrs = cidrs == null ? List.of() : List.copyOf(cidrs);
      ports = ports == null ? List.of() : List.copyOf(ports);
      domains = domains == null ? List.of() : List.copyOf(domains);
    }
  }
}
