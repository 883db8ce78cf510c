package dev.conduit.cli.command;

import dev.conduit.cli.CliException;
import dev.conduit.cli.config.ConfigLoader;
import dev.conduit.cli.config.EgressServerSection;
import dev.conduit.cli.config.SeedDatabaseKeys;
import dev.conduit.core.control.store.StoreConfig;
import dev.conduit.core.control.store.StoreException;
import dev.conduit.core.egress.EgressServer;
import dev.conduit.core.egress.EgressServerConfig;
import dev.conduit.core.net.IpPrefixSet;
import dev.conduit.core.pki.TlsMaterial;
import dev.conduit.core.runtime.ConduitRuntime;
import dev.conduit.core.runtime.Service;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.BiConsumer;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;
import picocli.CommandLine;
import picocli.CommandLine.Option;

/** {@code conduit egress server}: the allowlist service gateways take their allowlist from. */
@CommandLine.Command(name = "server", mixinStandardHelpOptions = true,
    description = "Keep the egress allowlist (domains, *.suffix, addresses, CIDRs), resolve the domains, push the"
        + " allowlist to gateways over TLS, and serve the API and the web page. Runs until SIGTERM.")
public final class EgressServerCommand extends BaseCommand implements Callable<Integer> {

  @Option(names = {"-c", "--config"}, paramLabel = "FILE",
      description = "A conduit.yaml whose egress_server section gives these settings; a flag given wins.")
  Path configFile;

  @Option(names = "-server-conf-path", paramLabel = "FILE",
      description = "Seed 003's server configuration (YAML: db_user, db_password, db_server, db_port, db_name):"
          + " keep the allowlist in that MySQL/MariaDB database.")
  Path seedConfig;

  @Option(names = "--store", paramLabel = "FILE|URL", defaultValue = "/var/lib/conduit/egress.db",
      description = "Where the allowlist is kept: a SQLite file, or a postgres:// or mysql:// URL"
          + " (default: ${DEFAULT-VALUE}).")
  String store;

  @Option(names = "--store-user", paramLabel = "NAME", description = "The database user (PostgreSQL, MySQL).")
  String storeUser;

  @Option(names = "--store-password-file", paramLabel = "FILE", description = "A file holding the database password.")
  Path storePasswordFile;

  @Option(names = "--listen", paramLabel = "HOST:PORT", defaultValue = "127.0.0.1:8700",
      description = "The HTTP listener: the API and the web page (default: ${DEFAULT-VALUE}).")
  String listen;

  @Option(names = "--expose-seed-api", description = "Serve the unauthenticated seed-compatible API (/api?add=,"
      + " /api?del=, /show-all) on a --listen address that is not loopback too.")
  boolean exposeSeedApi;

  @Option(names = "--admin-token-file", paramLabel = "FILE", description = "Admin tokens, one per line as NAME:TOKEN"
      + " (or a lone TOKEN, named admin): bearer tokens of the API and logins of the web page.")
  Path adminTokenFile;

  @Option(names = "--http-tls-cert", paramLabel = "FILE",
      description = "Serve --listen over HTTPS with this certificate chain (PEM); needs --http-tls-key.")
  Path httpTlsCert;

  @Option(names = "--http-tls-key", paramLabel = "FILE", description = "The private key of --http-tls-cert (PEM).")
  Path httpTlsKey;

  @Option(names = "--admin-ca", paramLabel = "FILE",
      description = "CA certificates (PEM): a client certificate issued under them authenticates an admin on the"
          + " HTTPS listener, as a token does (audit: cert:IDENTITY). Needs --http-tls-cert.")
  Path adminCa;

  @Option(names = "--max-request-bytes", paramLabel = "N", defaultValue = "65536",
      description = "The largest HTTP request; larger ones get 413 (default: ${DEFAULT-VALUE}).")
  int maxRequestBytes;

  @Option(names = "--push-listen", paramLabel = "HOST:PORT", defaultValue = "0.0.0.0:8701",
      description = "Where gateways connect (TLS; needs --tls-cert, --tls-key, --tls-ca) (default: ${DEFAULT-VALUE}).")
  String pushListen;

