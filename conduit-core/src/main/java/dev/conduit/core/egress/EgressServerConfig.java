package dev.conduit.core.egress;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.control.store.StoreConfig;
import dev.conduit.core.net.IpPrefixSet;
import dev.conduit.core.pki.TlsMaterial;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * How an {@link EgressServer} runs: its store, its HTTP listener and push listener, who may use them, and how it
 * resolves. Immutable; tokens are masked in {@link #toString()}.
 *
 * <pre>{@code
 * EgressServerConfig config = EgressServerConfig.builder(StoreConfig.sqlite(Path.of("egress.db")).build())
 *     .adminToken("ops", opsToken)
 *     .bindPush(new InetSocketAddress("0.0.0.0", 8701), TlsMaterial.load(cert, key, ca))
 *     .gatewayToken("gw1", gatewayToken)
 *     .build();
 * }</pre>
 */
public final class EgressServerConfig {

  /** The default HTTP listener: loopback, port 8700. */
  public static final InetSocketAddress DEFAULT_HTTP = new InetSocketAddress("127.0.0.1", 8700);

  private final Builder b;

  private EgressServerConfig(Builder b) {
    this.b = b;
  }

  /** Returns a builder of a server keeping its state in {@code store}. */
  public static Builder builder(StoreConfig store) {
    return new Builder(store);
  }

  /** Returns the store. */
  public StoreConfig store() {
    return b.store;
  }

  /** Returns the HTTP listener's address. */
  public InetSocketAddress http() {
    return b.http;
  }

  /** Returns whether the unauthenticated seed-compatible API answers on a listener that is not loopback. */
  public boolean exposeSeedApi() {
    return b.exposeSeedApi;
  }

  /** Returns the admin tokens by name (the API's bearer tokens and the web page's login). */
  public Map<String, String> adminTokens() {
    return Map.copyOf(b.adminTokens);
  }

  /**
   * Returns the HTTP listener's TLS material when it serves HTTPS: its certificate, and the roots admin client
   * certificates are checked against when {@link #adminCertificates()}.
   */
  public Optional<TlsMaterial> httpTls() {
    return Optional.ofNullable(b.httpTls);
  }

  /**
   * Returns whether a client certificate issued under the {@linkplain #httpTls() HTTP listener's trust roots}
   * authenticates an admin, as an alternative to a token (the audit log names it {@code cert:<identity>}).
   */
  public boolean adminCertificates() {
    return b.adminCertificates;
  }

  /** Returns the largest HTTP request accepted, in bytes (larger: 413). */
  public int maxRequestBytes() {
    return b.maxRequestBytes;
  }

  /** Returns the push listener's address, if gateways are served. */
  public Optional<InetSocketAddress> pushAddress() {
    return Optional.ofNullable(b.push);
  }

  /** Returns the push listener's certificate and the roots gateway certificates are checked against. */
  public Optional<TlsMaterial> pushTls() {
    return Optional.ofNullable(b.pushTls);
  }

  /** Returns the gateway tokens by gateway name. */
  public Map<String, String> gatewayTokens() {
    return Map.copyOf(b.gatewayTokens);
  }

  /** Returns the DNS servers (empty: the system's). */
  public List<InetSocketAddress> dnsServers() {
    return b.dnsServers;
  }

  /** Returns how often domains are re-resolved at most. */
  public Duration resolveInterval() {
    return b.resolveInterval;
  }

  /** Returns the shortest re-resolution interval a short TTL may ask for. */
  public Duration minResolveInterval() {
    return b.minResolveInterval;
  }

  /** Returns how long an address that left a name's answers stays allowlisted. */
  public Duration gracePeriod() {
    return b.gracePeriod;
  }

  /** Returns the DNS query timeout. */
  public Duration dnsTimeout() {
    return b.dnsTimeout;
  }

  /** Returns special-purpose space that may be allowlisted (e.g. a lab network). */
  public IpPrefixSet allowedSpecial() {
    return b.allowedSpecial;
  }

  /** Returns the clock (tests advance their own). */
  public Clock clock() {
    return b.clock;
  }

  /** Returns how often due resolutions and expired grace periods are checked. */
  public Duration tickInterval() {
    return b.tickInterval;
  }

  /** Returns how long a gateway's reported flows count after its last report. */
  public Duration reportStaleAfter() {
    return b.reportStaleAfter;
  }

  @Override
  public String toString() {
    return "EgressServerConfig{store=" + b.store + ", http=" + b.http + (b.httpTls == null ? "" : " (https"
        + (b.adminCertificates ? ", admin certificates" : "") + ")") + ", exposeSeedApi=" + b.exposeSeedApi
        + ", adminTokens=" + b.adminTokens.keySet() + " (****), push=" + b.push + ", gatewayTokens="
        + b.gatewayTokens.keySet() + " (****), dnsServers=" + b.dnsServers + ", resolveInterval="
        + b.resolveInterval + ", gracePeriod=" + b.gracePeriod + ", allowedSpecial=" + b.allowedSpecial + "}";
  }

  /** Builds an {@link EgressServerConfig}. Not thread-safe. */
  public static final class Builder {
    private final StoreConfig store;
    private InetSocketAddress http = DEFAULT_HTTP;
    private boolean exposeSeedApi;
    private final Map<String, String> adminTokens = new LinkedHashMap<>();
    private int maxRequestBytes = 64 * 1024;
    private TlsMaterial httpTls;
    private boolean adminCertificates;
    private InetSocketAddress push;
    private TlsMaterial pushTls;
    private final Map<String, String> gatewayTokens = new LinkedHashMap<>();
    private List<InetSocketAddress> dnsServers = List.of();
    private Duration resolveInterval = Duration.ofMinutes(5);
    private Duration minResolveInterval = Duration.ofSeconds(5);
    private Duration gracePeriod = Duration.ofMinutes(15);
    private Duration dnsTimeout = Duration.ofSeconds(5);
    private IpPrefixSet allowedSpecial = IpPrefixSet.empty();
    private Clock clock = Clock.systemUTC();
    private Duration tickInterval = Duration.ofSeconds(1);
    private Duration reportStaleAfter = Duration.ofSeconds(60);

    private Builder(StoreConfig store) {
      this.store = requireNonNull(store, "store");
    }

    /** The HTTP listener's address (default: 127.0.0.1:8700). */
    public Builder bind(InetSocketAddress address) {
      this.http = requireNonNull(address, "address");
      return this;
    }

    /**
     * Serves the unauthenticated seed-compatible API ({@code /api?add=}, {@code /api?del=}, {@code /show-all}) on a
     * listener that is not loopback too (default: false; on loopback it is always served).
     */
    public Builder exposeSeedApi(boolean expose) {
      this.exposeSeedApi = expose;
      return this;
    }

    /** Adds an admin token: its bearer may use the API, and log in to the web page, as {@code name}. */
    public Builder adminToken(String name, String token) {
      adminTokens.put(checkName(name), checkToken(token));
      return this;
    }

    /**
     * Serves the HTTP listener over HTTPS with the certificate of {@code tls} (default: plain HTTP). With
     * {@code adminCertificates}, a client certificate issued under the trust roots of {@code tls} (the admins'
     * CA) authenticates its holder as an admin, as a token does; the identity is its first URI, else DNS name,
     * else common name.
     */
    public Builder httpTls(TlsMaterial tls, boolean adminCertificates) {
      this.httpTls = requireNonNull(tls, "tls");
      this.adminCertificates = adminCertificates;
      return this;
    }

    /** The largest HTTP request, in bytes (1 KiB-16 MiB, default 64 KiB). */
    public Builder maxRequestBytes(int bytes) {
      if (bytes < 1024 || bytes > 16 * 1024 * 1024) {
        throw new IllegalArgumentException("maxRequestBytes: " + bytes + " (expected: 1024-16777216)");
      }
      this.maxRequestBytes = bytes;
      return this;
    }

    /** Serves gateways on {@code address} over TLS with {@code tls} (default: no push listener). */
    public Builder bindPush(InetSocketAddress address, TlsMaterial tls) {
      this.push = requireNonNull(address, "address");
      this.pushTls = requireNonNull(tls, "tls");
      return this;
    }

    /** Admits a gateway presenting {@code token} as {@code name} (gateways with certificates need none). */
    public Builder gatewayToken(String name, String token) {
      gatewayTokens.put(checkName(name), checkToken(token));
      return this;
    }

    /** The recursive DNS servers to ask (default: the system's). */
    public Builder dnsServers(List<InetSocketAddress> servers) {
      this.dnsServers = List.copyOf(servers);
      return this;
    }

    /** Re-resolve every domain this often at most (default: 5 minutes); a shorter TTL makes it sooner. */
    public Builder resolveInterval(Duration interval) {
      this.resolveInterval = positive(interval, "resolveInterval");
      return this;
    }

    /** Never re-resolve sooner than this, whatever the TTL (default: 5 s). */
    public Builder minResolveInterval(Duration interval) {
      this.minResolveInterval = positive(interval, "minResolveInterval");
      return this;
    }

    /** Keep an address that left a name's answers this long (default: 15 minutes). */
    public Builder gracePeriod(Duration grace) {
      requireNonNull(grace, "grace");
      if (grace.isNegative()) {
        throw new IllegalArgumentException("gracePeriod: " + grace + " (expected: 0 or more)");
      }
      this.gracePeriod = grace;
      return this;
    }

    /** The DNS query timeout (default: 5 s). */
    public Builder dnsTimeout(Duration timeout) {
      this.dnsTimeout = positive(timeout, "dnsTimeout");
      return this;
    }

    /** Special-purpose space that may be allowlisted (default: none). */
    public Builder allowedSpecial(IpPrefixSet allowed) {
      this.allowedSpecial = requireNonNull(allowed, "allowed");
      return this;
    }

    /** The clock (default: UTC system clock). */
    public Builder clock(Clock clock) {
      this.clock = requireNonNull(clock, "clock");
      return this;
    }

    /** How often due work is checked (default: 1 s). */
    public Builder tickInterval(Duration interval) {
      this.tickInterval = positive(interval, "tickInterval");
      return this;
    }

    /** How long a gateway's reported flows count after its last report (default: 60 s). */
    public Builder reportStaleAfter(Duration staleAfter) {
      this.reportStaleAfter = positive(staleAfter, "reportStaleAfter");
      return this;
    }

    /** Returns the configuration. */
    public EgressServerConfig build() {
      if (minResolveInterval.compareTo(resolveInterval) > 0) {
        minResolveInterval = resolveInterval;
      }
      Builder copy = new Builder(store);
      copy.http = http;
      copy.exposeSeedApi = exposeSeedApi;
      copy.adminTokens.putAll(adminTokens);
      copy.maxRequestBytes = maxRequestBytes;
      copy.httpTls = httpTls;
      copy.adminCertificates = adminCertificates;
      copy.push = push;
      copy.pushTls = pushTls;
      copy.gatewayTokens.putAll(gatewayTokens);
      copy.dnsServers = dnsServers;
      copy.resolveInterval = resolveInterval;
      copy.minResolveInterval = minResolveInterval;
      copy.gracePeriod = gracePeriod;
      copy.dnsTimeout = dnsTimeout;
      copy.allowedSpecial = allowedSpecial;
      copy.clock = clock;
      copy.tickInterval = tickInterval;
      copy.reportStaleAfter = reportStaleAfter;
      return new EgressServerConfig(copy);
    }

    private static Duration positive(Duration d, String name) {
      requireNonNull(d, name);
      if (d.isNegative() || d.isZero()) {
        throw new IllegalArgumentException(name + ": " + d + " (expected: more than 0)");
      }
      return d;
    }

    private static String checkName(String name) {
      requireNonNull(name, "name");
      if (!name.matches("[A-Za-z0-9._@-]{1,63}")) {
        throw new IllegalArgumentException("name: '" + name + "' (expected: 1-63 letters, digits, . _ @ -)");
      }
      return name;
    }

    private static String checkToken(String token) {
      requireNonNull(token, "token");
      if (token.length() < 16) {
        throw new IllegalArgumentException("token: " + token.length() + " characters (expected: at least 16)");
      }
      return token;
    }
  }
}
