package dev.conduit.core.egress;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.conduit.core.ConduitResources;
import dev.conduit.core.admin.AdminServer;
import dev.conduit.core.control.push.PushAgentStatus;
import dev.conduit.core.control.push.PushAuthorizer;
import dev.conduit.core.control.push.PushServer;
import dev.conduit.core.control.push.PushState;
import dev.conduit.core.control.store.AuditEntry;
import dev.conduit.core.control.store.ControlStore;
import dev.conduit.core.egress.internal.DnsLookup;
import dev.conduit.core.egress.internal.EgressHttp;
import dev.conduit.core.egress.internal.EgressStore;
import dev.conduit.core.egress.internal.EntryBook;
import dev.conduit.core.egress.internal.GatewayReports;
import dev.conduit.core.egress.internal.Sessions;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * conduit's egress server: keeps the allowlist entries in the control plane's store, resolves the domains (A and
 * AAAA, following CNAMEs, every {@linkplain EgressServerConfig#resolveInterval() interval} or sooner when a TTL is
 * shorter), pushes the effective allowlist to gateways over the push channel, takes their reports, and serves the
 * HTTP API and the web page.
 *
 * <p>A new address is pushed at once. An address that left a name's answers stays for the
 * {@linkplain EgressServerConfig#gracePeriod() grace period}, and after it for as long as a gateway reports an
 * established flow to it; an address two entries share stays until neither has it; a DNS failure never empties an
 * entry.
 *
 * <p>Several servers may share one PostgreSQL or MySQL/MariaDB store: a change through one bumps the store's
 * version, and the others reload the stored entries and addresses (without resolving them again) and push the new
 * allowlist to their gateways.
 *
 * <p>Thread-safe. {@link #close()} stops the listeners and the resolver and closes the store.
 */
public final class EgressServer implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger("dev.conduit.core.egress");

  private final EgressServerConfig config;
  private final ControlStore controlStore;
  private final EgressStore store;
  private final DnsLookup dns;
  private final GatewayReports reports;
  private final EntryBook book;
  private final ConduitResources resources;
  private final PushServer push;
  private final AdminServer http;
  private final ScheduledExecutorService ticker;
  private long version;
  private volatile AutoCloseable changes;
  private final java.util.concurrent.atomic.AtomicBoolean closed = new java.util.concurrent.atomic.AtomicBoolean();

  private EgressServer(EgressServerConfig config, ControlStore controlStore) {
    this.config = config;
    this.controlStore = controlStore;
    this.store = new EgressStore(controlStore);
    this.dns = new DnsLookup(config.dnsServers(), config.dnsTimeout());
    this.reports = new GatewayReports(config.clock(), config.reportStaleAfter());
    this.book = new EntryBook(store, dns, config.clock(), config.allowedSpecial(),
        new EntryBook.Timing(config.resolveInterval(), config.minResolveInterval(),
            min(config.resolveInterval(), Duration.ofSeconds(30)), config.gracePeriod()),
        reports::activeFlows, this::publish);
    if (config.pushAddress().isPresent()) {
      resources = ConduitResources.create();
      push = PushServer.builder(resources)
          .bind(config.pushAddress().get())
          .tls(config.pushTls().orElseThrow())
          .authorizer(authorizer(config.gatewayTokens()))
          .allowBearerTokens(!config.gatewayTokens().isEmpty())
          .reportListener(this::onReport)
          .build();
    } else {
      resources = null;
      push = null;
    }
    boolean loopback = config.http().getAddress() != null && config.http().getAddress().isLoopbackAddress();
    AdminServer.Builder admin = AdminServer.builder().bind(config.http()).maxRequestBytes(config.maxRequestBytes())
        .readiness(() -> true);
    config.httpTls().ifPresent(tls -> admin.tls(tls, config.adminCertificates()
        ? AdminServer.ClientCertificates.OPTIONAL : AdminServer.ClientCertificates.NONE));
    EgressHttp routes = new EgressHttp(book, store, reports, this::agents, config.adminTokens(),
        new Sessions(config.clock(), Duration.ofHours(12)), loopback || config.exposeSeedApi(),
        config.allowedSpecial());
    EgressHttp.PREFIXES.forEach(prefix -> admin.route(prefix, routes));
    this.http = admin.build();
    this.ticker = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "conduit-egress-resolver");
      t.setDaemon(true);
      return t;
    });
    if (!loopback && config.exposeSeedApi()) {
      log.warn("egress: the unauthenticated seed-compatible API (/api?add=, /api?del=, /show-all) is exposed on {}"
          + " as the operator asked", config.http());
    } else if (!loopback) {
      log.info("egress: the seed-compatible API answers on loopback only; {} serves conduit's API and the web page",
          config.http());
    }
  }

  /**
   * Opens the store, starts the listeners and the resolver, and publishes the stored allowlist.
   *
   * @throws IOException when a listener cannot bind
   * @throws dev.conduit.core.control.store.StoreException when the store cannot be opened
   */
  public static EgressServer start(EgressServerConfig config) throws IOException, InterruptedException {
    requireNonNull(config, "config");
    ControlStore controlStore = ControlStore.open(config.store());
    EgressServer server;
    try {
      server = new EgressServer(config, controlStore);
    } catch (RuntimeException e) {
      controlStore.close();
      throw e;
    }
    try {
      server.changes = controlStore.subscribe(stored -> server.reloadQuietly());
      server.publish();
      if (server.push != null) {
        server.push.start();
      }
      server.http.start();
    } catch (IOException | InterruptedException | RuntimeException e) {
      server.close();
      throw e;
    }
    long tick = config.tickInterval().toMillis();
    server.ticker.scheduleWithFixedDelay(server::tickQuietly, 0, tick, TimeUnit.MILLISECONDS);
    log.info("egress server: HTTP on {}, push on {}, {} entries", server.http.address(),
        server.push == null ? "(none)" : server.push.address().map(Object::toString).orElse("?"), server.entries().size());
    return server;
  }

  /** Returns the configuration. */
  public EgressServerConfig config() {
    return config;
  }

  /** Returns the HTTP listener's address. */
  public InetSocketAddress httpAddress() {
    return http.address();
  }

  /** Returns the push listener's address, if gateways are served. */
  public Optional<InetSocketAddress> pushAddress() {
    return push == null ? Optional.empty() : push.address();
  }

  /** Returns every entry, in order of creation. */
  public List<EgressEntry> entries() {
    return book.entries();
  }

  /**
   * Adds an entry (a domain is resolved first).
   *
   * @param actor who adds it, for the audit log
   * @throws EgressException when it is invalid, resolves to refused space, or exists
   */
  public EgressEntry add(NewEntry entry, String actor) {
    return book.add(requireNonNull(entry, "entry"), requireNonNull(actor, "actor"), "add");
  }

  /**
   * Deletes an entry.
   *
   * @throws EgressException when there is no such entry or it is non-deletable
   */
  public EgressEntry delete(String id, String actor) {
    return book.delete(requireNonNull(id, "id"), requireNonNull(actor, "actor"));
  }

  /** Returns the newest {@code limit} lines of the audit log, newest first. */
  public List<AuditEntry> audit(int limit) {
    return store.auditLog(limit);
  }

  /**
   * Returns the state last pushed to gateways: each allowlisted address or prefix with its entries and ports, and
   * each {@code *.suffix} wildcard (no addresses; gateways with the L7 check verify names below it).
   */
  public Map<String, JsonNode> effectiveAllowlist() {
    return state().resources();
  }

  /** Returns the push channel's gateways. */
  public List<PushAgentStatus> agents() {
    return push == null ? List.of() : push.agents();
  }

  /**
   * Runs the due work now, on the calling thread: resolves the domains whose time has come (by the configured
   * clock) and lets expired grace addresses go. The server does this itself every tick; tests that advance their
   * clock may call it to avoid waiting for one.
   */
  public void runDueWork() {
    book.tick();
  }

  /** Makes every domain due for resolution now. */
  public void resolveAllNow() {
    book.resolveAllNow();
  }

  /**
   * Returns the destinations gateways reported an established flow to in their latest reports (reports older than
   * {@link EgressServerConfig#reportStaleAfter()} left out): addresses that stay allowlisted past their grace period.
   */
  public java.util.Set<dev.conduit.core.net.IpAddress> activeFlows() {
    return java.util.Set.copyOf(reports.activeFlows());
  }

  /** Takes a gateway's report (as the push channel delivers it). */
  public void onReport(String gateway, JsonNode payload) {
    reports.ingest(requireNonNull(gateway, "gateway"), requireNonNull(payload, "payload"));
  }

  private void tickQuietly() {
    try {
      book.tick();
    } catch (RuntimeException e) {
      log.warn("egress: resolution round failed: {}", e.toString());
    }
  }

  private void reloadQuietly() {
    try {
      book.reload();
    } catch (RuntimeException e) {
      log.warn("egress: reloading the entries after a change in the store failed: {}", e.toString());
    }
  }

  private synchronized PushState state() {
    Map<String, JsonNode> resources = new LinkedHashMap<>();
    book.effective().forEach((key, allowed) -> {
      ObjectNode value = JsonNodeFactory.instance.objectNode();
      allowed.entries().forEach(value.putArray("entries")::add);
      allowed.ports().forEach(value.putArray("ports")::add);
      if (allowed.ports().isEmpty()) {
        value.putArray("ports");
      }
      resources.put(key, value);
    });
    // wildcards have no addresses: each is a key of its own, for gateways whose L7 check verifies names
    for (EgressEntry e : book.entries()) {
      if (e.value().kind() == EntryKind.WILDCARD) {
        ObjectNode value = JsonNodeFactory.instance.objectNode();
        value.putArray("entries").add(e.value().text());
        ArrayNode ports = value.putArray("ports");
        e.ports().forEach(ports::add);
        value.put("kind", "wildcard");
        resources.put(e.value().text(), value);
      }
    }
    version = Math.max(version + 1, config.clock().millis());
    return PushState.of(version, resources);
  }

  private synchronized void publish() {
    PushState state = state();
    if (push != null) {
      Optional<PushState> current = push.state();
      if (current.isPresent() && current.get().hash().equals(state.hash())) {
        return;
      }
      push.publish(state);
      log.info("egress: allowlist version {} published ({} addresses and prefixes)", state.version(),
          state.resources().size());
    }
  }

  private static PushAuthorizer authorizer(Map<String, String> tokens) {
    Map<String, byte[]> bytes = new LinkedHashMap<>();
    tokens.forEach((name, token) -> bytes.put(name, token.getBytes(StandardCharsets.UTF_8)));
    PushAuthorizer certificates = PushAuthorizer.certificateIdentity();
    return peer -> {
      if (peer.bearerToken().isPresent()) {
        byte[] given = peer.bearerToken().get().getBytes(StandardCharsets.UTF_8);
        for (Map.Entry<String, byte[]> e : bytes.entrySet()) {
          if (MessageDigest.isEqual(given, e.getValue())) {
            return Optional.of("token:" + e.getKey());
          }
        }
        return Optional.empty();
      }
      return certificates.authorize(peer);
    };
  }

  private static Duration min(Duration a, Duration b) {
    return a.compareTo(b) <= 0 ? a : b;
  }

  /** Stops the resolver and the listeners and closes the store (once). Gateways keep enforcing what they have. */
  @Override
  public void close() {
    if (closed.getAndSet(true)) {
      return;
    }
    if (changes != null) {
      try {
        changes.close();
      } catch (Exception e) {
        log.debug("egress: closing the change subscription: {}", e.toString());
      }
    }
    ticker.shutdownNow();
    book.close();
    http.close();
    if (push != null) {
      push.close();
    }
    if (resources != null) {
      resources.close();
    }
    dns.close();
    controlStore.close();
  }

  @Override
  public String toString() {
    return "EgressServer{" + config + "}";
  }
}
