package dev.conduit.cli.config;

import static dev.conduit.cli.config.ConduitConfig.list;
import static dev.conduit.cli.config.ConduitConfig.quote;
import static java.util.Objects.requireNonNull;

import dev.conduit.core.runtime.SectionKey;

/**
 * Seed 000's {@code server} section (the tunnel server) with conduit's {@code server.allow} and
 * {@code server.enforce}.
 *
 * @param server the section as written
 * @param enforcePorts {@code server.enforce.ports}: local TCP ports ({@code "3306"}, {@code "8000-8099"}) that accept
 *     only connections delivered through the mesh (and loopback); empty: no enforcement
 * @param enforceAllowSources {@code server.enforce.allow_sources}: CIDRs that may still reach them directly
 */
public record MeshServerSection(MeshConfig.Server server, java.util.List<String> enforcePorts,
    java.util.List<String> enforceAllowSources) implements YamlSection {
  /** The section's key. */
  public static final SectionKey<MeshServerSection> SECTION = SectionKey.of("server", MeshServerSection.class);

  /** Checks the arguments. */
  public MeshServerSection {
    requireNonNull(server, "server");
    enforcePorts = java.util.List.copyOf(enforcePorts);
    enforceAllowSources = java.util.List.copyOf(enforceAllowSources);
  }

  /** The section without enforcement. */
  public MeshServerSection(MeshConfig.Server server) {
    this(server, java.util.List.of(), java.util.List.of());
  }

  @Override
  public void describeTo(StringBuilder s) {
    MeshConfig.Server v = server;
    s.append("server:\n  enable: ").append(v.enable()).append('\n');
    if (v.listen() != null) {
      s.append("  listen:\n    addr: ").append(quote(String.valueOf(v.listen().addr()))).append('\n');
      MeshClientSection.tls(s, "    ", v.listen().tls());
    }
    if (!v.allow().isEmpty()) {
      s.append("  allow:\n");
      for (MeshConfig.Allow a : v.allow()) {
        s.append("    - peer: ").append(quote(a.peer() == null ? "*" : a.peer())).append('\n');
        list(s, "      ", "cidrs", a.cidrs());
        list(s, "      ", "ports", a.ports());
        list(s, "      ", "domains", a.domains());
      }
    }
    if (!enforcePorts.isEmpty()) {
      s.append("  enforce:\n");
      list(s, "    ", "ports", enforcePorts);
      list(s, "    ", "allow_sources", enforceAllowSources);
    }
  }
}
