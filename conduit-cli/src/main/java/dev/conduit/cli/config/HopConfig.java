package dev.conduit.cli.config;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.outbound.Hop;
import java.util.Optional;

/**
 * One hop of an outbound with what the configuration said about its TLS trust.
 *
 * @param hop the core hop
 * @param caFile the CA file trusted for the hop's TLS, if any (else the JDK's trust store)
 */
public record HopConfig(Hop hop, Optional<String> caFile) {

  public HopConfig {
    requireNonNull(hop, "hop");
    requireNonNull(caFile, "caFile");
  }

  /** The hop with its password masked, e.g. {@code socks5://svc:****@[10.0.0.3:1080]}. */
  @Override
  public String toString() {
    return hop + caFile.map(f -> " (tls ca " + f + ")").orElse("");
  }
}