  @Option(names = "--tls-cert", paramLabel = "FILE", description = "The push listener's certificate chain (PEM).")
  Path tlsCert;

  @Option(names = "--tls-key", paramLabel = "FILE", description = "The push listener's private key (PEM).")
  Path tlsKey;

  @Option(names = "--tls-ca", paramLabel = "FILE",
      description = "The CA certificates gateways' client certificates are checked against (PEM).")
  Path tlsCa;

  @Option(names = "--gateway-token-file", paramLabel = "FILE",
      description = "Gateway tokens, one per line as NAME:TOKEN: gateways without a certificate present one.")
  Path gatewayTokenFile;

  @Option(names = "--dns-server", paramLabel = "HOST[:PORT]", split = ",",
      description = "A recursive DNS server to resolve with; repeatable (default: the system's).")
  List<String> dnsServers = new ArrayList<>();

  @Option(names = "--resolve-interval", paramLabel = "DURATION", defaultValue = "5m",
      description = "Re-resolve every domain this often at most; shorter TTLs make it sooner (default: ${DEFAULT-VALUE}).")
  Duration resolveInterval;

  @Option(names = "--grace-period", paramLabel = "DURATION", defaultValue = "15m",
      description = "Keep an address that left a domain's answers this long, and longer while a gateway reports a"
          + " flow to it (default: ${DEFAULT-VALUE}).")
  Duration gracePeriod;

  @Option(names = "--allow-special", paramLabel = "CIDR", split = ",",
      description = "Special-purpose space (private, benchmarking, ...) that may be allowlisted all the same; repeatable.")
  List<String> allowSpecial = new ArrayList<>();

  @Override
  public Integer call() throws Exception {
    EgressServerConfig config = config();
    EgressServer[] running = new EgressServer[1];
    Service service = new Service() {
      @Override
      public String name() {
        return "egress-server";
      }

      @Override
      public void start() throws Exception {
        running[0] = EgressServer.start(config);
        out().println("egress server: API and web page on " + (config.httpTls().isPresent() ? "https" : "http")
            + "://" + hostPort(running[0].httpAddress()) + "/ui/, "
            + running[0].pushAddress().map(a -> "gateways on wss://" + hostPort(a) + "/v1/push")
                .orElse("no push listener (gateways cannot connect: give --tls-cert, --tls-key and --tls-ca)")
            + ", " + running[0].entries().size() + " entries");
        out().flush();
      }

      @Override
      public void close() {
        if (running[0] != null) {
          running[0].close();
        }
      }
    };
    ConduitRuntime runtime = ConduitRuntime.builder().service(service).build();
    return Lifecycle.run(runtime, context(), null, e -> {
      Throwable cause = e.getCause();
      if (cause instanceof StoreException || cause instanceof IOException) {
        return CliException.failure("egress server: " + cause.getMessage());
      }
      return Lifecycle.startError(e);
    });
  }

  private EgressServerConfig config() throws IOException {
    if (configFile != null) {
      ConfigLoader.standard().load(configFile).section(EgressServerSection.SECTION).ifPresent(this::apply);
    }
    try {
      EgressServerConfig.Builder b = EgressServerConfig.builder(storeConfig())
          .bind(EgressGatewayCommand.bind(listen))
          .exposeSeedApi(exposeSeedApi)
          .maxRequestBytes(maxRequestBytes)
          .resolveInterval(resolveInterval)
          .gracePeriod(gracePeriod)
          .allowedSpecial(IpPrefixSet.parse(allowSpecial.toArray(new String[0])));
      tokens(adminTokenFile, "--admin-token-file", b::adminToken);
      tokens(gatewayTokenFile, "--gateway-token-file", b::gatewayToken);
      List<InetSocketAddress> dns = new ArrayList<>();
      for (String server : dnsServers) {
        dns.add(server.matches(".*:\\d+$") && !server.matches("^[0-9a-fA-F:]+$")
            ? EgressGatewayCommand.bind(server) : new InetSocketAddress(server.replaceAll("[\\[\\]]", ""), 53));
      }
      b.dnsServers(dns);
      httpTls(b);
      if (tlsCert != null || tlsKey != null || tlsCa != null) {
        if (tlsCert == null || tlsKey == null || tlsCa == null) {
          throw CliException.usage("--tls-cert, --tls-key and --tls-ca go together (the push listener's TLS)");
        }
        try {
          b.bindPush(EgressGatewayCommand.bind(pushListen), TlsMaterial.load(tlsCert, tlsKey, tlsCa));
        } catch (IOException e) {
          throw CliException.usage("--tls-cert/--tls-key/--tls-ca: " + e.getMessage());
        }
      }
      return b.build();
    } catch (IllegalArgumentException e) {
      throw CliException.usage(e.getMessage());
    }
  }

