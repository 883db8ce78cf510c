package dev.conduit.cli.config;

import static java.util.Objects.requireNonNull;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Every key of {@code conduit.yaml}: its type and meaning, written out as the key reference
 * ({@code docs/config-reference.md}) and as a JSON Schema ({@code docs/conduit.schema.json}, for editors
 * and CI). Tests hold it to the loader: the keys of each mapping equal the keys the loader accepts there
 * (as its "unknown key" error lists them), a configuration with every key loads, and the generated files
 * equal the committed ones.
 */
public final class ConfigReference {

  /** What a key holds. */
  public enum Kind {
    /** A scalar read as text (numbers and booleans too). */
    STRING,
    /** One scalar or a list of them. */
    STRINGS,
    /** A whole number. */
    INTEGER,
    /** {@code true} or {@code false}. */
    BOOLEAN,
    /** A duration such as {@code 10s}, {@code 500ms} or {@code 1h30m}; {@code 0} for none. */
    DURATION,
    /** Bytes: {@code 200000}, {@code 512k}, {@code 192m}, {@code 2g}. */
    SIZE,
    /** One of the listed words. */
    ENUM,
    /** A mapping of the child keys. */
    MAPPING,
    /** A list of mappings of the child keys. */
    MAPPINGS,
    /** A list whose items are a URL string or a mapping of the child keys. */
    HOPS,
    /** {@code user:password} or a mapping {@code {username, password}}. */
    CREDENTIALS,
    /** {@code direct}, {@code reject}, {@code {via: OUTBOUND}} or {@code {reject: reason}}. */
    DECISION,
    /** {@code on}, {@code off}, {@code true}, {@code false} or {@code IDLE:INTVL:CNT}. */
    KEEPALIVE,
    /** A section recognised but refused by this build. */
    UNSUPPORTED
  }

  /**
   * One key.
   *
   * @param name the key
   * @param kind what it holds
   * @param doc its meaning, one sentence or two
   * @param children the keys of a mapping ({@link Kind#MAPPING}, {@link Kind#MAPPINGS}, {@link Kind#HOPS})
   * @param values the words of an {@link Kind#ENUM}
   * @param required whether the key must be present
   * @param nullable whether {@code key:} with no value is accepted
   */
  public record Key(String name, Kind kind, String doc, List<Key> children, List<String> values, boolean required,
      boolean nullable) {

    /** Checks and copies. */
    public Key {
      requireNonNull(name, "name");
      requireNonNull(kind, "kind");
      requireNonNull(doc, "doc");
      children = List.copyOf(children);
      values = List.copyOf(values);
    }

    Key asRequired() {
      return new Key(name, kind, doc, children, values, true, nullable);
    }

    Key orNull() {
      return new Key(name, kind, doc, children, values, required, true);
    }
  }

  private ConfigReference() {}

  static Key key(String name, Kind kind, String doc) {
    return new Key(name, kind, doc, List.of(), List.of(), false, false);
  }

  static Key oneOf(String name, String doc, String... values) {
    return new Key(name, Kind.ENUM, doc, List.of(), List.of(values), false, false);
  }

  static Key mapping(String name, String doc, Key... children) {
    return new Key(name, Kind.MAPPING, doc, List.of(children), List.of(), false, false);
  }

  static Key mappings(String name, String doc, Key... children) {
    return new Key(name, Kind.MAPPINGS, doc, List.of(children), List.of(), false, true);
  }

  private static Key meshTls() {
    return mapping("tls", "The tunnel's TLS.",
        key("enable", Kind.BOOLEAN, "TLS on the tunnel (without it: plain TCP, with a warning at start)."),
        key("mtls", Kind.BOOLEAN, "Mutual TLS: the other side must present a certificate from `cas`."),
        key("cas", Kind.STRINGS, "PEM files of the trusted CAs."),
        mappings("certs", "This side's certificates.",
            key("cert", Kind.STRING, "PEM certificate chain file.").orNull(),
            key("key", Kind.STRING, "PEM private key file.").orNull()),
        key("insecure_skip_verify", Kind.BOOLEAN, "Skip verifying the peer's certificate (tests only)."),
        key("multiplex", Kind.BOOLEAN, "Tunnels as HTTP/2 streams over pooled connections (conduit's extension).")).orNull();
  }

