package dev.conduit.cli.config;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.control.enrol.CertificateLifetime;
import dev.conduit.core.control.enrol.MeshIdentity;
import dev.conduit.core.control.store.StoreConfig;
import dev.conduit.core.mesh.MeshManager;
import dev.conduit.core.mesh.MeshPolicy;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * {@code manager.yaml}, the mesh manager's configuration: seed 000's sections as written
 * ({@code conduit_manager.listen}, {@code db}, {@code cert}, {@code log}) plus conduit's own keys. Read with
 * {@link #load(Path)}; {@link #toBuilder()} makes the {@link MeshManager}.
 *
 * @param file the file it was read from
 * @param bind where the manager listens
 * @param trustDomain the identities' trust domain
 * @param autoApprove whether nodes join without token or approval (lab networks only)
 * @param dataDirectory where the CA key file, the exported CA certificate and the admin token live
 * @param adminTokenFile the admin token file, when not the default one in the data directory
 * @param serverNames more DNS names or IPs for the manager's own certificate
 * @param store the database
 * @param caLifetime the lifetime of a CA created at first start
 * @param caCommonName its common name
 * @param caOrganization its organization, if any
 * @param nodeLifetime the lifetime of node certificates
 * @param nodeOrganization their organization, if any
 * @param log logging
 * @param pushBind where the membership push channel listens ({@code conduit_manager.push_listen}; default: the
 *     listen address with its port + 1; {@code off}: not at all), if it runs
 * @param policy which groups of nodes may reach which ports of which others ({@code conduit_manager.policy})
 */
public record ManagerConfig(Path file, InetSocketAddress bind, String trustDomain, boolean autoApprove,
    Path dataDirectory, Optional<Path> adminTokenFile, List<String> serverNames, StoreConfig store,
    CertificateLifetime caLifetime, String caCommonName, Optional<String> caOrganization,
    CertificateLifetime nodeLifetime, Optional<String> nodeOrganization, LogConfig log,
    Optional<InetSocketAddress> pushBind, MeshPolicy policy) {

  private static final List<String> TOP = List.of("conduit_manager", "db", "cert", "log");
  private static final List<String> MANAGER = List.of("listen", "trust_domain", "auto_approve", "data_dir",
      "admin_token_file", "server_names", "push_listen", "policy");
  private static final List<String> LISTEN = List.of("network", "addr");
  private static final List<String> DB = List.of("driver", "address", "db", "debug", "url", "user", "username",
      "password", "password_file", "options", "max_open_conn", "max_idle_conn");
  private static final List<String> CERT = List.of("ca", "cert");
  private static final List<String> CERT_ITEM = List.of("not_after", "common_name", "organization");
  private static final List<String> LOG = List.of("level", "format", "file", "maxsize", "maxrolls");

  /** Checks the components. */
  public ManagerConfig {
    requireNonNull(file, "file");
    requireNonNull(bind, "bind");
    requireNonNull(trustDomain, "trustDomain");
    requireNonNull(dataDirectory, "dataDirectory");
    requireNonNull(adminTokenFile, "adminTokenFile");
    serverNames = List.copyOf(serverNames);
    requireNonNull(store, "store");
    requireNonNull(caLifetime, "caLifetime");
    requireNonNull(caCommonName, "caCommonName");
    requireNonNull(caOrganization, "caOrganization");
    requireNonNull(nodeLifetime, "nodeLifetime");
    requireNonNull(nodeOrganization, "nodeOrganization");
    requireNonNull(log, "log");
    requireNonNull(pushBind, "pushBind");
    requireNonNull(policy, "policy");
  }

  /**
   * Reads and checks {@code manager.yaml}.
   *
   * @throws ConfigException naming the file, line and key of a bad value
   */
  public static ManagerConfig load(Path file) throws IOException {
    requireNonNull(file, "file");
    String text;
    try {
      text = Files.readString(file, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      throw new ConfigException(file.toString(), 0, "no such file");
    }
    ConfigNode root = parse(text, file.toString());
    Map m = new Map(root.mapping(TOP));
    Map manager = m.section("conduit_manager", MANAGER);
    Map listen = manager.section("listen", LISTEN);
    String network = listen.string("network").orElse("tcp");
    if (!List.of("tcp", "tcp4", "tcp6").contains(network)) {
      throw listen.node("network").error("'" + network + "' (expected: tcp)");
    }
    String addr = listen.string("addr").orElse("0.0.0.0:5051");
    InetSocketAddress bind = listen.nodeOr("addr", root).convert(() -> address(addr));
    String trustDomain = manager.string("trust_domain").orElse(MeshIdentity.DEFAULT_TRUST_DOMAIN);
    manager.nodeOr("trust_domain", root).convert(() -> new MeshIdentity(trustDomain));
    boolean autoApprove = manager.has("auto_approve") && manager.node("auto_approve").bool();

    Map db = m.section("db", DB);
    String driverName = db.string("driver").orElse("sqlite");
    ConfigNode driverNode = db.nodeOr("driver", root);
    StoreConfig.Driver driver = driverNode.convert(() -> StoreConfig.Driver.parse(driverName));
    StoreConfig.Builder store;
    Path base = file.toAbsolutePath().getParent();
    Optional<Path> dataDir = manager.string("data_dir").map(base::resolve);
    switch (driver) {
      case SQLITE -> {
        Path directory = base.resolve(db.string("address").orElse("."));
        store = StoreConfig.sqlite(directory.resolve(db.string("db").orElse("manager.db")));
        dataDir = Optional.of(dataDir.orElse(directory));
      }
      case POSTGRES -> {
        String url = db.string("url").orElseGet(() -> "jdbc:postgresql://" + db.string("address").orElseThrow(
            () -> db.nodeOr("driver", root).error("missing 'url' or 'address' (expected: the PostgreSQL server's host:port)")) + "/"
            + db.string("db").orElse("conduit"));
        store = db.nodeOr("url", root).convert(() -> StoreConfig.postgres(url));
        credentials(db, store, base);
        if (dataDir.isEmpty()) {
          throw manager.nodeOr("listen", root).error("missing 'data_dir' (expected: where this manager keeps the CA key file; "
              + "with postgres every manager needs a copy of it)");
        }
      }
      default -> {
        // seed 000's MySQL keys: address host:port, db, username, password
        String url = db.string("url").orElseGet(() -> "jdbc:mysql://" + db.string("address").orElseThrow(
            () -> db.nodeOr("driver", root).error("missing 'url' or 'address' (expected: the MySQL server's host:port)"))
            + "/" + db.string("db").orElse("conduit"));
        store = db.nodeOr(db.has("url") ? "url" : "address", root).convert(() -> StoreConfig.mysql(url));
        credentials(db, store, base);
        if (dataDir.isEmpty()) {
          throw manager.nodeOr("listen", root).error("missing 'data_dir' (expected: where this manager keeps the CA key file; "
              + "with mysql every manager needs a copy of it)");
        }
      }
    }
    if (db.has("max_open_conn")) {
      store.poolSize(db.node("max_open_conn").integer(1, 64));
    }
    store.debug(db.has("debug") && db.node("debug").bool());
    StoreConfig storeConfig = store.build();

    Map cert = m.section("cert", CERT);
    Map ca = cert.section("ca", CERT_ITEM);
    Map node = cert.section("cert", CERT_ITEM);
    CertificateLifetime caLifetime = lifetime(ca, CertificateLifetime.of(CertificateLifetime.DEFAULT_CA));
    CertificateLifetime nodeLifetime = lifetime(node, CertificateLifetime.of(CertificateLifetime.DEFAULT_NODE));

    Map log = m.section("log", LOG);
    LogConfig logConfig = LogConfig.defaults();
    if (log.has("level")) {
      logConfig = log.node("level").convert(() -> LogConfig.defaults().withLevel(log.string("level").get()));
    }
    if (log.has("format")) {
      LogConfig current = logConfig;
      logConfig = log.node("format").convert(() -> current.withFormat(log.string("format").get()));
    }
    Optional<String> logFile = log.string("file");
    int maxSize = log.has("maxsize") ? log.node("maxsize").integer(0, 1 << 20) : logConfig.maxSizeMegabytes();
    int maxRolls = log.has("maxrolls") ? log.node("maxrolls").integer(0, 1000) : logConfig.maxBackups();
    logConfig = new LogConfig(logConfig.level(), logConfig.format(), logFile, maxSize, maxRolls, "off");

    // on by default beside the API (port + 1), where seed 000's conduit.yaml, which names only the API, finds it
    Optional<InetSocketAddress> pushBind = Optional.of(new InetSocketAddress(bind.getAddress(),
        bind.getPort() == 0 || bind.getPort() == 65535 ? 0 : bind.getPort() + 1));
    if (manager.has("push_listen")) {
      String push = manager.string("push_listen").get();
      pushBind = push.equals("off") ? Optional.empty()
          : Optional.of(manager.node("push_listen").convert(() -> address(push)));
    }
    List<String> serverNames = manager.has("server_names") ? manager.node("server_names").strings() : List.of();
    return new ManagerConfig(file, bind, trustDomain, autoApprove, dataDir.get(),
        manager.string("admin_token_file").map(base::resolve), serverNames, storeConfig, caLifetime,
        ca.string("common_name").orElse("conduit mesh CA"), ca.string("organization"), nodeLifetime,
        node.string("organization"), logConfig, pushBind, ManagerPolicyConfig.parse(manager.node("policy")));
  }

  /** Returns a manager builder for this configuration; the approval hint names this file. */
  public MeshManager.Builder toBuilder() {
    MeshManager.Builder b = MeshManager.builder(store, dataDirectory).bind(bind).trustDomain(trustDomain)
        .certificateAuthority(caCommonName, caOrganization.orElse(null), caLifetime)
        .nodeCertificates(nodeLifetime, nodeOrganization.orElse(null)).autoApprove(autoApprove)
        .serverNames(serverNames)
        .approveCommand("conduit manager nodes approve %s -c " + file.toAbsolutePath());
    adminTokenFile.ifPresent(b::adminTokenFile);
    return b;
  }

  /** Returns the admin token file the manager uses. */
  public Path effectiveAdminTokenFile() {
    return adminTokenFile.orElse(dataDirectory.resolve(MeshManager.ADMIN_TOKEN_FILE));
  }

  /** Returns the address operators' commands on this host dial: the listen address, loopback for a wildcard. */
  public String localAddress() {
    java.net.InetAddress a = bind.getAddress();
    String host = a.isAnyLocalAddress() ? (a instanceof java.net.Inet6Address ? "[::1]" : "127.0.0.1")
        : a instanceof java.net.Inet6Address ? "[" + a.getHostAddress() + "]" : a.getHostAddress();
    return host + ":" + bind.getPort();
  }

  private static CertificateLifetime lifetime(Map item, CertificateLifetime fallback) {
    if (!item.has("not_after")) {
      return fallback;
    }
    ConfigNode n = item.node("not_after");
    String text = n.string();
    return n.convert(() -> text.contains(",") ? CertificateLifetime.parseYearsMonthsDays(text)
        : CertificateLifetime.of(Durations.parse(text)));
  }

  private static InetSocketAddress address(String text) {
    int colon = text.lastIndexOf(':');
    if (colon < 0) {
      throw new IllegalArgumentException("addr: '" + text + "' (expected: IP:PORT such as 0.0.0.0:5051)");
    }
    String host = text.substring(0, colon);
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    int port;
    try {
      port = Integer.parseInt(text.substring(colon + 1));
    } catch (NumberFormatException e) {
      port = -1;
    }
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("addr: '" + text + "' (expected: a port 0-65535)");
    }
    byte[] ip = io.netty.util.NetUtil.createByteArrayFromIpAddressString(host.isEmpty() ? "0.0.0.0" : host);
    if (ip == null) {
      throw new IllegalArgumentException("addr: '" + text + "' (expected: an IP address, not a host name)");
    }
    try {
      return new InetSocketAddress(java.net.InetAddress.getByAddress(ip), port);
    } catch (java.net.UnknownHostException e) {
      throw new IllegalArgumentException("addr: '" + text + "'", e);
    }
  }

  private static ConfigNode parse(String yaml, String name) {
    java.util.Optional<org.snakeyaml.engine.v2.nodes.Node> root;
    try {
      root = new org.snakeyaml.engine.v2.api.lowlevel.Compose(
          org.snakeyaml.engine.v2.api.LoadSettings.builder().setLabel(name).build()).composeString(yaml);
    } catch (org.snakeyaml.engine.v2.exceptions.MarkedYamlEngineException e) {
      throw new ConfigException(name, e.getProblemMark().map(m -> m.getLine() + 1).orElse(0),
          "not valid YAML: " + e.getProblem());
    } catch (org.snakeyaml.engine.v2.exceptions.YamlEngineException e) {
      throw new ConfigException(name, 0, "not valid YAML: " + e.getMessage());
    }
    if (root.isEmpty()) {
      throw new ConfigException(name, 0, "empty (expected: a conduit_manager section)");
    }
    return ConfigNode.root(root.get(), name);
  }

  /** The database user and password: {@code user} or seed 000's {@code username}; a password file or inline. */
  private static void credentials(Map db, StoreConfig.Builder store, Path base) {
    db.string("user").or(() -> db.string("username")).ifPresent(store::user);
    if (db.has("password_file")) {
      store.password(readSecret(base.resolve(db.string("password_file").get()), db.node("password_file")));
    } else if (db.has("password")) {
      store.password(db.string("password").get());
    }
  }

  private static String readSecret(Path file, ConfigNode at) {
    try {
      String text = Files.readString(file, StandardCharsets.UTF_8).strip();
      if (text.isEmpty()) {
        throw at.error(file + ": empty");
      }
      return text;
    } catch (IOException e) {
      throw at.error(file + ": cannot be read (" + e.getMessage() + ")");
    }
  }

  /** A mapping read with its allowed keys; missing sections read as empty. */
  private static final class Map {
    private final java.util.Map<String, ConfigNode> entries;
    private final ConfigNode self;

    Map(java.util.Map<String, ConfigNode> entries) {
      this(entries, null);
    }

    Map(java.util.Map<String, ConfigNode> entries, ConfigNode self) {
      this.entries = entries;
      this.self = self;
    }

    Map section(String key, List<String> allowed) {
      ConfigNode n = entries.get(key);
      if (n == null || n.isNull()) {
        return new Map(java.util.Map.of(), n);
      }
      return new Map(n.mapping(allowed), n);
    }

    boolean has(String key) {
      ConfigNode n = entries.get(key);
      return n != null && !n.isNull();
    }

    ConfigNode node(String key) {
      return entries.get(key);
    }

    ConfigNode nodeOr(String key, ConfigNode fallback) {
      return has(key) ? entries.get(key) : self != null ? self : fallback;
    }

    Optional<String> string(String key) {
      return has(key) ? Optional.of(entries.get(key).string()) : Optional.empty();
    }
  }
}