  /** HTTPS on --listen, and admin client certificates under --admin-ca. */
  private void httpTls(EgressServerConfig.Builder b) {
    if (httpTlsCert == null && httpTlsKey == null) {
      if (adminCa != null) {
        throw CliException.usage("--admin-ca: needs --http-tls-cert and --http-tls-key (client certificates"
            + " travel over HTTPS only)");
      }
      return;
    }
    if (httpTlsCert == null || httpTlsKey == null) {
      throw CliException.usage("--http-tls-cert and --http-tls-key go together (the HTTPS listener's certificate)");
    }
    try {
      // without --admin-ca nobody is asked for a certificate: the trust roots are never used
      b.httpTls(TlsMaterial.load(httpTlsCert, httpTlsKey, adminCa != null ? adminCa : httpTlsCert), adminCa != null);
    } catch (IOException | IllegalArgumentException e) {
      throw CliException.usage("--http-tls-cert/--http-tls-key/--admin-ca: " + e.getMessage());
    }
  }

  /** The file's settings, except where the command line gave the flag. */
  private void apply(EgressServerSection file) {
    file.setting("listen").filter(v -> unset("--listen")).ifPresent(v -> listen = v);
    file.setting("store").filter(v -> unset("--store")).ifPresent(v -> store = v);
    file.setting("store_user").filter(v -> unset("--store-user")).ifPresent(v -> storeUser = v);
    file.setting("store_password_file").filter(v -> unset("--store-password-file"))
        .ifPresent(v -> storePasswordFile = Path.of(v));
    file.setting("admin_token_file").filter(v -> unset("--admin-token-file")).ifPresent(v -> adminTokenFile = Path.of(v));
    file.setting("http_tls_cert").filter(v -> unset("--http-tls-cert")).ifPresent(v -> httpTlsCert = Path.of(v));
    file.setting("http_tls_key").filter(v -> unset("--http-tls-key")).ifPresent(v -> httpTlsKey = Path.of(v));
    file.setting("admin_ca").filter(v -> unset("--admin-ca")).ifPresent(v -> adminCa = Path.of(v));
    file.setting("max_request_bytes").filter(v -> unset("--max-request-bytes"))
        .ifPresent(v -> maxRequestBytes = Integer.parseInt(v.trim()));
    file.setting("push_listen").filter(v -> unset("--push-listen")).ifPresent(v -> pushListen = v);
    file.setting("tls_cert").filter(v -> unset("--tls-cert")).ifPresent(v -> tlsCert = Path.of(v));
    file.setting("tls_key").filter(v -> unset("--tls-key")).ifPresent(v -> tlsKey = Path.of(v));
    file.setting("tls_ca").filter(v -> unset("--tls-ca")).ifPresent(v -> tlsCa = Path.of(v));
    file.setting("gateway_token_file").filter(v -> unset("--gateway-token-file"))
        .ifPresent(v -> gatewayTokenFile = Path.of(v));
    if (!file.dnsServers().isEmpty() && unset("--dns-server")) {
      dnsServers = new ArrayList<>(file.dnsServers());
    }
    if (!file.allowSpecial().isEmpty() && unset("--allow-special")) {
      allowSpecial = new ArrayList<>(file.allowSpecial());
    }
    file.resolveInterval().filter(v -> unset("--resolve-interval")).ifPresent(v -> resolveInterval = v);
    file.gracePeriod().filter(v -> unset("--grace-period")).ifPresent(v -> gracePeriod = v);
    file.exposeSeedApi().filter(v -> unset("--expose-seed-api")).ifPresent(v -> exposeSeedApi = v);
  }

