package dev.conduit.core.observe;

/**
 * The names of the meters {@link MicrometerObserver} records, in Micrometer's dotted form; the
 * Prometheus name that Micrometer's Prometheus registry exposes follows each. Label values are
 * bounded by configuration (listener, outbound and rule names) or by enums; no label carries a
 * per-connection value. The per-IP meters are opt-in and capped (see
 * {@link MicrometerObserver.Builder#perIpTraffic(int)}).
 *
 * <p>Bytes are counted when a connection closes (from its {@link ConnectionSummary}): a long
 * tunnel adds its bytes at its end. Live tunnels' byte counts are in the admin API's
 * {@code /connections}.
 *
 * <p>This class does not use Micrometer; it is safe to load without it.
 */
public final class MeterNames {
  private MeterNames() {}

  /** Counter {@code conduit_connections_accepted_total{listener,protocol}}: connections accepted. */
  public static final String CONNECTIONS_ACCEPTED = "conduit.connections.accepted";

  /** Gauge {@code conduit_connections_active{listener,protocol}}: connections open now. */
  public static final String CONNECTIONS_ACTIVE = "conduit.connections.active";

  /**
   * Counter {@code conduit_connections_closed_total{listener,protocol,outcome}}: connections closed,
   * by {@link Outcome} in lower case ({@code ok}, {@code dial_failed}, {@code idle_timeout}, ...).
   */
  public static final String CONNECTIONS_CLOSED = "conduit.connections.closed";

  /**
   * Counter {@code conduit_traffic_bytes_total{listener,outbound,direction}}: bytes relayed, counted at
   * close; {@code direction} is {@code upload} (read from the client) or {@code download} (written
   * to the client); {@code outbound} is {@code none} for connections that never dialed.
   */
  public static final String TRAFFIC = "conduit.traffic";

  /**
   * Timer (histogram) {@code conduit_dial_duration_seconds{outbound,result}}: dial latency,
   * {@code result} {@code ok} or {@code failed}; buckets 1 ms to 30 s (see
   * {@link MicrometerObserver#DIAL_BUCKETS}), plus {@code _max}.
   */
  public static final String DIAL_DURATION = "conduit.dial.duration";

  /**
   * Counter {@code conduit_dial_failures_total{outbound,reason}}: failed dials, {@code reason} the
   * {@link dev.conduit.core.DialFailure} in lower case ({@code connection_refused}, {@code timeout}, ...).
   */
  public static final String DIAL_FAILURES = "conduit.dial.failures";

  /**
   * Counter {@code conduit_handshake_failures_total{listener,protocol,reason}}: connections that
   * closed before a usable request, {@code reason} {@code protocol_error}, {@code auth_failed} or
   * {@code negotiation_timeout}.
   */
  public static final String HANDSHAKE_FAILURES = "conduit.handshake.failures";

  /** Counter {@code conduit_rule_matches_total{rule}}: routing decisions by rule name ({@code default} when none matched). */
  public static final String RULE_MATCHES = "conduit.rule.matches";

  /** Counter {@code conduit_relay_idle_closes_total{listener}}: tunnels closed by the relay idle timeout. */
  public static final String RELAY_IDLE_CLOSES = "conduit.relay.idle.closes";

  /** Gauge {@code conduit_eventloop_pending_tasks{loop}}: tasks queued on each event loop ({@code loop} = index). */
  public static final String EVENT_LOOP_PENDING_TASKS = "conduit.eventloop.pending.tasks";

  /**
   * Gauge {@code conduit_overload_level}: the overload manager's level, 0 normal, 1 pressure (biggest holders
   * throttled, timeouts shortened), 2 refusing (new requests answered busy), 3 shedding (biggest holders closed).
   */
  public static final String OVERLOAD_LEVEL = "conduit.overload.level";

  /** Gauge {@code conduit_overload_memory_bytes}: memory counted against the budget (direct, allocator heap). */
  public static final String OVERLOAD_MEMORY = "conduit.overload.memory.bytes";

  /** Gauge {@code conduit_overload_memory_budget_bytes}: the memory budget. */
  public static final String OVERLOAD_MEMORY_BUDGET = "conduit.overload.memory.budget.bytes";

  /** Gauge {@code conduit_overload_buffered_bytes}: bytes in the connections' outbound buffers. */
  public static final String OVERLOAD_BUFFERED = "conduit.overload.buffered.bytes";

  /** Gauge {@code conduit_overload_open_files}: the process's open file descriptors. */
  public static final String OVERLOAD_OPEN_FILES = "conduit.overload.open.files";

  /** Gauge {@code conduit_overload_file_budget}: the file-descriptor budget (0: none). */
  public static final String OVERLOAD_FILE_BUDGET = "conduit.overload.file.budget";

  /** Gauge {@code conduit_overload_throttled_connections}: connections held back now. */
  public static final String OVERLOAD_THROTTLED = "conduit.overload.throttled.connections";

  /** Counter {@code conduit_overload_actions_total{action}}: {@code throttle}, {@code refuse}, {@code shed}. */
  public static final String OVERLOAD_ACTIONS = "conduit.overload.actions";

  /**
   * Gauge {@code conduit_certificate_expiry_seconds{certificate}}: seconds until a certificate conduit uses expires
   * (negative once expired), one per named certificate ({@link CertificateExpiryGauges}): the tunnel server and
   * client certificates, the mesh CA, the manager's push server certificate.
   */
  public static final String CERTIFICATE_EXPIRY = "conduit.certificate.expiry.seconds";

  /** Gauge {@code conduit_draining}: 1 while the conduit drains (stop called), 0 otherwise. */
  public static final String DRAINING = "conduit.draining";

  /**
   * Counter {@code conduit_client_ip_traffic_bytes_total{ip,direction}} (opt-in): bytes by client IP;
   * the first N distinct IPs get their own series, later ones count under {@code ip="other"}.
   */
  public static final String CLIENT_IP_TRAFFIC = "conduit.client.ip.traffic";

  /**
   * Counter {@code conduit_destination_ip_traffic_bytes_total{ip,direction}} (opt-in): bytes by dialed
   * IP (the destination for direct outbounds, the first hop for chains); capped like
   * {@link #CLIENT_IP_TRAFFIC}.
   */
  public static final String DESTINATION_IP_TRAFFIC = "conduit.destination.ip.traffic";

  /** The label value of IPs beyond the per-IP cap. */
  public static final String OTHER_IP = "other";
}
