package dev.conduit.core.control.push;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.databind.JsonNode;
import dev.conduit.core.ConduitResources;
import dev.conduit.core.control.push.internal.AgentCore;
import dev.conduit.core.control.push.internal.StateFile;
import dev.conduit.core.control.push.internal.TlsContexts;
import dev.conduit.core.pki.ReloadingTlsMaterial;
import dev.conduit.core.pki.TlsMaterial;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Supplier;

/**
 * The agent end of conduit's push channel (see {@link PushServer} for the protocol): keeps one WebSocket to a
 * server and installs the state it pushes through a {@link PushApplier}.
 *
 * <p>It tries the server addresses in the order given, each once per round; after a round in which none
 * answered it waits (exponential back-off from {@link Builder#backoff min} to max, with jitter) and starts again
 * with the first. It resumes with the version it has installed, so a server that has nothing newer sends nothing.
 * Each installed state is saved to the {@link Builder#stateFile state file} (atomically, mode 0600) before it is
 * acknowledged; on {@link #start()} the saved state is installed first, so a restarted agent enforces its last
 * state while no server is reachable.
 *
 * <p>The server is verified against the {@link Builder#trustAnchors trust anchors} (and, by default, its name
 * against the address dialled); the agent presents its {@link Builder#clientCertificate client certificate} or a
 * {@link Builder#bearerToken bearer token}. Thread-safe.
 */
public final class PushClient implements AutoCloseable {

  private final AgentCore core;
  private final ExecutorService ownedExecutor;

  private PushClient(AgentCore core, ExecutorService ownedExecutor) {
    this.core = core;
    this.ownedExecutor = ownedExecutor;
  }

  /** Returns a builder of a client running on {@code resources}' event loops. */
  public static Builder builder(ConduitResources resources) {
    return new Builder(resources);
  }

  /**
   * Installs the saved state, if there is one, and starts connecting in the background. Blocking (reads the state
   * file and waits for the applier): not on an event loop.
   *
   * @throws IOException if the state file exists but is unreadable or corrupt
   */
  public void start() throws IOException {
    core.start();
  }

  /** Returns the installed state ({@link PushState#empty()} before the first). */
  public PushState state() {
    return core.state();
  }

  /** Returns the hash the applier returned for the installed state. */
  public String installedHash() {
    return core.installedHash();
  }

  /** Returns the server address the channel is open to, if connected. */
  public Optional<URI> connectedTo() {
    return core.connectedTo();
  }

  /**
   * Returns why the latest connection attempt or channel failed (unreachable, TLS refused, closed by the server
   * with a code and reason), if one did; for status commands and logs.
   */
  public Optional<String> lastFailure() {
    return core.lastFailure();
  }

  /**
   * Sends {@code payload} as a {@code report} (the agent's facts, e.g. its addresses) if connected.
   *
   * @return whether it was sent; a disconnected agent reports again when it reconnects
   * @throws IllegalArgumentException if it is larger than the message size limit
   */
  public boolean report(JsonNode payload) {
    return core.report(requireNonNull(payload, "payload"));
  }

  /**
   * Stops reconnecting, closes the channel and waits (up to 10 s) for an update being installed to finish. The
   * installed state stays installed and saved. Blocking: not on an event loop.
   */
  @Override
  public void close() {
    core.close(Duration.ofSeconds(10));
    if (ownedExecutor != null) {
      ownedExecutor.shutdown();
    }
  }

  @Override
  public String toString() {
    return "PushClient{version=" + state().version() + ", connectedTo=" + connectedTo().orElse(null) + "}";
  }