  /** The top-level keys, in the order the loader reads them. */
  public static List<Key> top() {
    return List.of(
        key("version", Kind.INTEGER, "The format version: 1 (required except in seed 000 files)."),
        mapping("log", "Logging.",
            oneOf("level", "The root log level (default info).", "trace", "debug", "info", "warn", "warning", "error"),
            oneOf("format", "Log line format (default text).", "text", "json"),
            key("file", Kind.STRING, "Log to this file, rolled by size, instead of standard error.").orNull(),
            key("maxsize", Kind.INTEGER, "Roll the file at this many megabytes."),
            key("maxrolls", Kind.INTEGER, "Rolled files kept."),
            oneOf("access", "One line per closed connection on logger conduit.access (default logfmt).",
                "logfmt", "json", "off")),
        mappings("listeners", "Where clients connect.",
            key("name", Kind.STRING, "Unique name, used by rules, logs and metrics.").asRequired(),
            oneOf("type", "The protocol.", "http", "socks", "socks5", "mixed", "transparent", "redirect", "tproxy").asRequired(),
            oneOf("mode", "For type transparent: how connections were captured (default redirect).", "redirect",
                "tproxy"),
            key("listen", Kind.STRING, "ip:port to bind; :port means every address, port 0 picks one.").asRequired(),
            mapping("auth", "Required users (HTTP Basic, SOCKS5 username/password).",
                new Key("users", Kind.CREDENTIALS, "The users.", List.of(), List.of(), false, true)),
            key("allow_sources", Kind.STRINGS, "Client CIDRs allowed to connect (default: any)."),
            key("udp", Kind.BOOLEAN, "SOCKS5 UDP ASSOCIATE (socks, mixed) or UDP through TPROXY (tproxy).")),
        mappings("outbounds", "Named upstream proxy chains, used by rules' via.",
            key("name", Kind.STRING, "Unique name (direct is built in).").asRequired(),
            new Key("hops", Kind.HOPS, "The chain, first hop first: URLs (scheme://[user:pass@]host:port) or mappings.",
                List.of(
                    oneOf("protocol", "The hop's protocol.", "http", "https", "socks5").asRequired(),
                    key("endpoints", Kind.STRINGS, "host:port of the hop; several fail over in order.").asRequired(),
                    new Key("credentials", Kind.CREDENTIALS, "The hop's user.", List.of(), List.of(), false, false),
                    mapping("tls", "TLS to the hop (https).",
                        key("ca_file", Kind.STRING, "Trust only the CAs in this PEM file."),
                        key("server_name", Kind.STRING, "SNI and the name verified (default: the endpoint's host).")),
                    key("forward_client_address", Kind.BOOLEAN, "Send the client's address to the hop.")),
                List.of(), false, true)),
        mappings("rules", "Tried in order; the first that matches decides.",
            key("name", Kind.STRING, "Unique name, in logs and metrics.").asRequired(),
            mapping("match", "Conditions, all of which must hold; none: everything.",
                key("domains", Kind.STRINGS, "Exact destination names."),
                key("domain_suffixes", Kind.STRINGS, "Destination name suffixes (corp.example matches a.corp.example)."),
                key("cidrs", Kind.STRINGS, "Destination address ranges."),
                key("ports", Kind.STRINGS, "Destination ports and ranges (443, \"8000-8100\")."),
                key("source_cidrs", Kind.STRINGS, "Client address ranges."),
                key("listeners", Kind.STRINGS, "Listener names."),
                key("principals", Kind.STRINGS, "Authenticated user names.")).orNull(),
            key("action", Kind.DECISION, "What to do with a matching connection.").asRequired()),
        key("default", Kind.DECISION, "The decision when no rule matches (default direct)."),
        mapping("timeouts", "Time limits.",
            key("dial", Kind.DURATION, "DNS, connect and upstream handshakes (default 10s)."),
            key("negotiation", Kind.DURATION, "The client's handshake and request head (default 10s)."),
            key("http_idle", Kind.DURATION, "Idle keep-alive HTTP connections (default 4m)."),
            key("http_response", Kind.DURATION, "A forwarded request's wait for its response head (default 2m)."),
            key("relay_idle", Kind.DURATION, "Tunnels without traffic; 0 never (default 0)."),
            key("drain", Kind.DURATION, "Graceful stop (default 30s).")),
        key("tcp_keepalive", Kind.KEEPALIVE, "TCP keepalive of accepted and dialed sockets (default on)."),
        key("splice", Kind.BOOLEAN, "Relay plain TCP tunnels with splice(2), epoll only (default false)."),
        mapping("dns", "The resolver (default: /etc/resolv.conf's settings).",
            key("servers", Kind.STRINGS, "Name servers, ip or ip:port."),
            key("search", Kind.STRINGS, "Search domains."),
            key("ndots", Kind.INTEGER, "Dots below which the search domains are tried first (0-15).")),
        mapping("client", "Seed 000's tunnel client.",
            key("enable", Kind.BOOLEAN, "Run the client."),
            key("network", Kind.STRING, "tcp.").orNull(),
            key("listen", Kind.STRING, "ip:port of the client's listener.").orNull(),
            key("check_time", Kind.INTEGER, "Seconds between health checks of the peers; 0 off."),
            mappings("forward_table", "Captured destinations and the peer each goes to.",
                key("dst", Kind.STRING, ":port or ip:port.").orNull(),
                key("dst_as", Kind.STRING, "The destination the peer dials instead.").orNull(),
                key("peer_index", Kind.INTEGER, "The peer's index.")),
            mappings("peers", "Tunnel servers.",
                key("index", Kind.INTEGER, "The peer's index."),
                key("network", Kind.STRING, "tcp.").orNull(),
                key("addresses", Kind.STRINGS, "ip:port of the peer's servers, tried in order."),
                meshTls()),
            key("capture", Kind.BOOLEAN, "Install the capture rules (default: when root; conduit's extension).").orNull(),
            key("multiplex", Kind.BOOLEAN, "Tunnels to every mesh member (or TLS peer) as HTTP/2 streams over pooled "
                + "connections (conduit's extension).").orNull()),
        mapping("server", "Seed 000's tunnel server.",
            key("enable", Kind.BOOLEAN, "Run the server."),
            mapping("listen", "Where tunnels arrive.",
                key("network", Kind.STRING, "tcp.").orNull(),
                key("addr", Kind.STRING, "ip:port.").orNull(),
                meshTls()).orNull(),
            mappings("allow", "What each peer may reach (conduit's extension; default: this host only).",
                key("peer", Kind.STRING, "The peer's URI SAN, DNS SAN or CN; * for any.").orNull(),
                key("cidrs", Kind.STRINGS, "Destination ranges."),
                key("ports", Kind.STRINGS, "Destination ports and ranges."),
                key("domains", Kind.STRINGS, "Destination names.")),
            mapping("enforce", "Local TCP ports only the mesh (and loopback) reaches; others get a reset (nft, root).",
                key("ports", Kind.STRINGS, "Ports and ranges, e.g. \"3306\", \"8000-8099\".").asRequired(),
                key("allow_sources", Kind.STRINGS, "CIDRs that may still reach them directly.").orNull()).orNull()),
        mapping("admin", "The admin endpoint: /metrics, /healthz, /readyz, /connections, /config, /loggers.",
            key("listen", Kind.STRING, "ip:port (default " + AdminConfig.DEFAULT_LISTEN + ")."),
            key("token", Kind.STRING, "Bearer token required by the endpoint (a secret: prefer token_file)."),
            key("token_file", Kind.STRING, "File holding the bearer token."),
            key("tls_cert", Kind.STRING, "Certificate chain (PEM) of the endpoint: it then serves HTTPS only"
                + " (with tls_key).").orNull(),
            key("tls_key", Kind.STRING, "Private key (PEM) of the endpoint (with tls_cert).").orNull(),
            key("client_ca", Kind.STRING, "CA certificates (PEM) of the client certificates the endpoint accepts;"
                + " a request with a verified one needs no token (needs tls_cert).").orNull(),
            key("client_certificates", Kind.STRING, "none, optional or required (handshakes without a certificate"
                + " fail); default optional with client_ca, else none.").orNull()).orNull(),
        mapping("manager", "Seed 000's mesh mode: this host's conduit joins the mesh the manager runs.",
            key("enable", Kind.BOOLEAN, "Join the mesh (then client/server take their peers from the manager).")
                .orNull(),
            mapping("dial", "The manager's API.",
                key("network", Kind.STRING, "tcp, tcp4 or tcp6.").orNull(),
                key("addresses", Kind.STRINGS, "host:port of the managers, tried in order.").orNull()).orNull(),
            key("name", Kind.STRING, "The node's name (default: the host name).").orNull(),
            key("token", Kind.STRING, "A join token (a secret: prefer token_file).").orNull(),
            key("token_file", Kind.STRING, "File holding the join token.").orNull(),
            key("ca_pin", Kind.STRING, "The manager CA's sha256: fingerprint (default: trust on first use).").orNull(),
            key("state_dir", Kind.STRING, "Key, certificates, CA pin and last membership (default "
                + MeshNodeConfig.DEFAULT_STATE_DIRECTORY + ").").orNull(),
            key("push", Kind.STRINGS, "host:port of the managers' push channel (default: dial port + 1).").orNull(),
            key("addresses", Kind.STRINGS, "The host addresses to report (default: the interfaces').").orNull()),
        mapping("egress_server", "conduit egress server's settings, the same as its flags (a flag given wins).",
            key("listen", Kind.STRING, "ip:port of the API and the web page (default 127.0.0.1:8700)."),
            key("store", Kind.STRING, "A SQLite file or a postgres:// or mysql:// URL (default"
                + " /var/lib/conduit/egress.db)."),
            key("store_user", Kind.STRING, "The database user (PostgreSQL, MySQL)."),
            key("store_password_file", Kind.STRING, "File holding the database password."),
            key("admin_token_file", Kind.STRING, "File of admin tokens, one per line as NAME:TOKEN."),
            key("http_tls_cert", Kind.STRING, "Serve listen over HTTPS with this certificate chain (PEM)."),
            key("http_tls_key", Kind.STRING, "The private key of http_tls_cert (PEM)."),
            key("admin_ca", Kind.STRING, "CA certificates (PEM) of admin client certificates, accepted as a token"
                + " is (needs http_tls_cert)."),
            key("max_request_bytes", Kind.INTEGER, "The largest HTTP request body; larger ones get 413 (default"
                + " 65536)."),
            key("push_listen", Kind.STRING, "ip:port gateways connect to over TLS (default 0.0.0.0:8701)."),
            key("tls_cert", Kind.STRING, "The push listener's certificate chain (PEM)."),
            key("tls_key", Kind.STRING, "The push listener's private key (PEM)."),
            key("tls_ca", Kind.STRING, "CA certificates gateways' client certificates are checked against (PEM)."),
            key("gateway_token_file", Kind.STRING, "File of gateway tokens, one per line as NAME:TOKEN."),
            key("dns_servers", Kind.STRINGS, "Recursive DNS servers, ip or ip:port (default: the system's)."),
            key("resolve_interval", Kind.DURATION, "Re-resolve every domain this often at most (default 5m)."),
            key("grace_period", Kind.DURATION, "Keep an address that left a domain's answers this long (default 15m)."),
            key("allow_special", Kind.STRINGS, "Special-purpose CIDRs that may be allowlisted all the same."),
            key("expose_seed_api", Kind.BOOLEAN, "Serve the unauthenticated seed API on a non-loopback listen too."))
            .orNull(),
        mapping("cache", "The caching MITM proxy.",
            key("cert_dir", Kind.STRING, "Directory of conduit's CA and issued certificates.").asRequired(),
            key("cache_dir", Kind.STRING, "Directory of cached bodies.").asRequired(),
            key("listen", Kind.STRING, "ip:port of the proxy (default " + CacheConfig.DEFAULT_LISTEN + ")."),
            key("tls_listen", Kind.STRING, "ip:port of a TLS listener presenting tls_names.").orNull(),
            key("tls_names", Kind.STRINGS, "Names the TLS listener presents."),
            key("intercept", Kind.STRINGS, "Hosts whose HTTPS is intercepted and cached."),
            key("filters", Kind.STRINGS, "Regular expressions of the URLs cached."),
            key("trust_upstream_cas", Kind.STRINGS, "PEM files of CAs trusted for origins."),
            key("max_cache_size", Kind.INTEGER, "Bytes of cache before the least recently used bodies go.")),
        key("transparent", Kind.UNSUPPORTED, "Seed 004's section: use a listener of type transparent (refused here)."),
        mapping("overload", "The overload manager's budgets (0 or absent: derived).",
            key("memory_budget", Kind.SIZE, "Memory conduit may buffer."),
            key("fd_budget", Kind.INTEGER, "Open files at which new requests are answered busy."),
            key("enabled", Kind.BOOLEAN, "The overload manager (default true).")));
  }

