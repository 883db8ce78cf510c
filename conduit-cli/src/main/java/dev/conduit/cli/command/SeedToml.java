package dev.conduit.cli.command;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;
import dev.conduit.cli.CliException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The TOML file of {@code conduit cache serve --cfg FILE} ({@code [misc]}, {@code [proxy]},
 * {@code [certs]}), each key read under its meaning in conduit and falling back to its default on
 * its own. Without {@code --cfg}, {@value #FILE_NAME} next to the conduit jar is read when present.
 *
 * <table>
 * <caption>Keys</caption>
 * <tr><td>{@code misc.log_level}</td><td>{@code --log-level} (default info)</td></tr>
 * <tr><td>{@code misc.cert_dir}, {@code misc.file_dir}</td><td>{@code --cert-dir}, {@code --cache-dir}
 *     (default {@code certs} and {@code files} next to the jar)</td></tr>
 * <tr><td>{@code proxy.tcp_bind}, {@code proxy.tls_bind}</td><td>{@code --listen} (127.0.0.1:8000),
 *     {@code --tls-listen} (0.0.0.0:4430)</td></tr>
 * <tr><td>{@code proxy.filters}</td><td>{@code --filter}</td></tr>
 * <tr><td>{@code certs.server_dns_sans}, {@code certs.server_ip_sans}</td><td>the hosts to intercept
 *     ({@code --intercept}); the IPs also name the HTTPS listener's certificate</td></tr>
 * <tr><td>{@code certs.days_from_now}</td><td>the lifetime of a newly created CA</td></tr>
 * <tr><td>{@code certs.ca_cn}</td><td>the common name of a newly created CA</td></tr>
 * <tr><td>{@code certs.p12_pass}</td><td>the password of {@code ca.p12}</td></tr>
 * <tr><td>{@code certs.rsa_key_bits}, {@code certs.server_cn}, {@code certs.client_cn}</td><td>not
 *     followed; each gets a one-line notice saying why</td></tr>
 * </table>
 */
final class SeedToml {

  /** The file read next to the jar when {@code --cfg} is not given. */
  static final String FILE_NAME = "dduct.toml";
  static final List<String> DEFAULT_DNS_SANS = List.of("*.dduct.rs", "*.docker.io", "*.gcr.io",
      "*.githubusercontent.com", "*.k8s.io", "*.quay.io", "ghcr.io", "quay.io");

  final String logLevel;
  final Path certDir;
  final Path fileDir;
  final String tcpBind;
  final String tlsBind;
  final List<String> filters;
  final List<String> intercept;
  final List<String> tlsNames;
  final Duration caValidity;
  final String caCommonName;
  final char[] p12Password;
  /** One line per key conduit does not follow. */
  final List<String> notices = new ArrayList<>();

  private SeedToml(JsonNode root, Path home) {
    JsonNode misc = section(root, "misc");
    JsonNode proxy = section(root, "proxy");
    JsonNode certs = section(root, "certs");
    logLevel = text(misc, "log_level", "info");
    certDir = Path.of(text(misc, "cert_dir", home.resolve("certs").toString()));
    fileDir = Path.of(text(misc, "file_dir", home.resolve("files").toString()));
    tcpBind = text(proxy, "tcp_bind", "127.0.0.1:8000");
    tlsBind = text(proxy, "tls_bind", "0.0.0.0:4430");
    filters = list(proxy, "filters", List.of());
    List<String> dns = list(certs, "server_dns_sans", DEFAULT_DNS_SANS);
    List<String> ips = list(certs, "server_ip_sans", List.of("127.0.0.1"));
    intercept = new ArrayList<>(dns);
    intercept.addAll(ips);
    tlsNames = new ArrayList<>(ips);
    tlsNames.add("localhost");
    long days = number(certs, "days_from_now", 3072);
    if (days < 1) {
      throw CliException.usage("certs.days_from_now: " + days + " (expected: > 0 days)");
    }
    caValidity = Duration.ofDays(days);
    caCommonName = text(certs, "ca_cn", "dduct");
    p12Password = text(certs, "p12_pass", "dduct").toCharArray();
    if (certs.has("rsa_key_bits")) {
      notices.add("certs.rsa_key_bits: not followed: conduit's CA and leaf keys are ECDSA P-256, not RSA");
    }
    if (certs.has("server_cn")) {
      notices.add("certs.server_cn: not followed: conduit mints a certificate per intercepted host, named after it");
    }
    if (certs.has("client_cn")) {
      notices.add("certs.client_cn: not followed: conduit presents no client certificate to origins");
    }
  }

  /**
   * Reads {@code --cfg FILE}, or {@value #FILE_NAME} next to the jar when {@code cfg} is null and the
   * file exists; empty when neither applies.
   *
   * @throws CliException for a missing {@code --cfg} file or one that is not valid TOML
   */
  static Optional<SeedToml> load(Path cfg) {
    Path home = home();
    Path file = cfg != null ? cfg : home.resolve(FILE_NAME);
    if (cfg == null && !Files.isRegularFile(file)) {
      return Optional.empty();
    }
    try {
      JsonNode root = new TomlMapper().readTree(Files.readString(file));
      return Optional.of(new SeedToml(root == null ? new TomlMapper().createObjectNode() : root, home));
    } catch (JacksonException e) {
      throw CliException.usage(file + ": not valid TOML: " + e.getOriginalMessage());
    } catch (IOException e) {
      throw CliException.failure(file + ": cannot read (" + e.getMessage() + ")", e);
    }
  }

  /** The directory of the conduit jar (or {@code CONDUIT_HOME}), where the seed keeps its files. */
  static Path home() {
    String env = System.getenv("CONDUIT_HOME");
    if (env != null && !env.isBlank()) {
      return Path.of(env);
    }
    try {
      Path jar = Path.of(SeedToml.class.getProtectionDomain().getCodeSource().getLocation().toURI());
      return Files.isDirectory(jar) ? jar : jar.toAbsolutePath().getParent();
    } catch (Exception e) {
      return Path.of("").toAbsolutePath();
    }
  }

  private static JsonNode section(JsonNode root, String name) {
    JsonNode n = root.get(name);
    if (n == null) {
      return new TomlMapper().createObjectNode();
    }
    if (!n.isObject()) {
      throw CliException.usage(name + ": expected a [" + name + "] table");
    }
    return n;
  }

  private static String text(JsonNode section, String key, String fallback) {
    JsonNode n = section.get(key);
    if (n == null) {
      return fallback;
    }
    if (!n.isTextual()) {
      throw CliException.usage(key + ": " + n + " (expected: a string)");
    }
    return n.asText();
  }

  private static long number(JsonNode section, String key, long fallback) {
    JsonNode n = section.get(key);
    if (n == null) {
      return fallback;
    }
    if (!n.isIntegralNumber()) {
      throw CliException.usage(key + ": " + n + " (expected: a whole number)");
    }
    return n.asLong();
  }

  private static List<String> list(JsonNode section, String key, List<String> fallback) {
    JsonNode n = section.get(key);
    if (n == null) {
      return fallback;
    }
    if (!n.isArray()) {
      throw CliException.usage(key + ": " + n + " (expected: an array of strings)");
    }
    List<String> out = new ArrayList<>();
    for (JsonNode e : n) {
      if (!e.isTextual()) {
        throw CliException.usage(key + ": " + e + " (expected: a string)");
      }
      out.add(e.asText());
    }
    return out;
  }

  @Override
  public String toString() {
    return "SeedToml{certDir=" + certDir + ", fileDir=" + fileDir + ", tcpBind=" + tcpBind + ", tlsBind=" + tlsBind
        + ", intercept=" + intercept + ", p12Password=****}";
  }
}
