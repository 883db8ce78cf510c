package dev.conduit.cli.config;

import static dev.conduit.cli.config.ConduitConfig.list;
import static dev.conduit.cli.config.ConduitConfig.quote;

import dev.conduit.core.runtime.SectionKey;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The {@code egress_server} section: the settings of {@code conduit egress server}, the same as its flags (a flag
 * given on the command line wins over the file).
 *
 * @param settings the scalar keys written (listen, store, files, ...), by YAML key, in {@link #SCALAR_KEYS} order
 * @param dnsServers {@code dns_servers}: recursive DNS servers, {@code ip} or {@code ip:port}
 * @param allowSpecial {@code allow_special}: special-purpose CIDRs that may be allowlisted all the same
 * @param resolveInterval {@code resolve_interval}, when written
 * @param gracePeriod {@code grace_period}, when written
 * @param exposeSeedApi {@code expose_seed_api}, when written
 */
public record EgressServerSection(Map<String, String> settings, List<String> dnsServers, List<String> allowSpecial,
    Optional<Duration> resolveInterval, Optional<Duration> gracePeriod, Optional<Boolean> exposeSeedApi)
    implements YamlSection {

  /** The section's key. */
  public static final SectionKey<EgressServerSection> SECTION =
      SectionKey.of("egress_server", EgressServerSection.class);

  /** The keys holding one string each (addresses, the store, file paths, a byte count). */
  public static final List<String> SCALAR_KEYS = List.of("listen", "store", "store_user", "store_password_file",
      "admin_token_file", "http_tls_cert", "http_tls_key", "admin_ca", "max_request_bytes", "push_listen", "tls_cert", "tls_key", "tls_ca", "gateway_token_file");

  private static final List<String> KEYS = List.of("listen", "store", "store_user", "store_password_file",
      "admin_token_file", "http_tls_cert", "http_tls_key", "admin_ca", "max_request_bytes", "push_listen", "tls_cert", "tls_key", "tls_ca", "gateway_token_file",
      "dns_servers", "resolve_interval", "grace_period", "allow_special", "expose_seed_api");

  /** Copies the arguments. */
  public EgressServerSection {
    settings = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(settings));
    dnsServers = List.copyOf(dnsServers);
    allowSpecial = List.copyOf(allowSpecial);
    java.util.Objects.requireNonNull(resolveInterval, "resolveInterval");
    java.util.Objects.requireNonNull(gracePeriod, "gracePeriod");
    java.util.Objects.requireNonNull(exposeSeedApi, "exposeSeedApi");
  }

  /** The scalar written under {@code key} ({@link #SCALAR_KEYS}). */
  public Optional<String> setting(String key) {
    return Optional.ofNullable(settings.get(key));
  }

  static ConfigSection section() {
    return ConfigSection.typed(SECTION, (node, config) -> read(node));
  }

  private static EgressServerSection read(ConfigNode node) {
    Map<String, ConfigNode> m = node.isNull() ? Map.of() : node.mapping(KEYS);
    Map<String, String> settings = new LinkedHashMap<>();
    for (String key : SCALAR_KEYS) {
      if (m.containsKey(key) && !m.get(key).isNull()) {
        settings.put(key, m.get(key).string());
      }
    }
    if (settings.containsKey("max_request_bytes")) {
      m.get("max_request_bytes").integer(1024, 16 << 20);
    }
    return new EgressServerSection(settings, strings(m, "dns_servers"), strings(m, "allow_special"),
        m.containsKey("resolve_interval") ? Optional.of(m.get("resolve_interval").duration()) : Optional.empty(),
        m.containsKey("grace_period") ? Optional.of(m.get("grace_period").duration()) : Optional.empty(),
        m.containsKey("expose_seed_api") ? Optional.of(m.get("expose_seed_api").bool()) : Optional.empty());
  }

  private static List<String> strings(Map<String, ConfigNode> m, String key) {
    return m.containsKey(key) && !m.get(key).isNull() ? m.get(key).strings() : List.of();
  }

  @Override
  public void describeTo(StringBuilder s) {
    s.append("egress_server:\n");
    // a store URL may carry a password: masked like every secret
    settings.forEach((k, v) -> s.append("  ").append(k).append(": ")
        .append(quote(k.equals("store") ? v.replaceFirst("(://[^/:@]*:)[^/@]*@", "$1****@") : v)).append('\n'));
    list(s, "  ", "dns_servers", dnsServers);
    list(s, "  ", "allow_special", allowSpecial);
    resolveInterval.ifPresent(d -> s.append("  resolve_interval: ").append(Durations.format(d)).append('\n'));
    gracePeriod.ifPresent(d -> s.append("  grace_period: ").append(Durations.format(d)).append('\n'));
    exposeSeedApi.ifPresent(b -> s.append("  expose_seed_api: ").append(b).append('\n'));
  }
}