  /** Builds a {@link PushClient}. */
  public static final class Builder {
    private final ConduitResources resources;
    private final List<URI> addresses = new ArrayList<>();
    private List<X509Certificate> trustAnchors;
    private Supplier<TlsMaterial> clientCertificate;
    private String bearerToken;
    private boolean verifyServerHostname = true;
    private javax.net.ssl.X509TrustManager serverVerifier;
    private String name = "agent";
    private String role = "agent";
    private Path stateFile;
    private PushApplier applier;
    private Executor applyExecutor;
    private Duration minBackoff = Duration.ofMillis(500);
    private Duration maxBackoff = Duration.ofSeconds(30);
    private Duration connectTimeout = Duration.ofSeconds(10);
    private int maxMessageBytes = 8 * 1024 * 1024;
    private Duration pingInterval = Duration.ofSeconds(15);
    private Duration idleTimeout = Duration.ofSeconds(45);

    private Builder(ConduitResources resources) {
      this.resources = requireNonNull(resources, "resources");
    }

    /**
     * The server addresses, tried in this order: {@code wss://host:port/path} (default port 443).
     *
     * @throws IllegalArgumentException if the list is empty or an address is not a wss URI with a host
     */
    public Builder addresses(List<URI> addresses) {
      requireNonNull(addresses, "addresses");
      if (addresses.isEmpty()) {
        throw new IllegalArgumentException("addresses: empty (expected: at least one wss:// URI)");
      }
      for (URI uri : addresses) {
        requireNonNull(uri, "addresses[]");
        if (!"wss".equalsIgnoreCase(uri.getScheme()) || uri.getHost() == null) {
          throw new IllegalArgumentException("addresses: " + uri + " (expected: wss://host:port/path)");
        }
      }
      this.addresses.clear();
      this.addresses.addAll(addresses);
      return this;
    }

    /** The certificates the server's chain must lead to (required), e.g. the manager's CA. */
    public Builder trustAnchors(List<X509Certificate> trustAnchors) {
      requireNonNull(trustAnchors, "trustAnchors");
      if (trustAnchors.isEmpty()) {
        throw new IllegalArgumentException("trustAnchors: empty (expected: at least one CA certificate)");
      }
      this.trustAnchors = List.copyOf(trustAnchors);
      return this;
    }

    /** The certificate and key the agent presents (its trust roots are not used; see {@link #trustAnchors}). */
    public Builder clientCertificate(TlsMaterial material) {
      requireNonNull(material, "material");
      this.clientCertificate = () -> material;
      return this;
    }

    /** As {@link #clientCertificate(TlsMaterial)}, following renewals on disk. */
    public Builder clientCertificate(ReloadingTlsMaterial material) {
      requireNonNull(material, "material");
      this.clientCertificate = material::material;
      return this;
    }

    /** A token sent as {@code Authorization: Bearer}, for servers that allow tokens. */
    public Builder bearerToken(String token) {
      requireNonNull(token, "token");
      if (token.isBlank()) {
        throw new IllegalArgumentException("bearerToken: blank");
      }
      this.bearerToken = token;
      return this;
    }

    /**
     * Verifies the server's certificate chain with {@code verifier} instead of the trust anchors and host name, e.g.
     * a check that it carries the manager's identity (a member's certificate from the same CA must not pose as the
     * server). The trust anchors are then not needed.
     */
    public Builder serverVerifier(javax.net.ssl.X509TrustManager verifier) {
      this.serverVerifier = requireNonNull(verifier, "verifier");
      return this;
    }

    /** Whether the server's certificate must name the host dialled (default: true). */
    public Builder verifyServerHostname(boolean verify) {
      this.verifyServerHostname = verify;
      return this;
    }

    /** The agent's name and role as its hello tells the server (default: "agent", "agent"). */
    public Builder identity(String name, String role) {
      this.name = requireNonNull(name, "name");
      this.role = requireNonNull(role, "role");
      return this;
    }

    /** Where to save the installed state (default: nowhere; a restarted agent starts empty). */
    public Builder stateFile(Path stateFile) {
      this.stateFile = requireNonNull(stateFile, "stateFile");
      return this;
    }

    /** Installs what the server pushes (required). */
    public Builder applier(PushApplier applier) {
      this.applier = requireNonNull(applier, "applier");
      return this;
    }

