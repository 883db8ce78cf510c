package dev.conduit.cli.command;

import static java.util.Objects.requireNonNull;

import dev.conduit.cli.CliException;
import dev.conduit.core.ConduitResources;
import dev.conduit.core.control.push.PushClient;
import dev.conduit.core.control.push.PushServer;
import dev.conduit.core.net.IpPrefixSet;
import dev.conduit.core.pki.Pem;
import dev.conduit.core.pki.TlsMaterial;
import dev.conduit.core.runtime.Service;
import dev.conduit.netfilter.egress.EgressGateway;
import dev.conduit.netfilter.egress.EgressGatewayService;
import dev.conduit.netfilter.egress.EgressL7CheckService;
import dev.conduit.netfilter.egress.EgressPushApplier;
import dev.conduit.netfilter.egress.EgressReporter;
import dev.conduit.netfilter.egress.EgressStateFile;
import dev.conduit.netfilter.egress.FlowLog;
import dev.conduit.netfilter.egress.ProcessLauncher;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The gateway's connection to the egress server: a push client over TLS (the server's CA; a token or a
 * client certificate) whose pushed allowlist the gateway enforces and keeps in its state file, and the
 * reports the gateway sends back on it (counters, active flows, denied flows with the flow log's names).
 */
final class EgressGatewayPush implements Service {

  private static final Logger log = LoggerFactory.getLogger(EgressGatewayPush.class);

  /** What the command line says about the server; checked before anything is installed. */
  record Settings(URI server, List<X509Certificate> trust, Optional<String> token, Optional<TlsMaterial> client,
      String name, OptionalInt flowLogGroup, Duration reportInterval) {

    @Override
    public String toString() {
      return "Settings[server=" + server + ", token=" + (token.isPresent() ? "****" : "none") + ", name=" + name + "]";
    }
  }

  private final EgressGatewayService gatewayService;
  private final Settings settings;
  private final IpPrefixSet special;
  private final EgressStateFile state;
  private final Optional<EgressL7CheckService> l7;
  private ConduitResources resources;
  private FlowLog flowLog;
  private PushClient client;
  private EgressReporter reporter;

  EgressGatewayPush(EgressGatewayService gatewayService, Settings settings, IpPrefixSet special,
      EgressStateFile state, Optional<EgressL7CheckService> l7) {
    this.l7 = requireNonNull(l7, "l7");
    this.gatewayService = requireNonNull(gatewayService, "gatewayService");
    this.settings = requireNonNull(settings, "settings");
    this.special = requireNonNull(special, "special");
    this.state = requireNonNull(state, "state");
  }

  /**
   * Checks the server options: {@code HOST:PORT} (seed 003's {@code -iptables-wss-server}) or a
   * {@code wss://} URL, the CA file, and a token file or a client certificate.
   */
  static Settings settings(String server, Path ca, Path tokenFile, Path clientCert, Path clientKey, String name,
      int flowLogGroup, Duration reportInterval) {
    URI uri;
    try {
      uri = server.contains("://") ? new URI(server) : new URI("wss://" + server + PushServer.DEFAULT_PATH);
      if (!"wss".equals(uri.getScheme()) || uri.getHost() == null || uri.getPort() < 1) {
        throw new IllegalArgumentException();
      }
    } catch (Exception e) {
      throw CliException.usage("--server: " + server + " (expected: HOST:PORT or wss://HOST:PORT/PATH)");
    }
    if (ca == null) {
      throw CliException.usage("--server-ca: required with --server (the PEM file of the CA that signed the"
          + " egress server's certificate: the connection is TLS, never plain)");
    }
    List<X509Certificate> trust;
    try {
      trust = Pem.readCertificates(ca);
    } catch (IOException | IllegalArgumentException e) {
      throw CliException.usage("--server-ca: cannot read " + ca + ": " + e.getMessage());
    }
    Optional<String> token = Optional.empty();
    Optional<TlsMaterial> client = Optional.empty();
    if (tokenFile != null) {
      try {
        String t = Files.readString(tokenFile).strip();
        if (t.isEmpty() || t.contains("\n")) {
          throw CliException.usage("--server-token-file: " + tokenFile + " (expected: one line, the token)");
        }
        token = Optional.of(t);
      } catch (IOException e) {
        throw CliException.usage("--server-token-file: cannot read " + tokenFile + ": " + e.getMessage());
      }
    } else if (clientCert != null && clientKey != null) {
      try {
        client = Optional.of(TlsMaterial.load(clientCert, clientKey, ca));
      } catch (IOException | IllegalArgumentException e) {
        throw CliException.usage("--client-cert: " + e.getMessage());
      }
    } else {
      throw CliException.usage("--server: needs --server-token-file, or --client-cert and --client-key"
          + " (the egress server admits authenticated gateways only)");
    }
    if (reportInterval.toMillis() < 100) {
      throw CliException.usage("--report-interval: " + reportInterval + " (expected: 100ms or more)");
    }
    return new Settings(uri, trust, token, client, name,
        flowLogGroup > 0 ? OptionalInt.of(flowLogGroup) : OptionalInt.empty(), reportInterval);
  }

  @Override
  public String name() {
    return "egress-push";
  }

  @Override
  public void start() throws Exception {
    EgressGateway gateway = gatewayService.gateway();
    resources = ConduitResources.create();
    if (settings.flowLogGroup().isPresent()) {
      try {
        flowLog = FlowLog.start(settings.flowLogGroup().getAsInt(), ProcessLauncher.system(), 4096);
      } catch (IOException e) {
        log.warn("egress gateway: {}; denied flows are reported without port and server name", e.getMessage());
      }
    }
    PushClient.Builder b = PushClient.builder(resources).addresses(List.of(settings.server()))
        .trustAnchors(settings.trust()).identity(settings.name(), "egress-gateway")
        .applier(new EgressPushApplier(gateway, special, Optional.of(state), l7.map(EgressL7CheckService::check)));
    settings.token().ifPresent(b::bearerToken);
    settings.client().ifPresent(b::clientCertificate);
    client = b.build();
    client.start();
    reporter = new EgressReporter(gateway, Optional.ofNullable(flowLog), l7.map(EgressL7CheckService::check),
        ProcessLauncher.system(), client::report, new EgressReporter.Settings(settings.reportInterval(), 10_000, 1_000), Clock.systemUTC());
    reporter.start();
  }

  @Override
  public void close() throws Exception {
    if (reporter != null) {
      reporter.close();
    }
    if (client != null) {
      client.close();
    }
    if (flowLog != null) {
      flowLog.close();
    }
    if (resources != null) {
      resources.close();
    }
  }

  @Override
  public String toString() {
    return "EgressGatewayPush[" + settings + "]";
  }
}
