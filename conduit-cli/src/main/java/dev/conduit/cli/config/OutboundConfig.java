package dev.conduit.cli.config;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.outbound.Outbound;
import java.util.List;

/**
 * A named outbound: a chain of hops, the first dialed directly and each next one through the previous.
 *
 * @param name unique name, referenced by rules ({@code via: NAME})
 * @param hops the hops, first to last; empty means direct
 */
public record OutboundConfig(String name, List<HopConfig> hops) {

  public OutboundConfig {
    requireNonNull(name, "name");
    hops = List.copyOf(hops);
  }

  /** Builds the core outbound. */
  public Outbound toOutbound() {
    if (hops.isEmpty()) {
      return Outbound.direct(name);
    }
    Outbound.Builder b = Outbound.builder(name);
    hops.forEach(h -> b.hop(h.hop()));
    return b.build();
  }
}