  /** The reference as Markdown: one table per section, nested keys as paths. */
  public static String markdown() {
    StringBuilder s = new StringBuilder();
    s.append("# conduit.yaml key reference\n\n")
        .append("Generated from the configuration binding (`ConfigReference`); do not edit. A test fails when it\n")
        .append("differs from the code; regenerate with `./mvnw -pl conduit-cli -am test -Dtest=ConfigReferenceTest")
        .append(" -Dsurefire.failIfNoSpecifiedTests=false -Dconduit.docs.update=true`.\n")
        .append("The JSON Schema beside it, `conduit.schema.json`, says the same for editors and CI.\n\n")
        .append("Any value may be `${file:PATH}` or `${env:NAME}`, and `CONDUIT_SECTION__KEY` variables override keys")
        .append(" (see the README).\n");
    for (Key k : top()) {
      s.append("\n## `").append(k.name()).append("`\n\n").append(k.doc()).append(" Type: ").append(type(k)).append(".\n");
      if (!k.children().isEmpty()) {
        s.append("\n| key | type | meaning |\n| --- | --- | --- |\n");
        rows(s, k.name() + (k.kind() == Kind.MAPPING ? "." : "[]."), k.children());
      }
    }
    return s.toString();
  }

  private static void rows(StringBuilder s, String prefix, List<Key> keys) {
    for (Key k : keys) {
      s.append("| `").append(prefix).append(k.name()).append("` | ").append(type(k)).append(" | ").append(k.doc())
          .append(k.required() ? " Required." : "").append(" |\n");
      if (!k.children().isEmpty()) {
        rows(s, prefix + k.name() + (k.kind() == Kind.MAPPING ? "." : "[]."), k.children());
      }
    }
  }

