package dev.conduit.cli.config;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.runtime.SectionKey;
import java.util.Optional;

/**
 * The admin endpoint ({@code admin} section, {@code --admin-listen}): metrics, health, connections and
 * the effective configuration over HTTP.
 *
 * @param listen {@code ip:port} to bind (default {@value #DEFAULT_LISTEN})
 * @param token the bearer token every request must carry, if any (masked in {@link #toString()})
 * @param tokenFile a file holding the token (read at start-up), if any
 */
public record AdminConfig(String listen, Optional<String> token, Optional<String> tokenFile) implements YamlSection {

  /** The section's key. */
  public static final SectionKey<AdminConfig> SECTION = SectionKey.of("admin", AdminConfig.class);

  /** The default bind address: loopback only. */
  public static final String DEFAULT_LISTEN = "127.0.0.1:9090";

  public AdminConfig {
    requireNonNull(listen, "listen");
    requireNonNull(token, "token");
    requireNonNull(tokenFile, "tokenFile");
    if (token.isPresent() && tokenFile.isPresent()) {
      throw new IllegalArgumentException("token and token_file both set (expected: one of them)");
    }
  }

  /** On {@code listen}, no token. */
  public static AdminConfig of(String listen) {
    return new AdminConfig(listen, Optional.empty(), Optional.empty());
  }

  @Override
  public void describeTo(StringBuilder s) {
    s.append("admin:\n  listen: ").append(ConduitConfig.quote(listen)).append('\n');
    token.ifPresent(t -> s.append("  token: \"****\"\n"));
    tokenFile.ifPresent(t -> s.append("  token_file: ").append(ConduitConfig.quote(t)).append('\n'));
  }

  @Override
  public String toString() {
    return "AdminConfig[listen=" + listen + ", token=" + token.map(t -> "****").orElse("none") + ", tokenFile="
        + tokenFile.orElse("none") + "]";
  }
}