    /**
     * Where the applier runs (default: a thread of the client's own). May be shared by many clients: one client's
     * updates never run concurrently.
     */
    public Builder applyExecutor(Executor executor) {
      this.applyExecutor = requireNonNull(executor, "executor");
      return this;
    }

    /** The first and the longest wait between rounds of connection attempts (default: 500 ms, 30 s). */
    public Builder backoff(Duration min, Duration max) {
      requireNonNull(min, "min");
      requireNonNull(max, "max");
      if (min.toMillis() < 1 || max.compareTo(min) < 0) {
        throw new IllegalArgumentException("backoff: " + min + ", " + max + " (expected: 1 ms <= min <= max)");
      }
      this.minBackoff = min;
      this.maxBackoff = max;
      return this;
    }

    /** How long one TCP connection attempt may take (default: 10 s). */
    public Builder connectTimeout(Duration timeout) {
      requireNonNull(timeout, "timeout");
      if (timeout.toMillis() < 1 || timeout.toMillis() > Integer.MAX_VALUE) {
        throw new IllegalArgumentException("connectTimeout: " + timeout + " (expected: 1 ms or more)");
      }
      this.connectTimeout = timeout;
      return this;
    }

    /** The largest message either way, in bytes (default: 8 MiB; keep it equal to the server's). */
    public Builder maxMessageBytes(int maxMessageBytes) {
      if (maxMessageBytes < 1024) {
        throw new IllegalArgumentException("maxMessageBytes: " + maxMessageBytes + " (expected: 1024 or more)");
      }
      this.maxMessageBytes = maxMessageBytes;
      return this;
    }

    /** How often to ping an idle server (default: 15 s), and when to give up on a silent one (default: 45 s). */
    public Builder heartbeat(Duration pingInterval, Duration idleTimeout) {
      requireNonNull(pingInterval, "pingInterval");
      requireNonNull(idleTimeout, "idleTimeout");
      if (pingInterval.isNegative() || pingInterval.isZero() || idleTimeout.compareTo(pingInterval) <= 0) {
        throw new IllegalArgumentException("heartbeat: ping " + pingInterval + ", idle " + idleTimeout
            + " (expected: 0 < ping interval < idle timeout)");
      }
      this.pingInterval = pingInterval;
      this.idleTimeout = idleTimeout;
      return this;
    }

    /**
     * Returns the client.
     *
     * @throws IllegalStateException if addresses, trust anchors or the applier are missing, or neither a client
     *     certificate nor a token is set
     */
    public PushClient build() {
      if (addresses.isEmpty()) {
        throw new IllegalStateException("addresses: not set (expected: at least one wss:// URI)");
      }
      if (trustAnchors == null && serverVerifier == null) {
        throw new IllegalStateException("trustAnchors: not set (expected: the server's CA certificate)");
      }
      if (applier == null) {
        throw new IllegalStateException("applier: not set");
      }
      if (clientCertificate == null && bearerToken == null) {
        throw new IllegalStateException("credentials: neither a client certificate nor a bearer token is set");
      }
      ExecutorService owned = applyExecutor == null
          ? Executors.newSingleThreadExecutor(new DefaultThreadFactory("conduit-push-apply", true)) : null;
      AgentCore core = new AgentCore(new AgentCore.Settings(resources, List.copyOf(addresses),
          serverVerifier != null ? TlsContexts.client(clientCertificate, serverVerifier)
              : TlsContexts.client(clientCertificate, trustAnchors, verifyServerHostname), Optional.ofNullable(bearerToken),
          name, role, stateFile == null ? null : new StateFile(stateFile), applier,
          owned != null ? owned : applyExecutor, minBackoff, maxBackoff, connectTimeout, maxMessageBytes,
          pingInterval, idleTimeout));
      return new PushClient(core, owned);
    }

    /** Describes the builder with the token masked. */
    @Override
    public String toString() {
      return "PushClient.Builder{addresses=" + addresses + ", bearerToken=" + (bearerToken == null ? "none" : "****")
          + ", stateFile=" + stateFile + "}";
    }
  }
}