  private static String type(Key k) {
    return switch (k.kind()) {
      case STRING -> "string";
      case STRINGS -> "string or list";
      case INTEGER -> "integer";
      case BOOLEAN -> "boolean";
      case DURATION -> "duration";
      case SIZE -> "size";
      case ENUM -> String.join(" \\| ", k.values());
      case MAPPING -> "mapping";
      case MAPPINGS -> "list of mappings";
      case HOPS -> "list of URLs or mappings";
      case CREDENTIALS -> k.name().equals("users") ? "list of user:password or {username, password}"
          : "user:password or {username, password}";
      case DECISION -> "direct \\| reject \\| {via: OUTBOUND} \\| {reject: reason}";
      case KEEPALIVE -> "on \\| off \\| IDLE:INTVL:CNT";
      case UNSUPPORTED -> "not supported";
    };
  }

  /** The JSON Schema (draft 2020-12) of {@code conduit.yaml} as nested maps, for a JSON writer. */
  public static Map<String, Object> jsonSchema() {
    Map<String, Object> root = new LinkedHashMap<>();
    root.put("$schema", "https://json-schema.org/draft/2020-12/schema");
    root.put("$id", "https://conduit.dev/schema/conduit.schema.json");
    root.put("title", "conduit.yaml");
    root.putAll(object(top(), false));
    return root;
  }