  private boolean unset(String flag) {
    return !spec.commandLine().getParseResult().hasMatchedOption(flag);
  }

  private StoreConfig storeConfig() {
    if (seedConfig != null) {
      Map<String, Object> conf = seedYaml(seedConfig);
      try {
        return seedStore(conf);
      } catch (IllegalArgumentException e) {
        throw CliException.usage("-server-conf-path " + seedConfig + ": " + e.getMessage());
      }
    }
    StoreConfig.Builder b;
    String s = store.trim();
    if (s.startsWith("postgres://") || s.startsWith("postgresql://") || s.startsWith("jdbc:postgresql:")) {
      b = StoreConfig.postgres(s);
    } else if (s.startsWith("mysql://") || s.startsWith("mariadb://") || s.startsWith("jdbc:mysql:")
        || s.startsWith("jdbc:mariadb:")) {
      b = StoreConfig.mysql(s);
    } else {
      b = StoreConfig.sqlite(Path.of(s.startsWith("sqlite:") ? s.substring("sqlite:".length()) : s));
    }
    if (storeUser != null) {
      b.user(storeUser);
    }
    if (storePasswordFile != null) {
      b.password(read(storePasswordFile, "--store-password-file").strip());
    }
    try {
      return b.build();
    } catch (IllegalArgumentException e) {
      throw CliException.usage("--store: " + e.getMessage());
    }
  }

  /** Seed 003's db_* keys as a MySQL/MariaDB store (a bad key is named: "db_port: 'x' (expected: 1-65535)"). */
  static StoreConfig seedStore(Map<String, Object> conf) {
    if (!SeedDatabaseKeys.present(conf)) {
      throw new IllegalArgumentException("db_server: missing (expected: seed 003's keys db_user, db_password,"
          + " db_server, db_port, db_name)");
    }
    return SeedDatabaseKeys.mysql(conf).build();
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> seedYaml(Path file) {
    String text = read(file, "-server-conf-path");
    Object loaded;
    try {
      loaded = new Load(LoadSettings.builder().build()).loadFromString(text);
    } catch (RuntimeException e) {
      throw CliException.usage("-server-conf-path " + file + ": not YAML (" + e.getMessage().lines().findFirst()
          .orElse("") + ")");
    }
    if (!(loaded instanceof Map)) {
      throw CliException.usage("-server-conf-path " + file + ": expected a YAML mapping of db_user, db_password,"
          + " db_server, db_port, db_name");
    }
    return new LinkedHashMap<>((Map<String, Object>) loaded);
  }

  private static void tokens(Path file, String flag, BiConsumer<String, String> add) {
    if (file == null) {
      return;
    }
    int line = 0;
    for (String raw : read(file, flag).split("\n")) {
      line++;
      String l = raw.strip();
      if (l.isEmpty() || l.startsWith("#")) {
        continue;
      }
      int colon = l.indexOf(':');
      try {
        if (colon < 0) {
          add.accept("admin", l);
        } else {
          add.accept(l.substring(0, colon).strip(), l.substring(colon + 1).strip());
        }
      } catch (IllegalArgumentException e) {
        throw CliException.usage(flag + " " + file + " line " + line + ": " + e.getMessage());
      }
    }
  }

  private static String read(Path file, String flag) {
    try {
      return Files.readString(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw CliException.usage(flag + ": cannot read " + file + " (" + e.getMessage() + ")");
    }
  }

  private static String hostPort(InetSocketAddress a) {
    String host = a.getAddress().getHostAddress();
    return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + a.getPort();
  }
}