  private static Map<String, Object> object(List<Key> keys, boolean nullable) {
    Map<String, Object> o = new LinkedHashMap<>();
    o.put("type", nullable ? List.of("object", "null") : "object");
    Map<String, Object> properties = new LinkedHashMap<>();
    List<String> required = new ArrayList<>();
    for (Key k : keys) {
      properties.put(k.name(), schema(k));
      if (k.required()) {
        required.add(k.name());
      }
    }
    o.put("properties", properties);
    if (!required.isEmpty()) {
      o.put("required", required);
    }
    o.put("additionalProperties", false);
    return o;
  }

  private static Map<String, Object> schema(Key k) {
    Map<String, Object> s = new LinkedHashMap<>();
    s.put("description", k.doc());
    Map<String, Object> body = switch (k.kind()) {
      case STRING -> scalar();
      case STRINGS -> Map.of("anyOf", List.of(scalar(), Map.of("type", "array", "items", scalar())));
      case INTEGER -> Map.of("anyOf", List.of(Map.of("type", "integer"), Map.of("type", "string", "pattern",
          "^-?[0-9]+$")));
      case BOOLEAN -> Map.of("type", "boolean");
      case DURATION -> Map.of("anyOf", List.of(Map.of("const", 0), Map.of("type", "string", "pattern",
          "^(0|([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+)$")));
      case SIZE -> Map.of("anyOf", List.of(Map.of("type", "integer", "minimum", 0), Map.of("type", "string",
          "pattern", "^[0-9]+ *[kmgKMG]?$")));
      case ENUM -> Map.of("enum", words(k.values()));
      case MAPPING -> object(k.children(), k.nullable());
      case MAPPINGS -> Map.of("type", List.of("array", "null"), "items", object(k.children(), false));
      case HOPS -> Map.of("type", List.of("array", "null"), "items",
          Map.of("anyOf", List.of(Map.of("type", "string"), object(k.children(), false))));
      case CREDENTIALS -> k.name().equals("users")
          ? Map.of("type", List.of("array", "null"), "items", credentials())
          : credentials();
      case DECISION -> Map.of("anyOf", List.of(Map.of("enum", List.of("direct", "reject")),
          single("via"), single("reject")));
      case KEEPALIVE -> Map.of("anyOf", List.of(Map.of("type", "boolean"), Map.of("type", "string", "pattern",
          "^(on|off|true|false|[0-9]+:[0-9]+:[0-9]+)$")));
      case UNSUPPORTED -> Map.of("not", Map.of());
    };
    s.putAll(body);
    if (k.nullable() && k.kind() != Kind.MAPPING && k.kind() != Kind.MAPPINGS && k.kind() != Kind.HOPS
        && !(k.kind() == Kind.CREDENTIALS && k.name().equals("users"))) {
      Map<String, Object> either = new LinkedHashMap<>();
      either.put("description", k.doc());
      Map<String, Object> inner = new LinkedHashMap<>(body);
      either.put("anyOf", List.of(Map.of("type", "null"), inner));
      return either;
    }
    return s;
  }

  /** The words in lower and upper case: the loader ignores case. */
  private static List<String> words(List<String> values) {
    List<String> out = new ArrayList<>(values);
    values.forEach(v -> out.add(v.toUpperCase(java.util.Locale.ROOT)));
    return out;
  }

  /** {@link #jsonSchema()} as JSON text: keys sorted, indented, one trailing line break. */
  public static String jsonSchemaText() {
    try {
      return new com.fasterxml.jackson.databind.ObjectMapper()
          .enable(com.fasterxml.jackson.databind.SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS)
          .writerWithDefaultPrettyPrinter().writeValueAsString(jsonSchema()) + "\n";
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException("the schema's maps are plain JSON", e);
    }
  }

  private static Map<String, Object> scalar() {
    return Map.of("type", List.of("string", "number", "boolean"));
  }

  private static Map<String, Object> credentials() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("type", "object");
    m.put("properties", Map.of("username", scalar(), "password", scalar()));
    m.put("required", List.of("username", "password"));
    m.put("additionalProperties", false);
    return Map.of("anyOf", List.of(Map.of("type", "string", "pattern", "^[^:]+:"), m));
  }

  private static Map<String, Object> single(String key) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("type", "object");
    m.put("properties", Map.of(key, scalar()));
    m.put("required", List.of(key));
    m.put("additionalProperties", false);
    return m;
  }
}
