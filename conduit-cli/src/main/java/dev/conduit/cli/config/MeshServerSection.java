package dev.conduit.cli.config;

import static dev.conduit.cli.config.ConduitConfig.list;
import static dev.conduit.cli.config.ConduitConfig.quote;
import static java.util.Objects.requireNonNull;

import dev.conduit.core.runtime.SectionKey;
import dev.conduit.core.tunnel.MeshConfig;

/**
 * Seed 000's {@code server} section (the tunnel server) with conduit's {@code server.allow}.
 *
 * @param server the section as written
 */
public record MeshServerSection(MeshConfig.Server server) implements YamlSection {
  /** The section's key. */
  public static final SectionKey<MeshServerSection> SECTION = SectionKey.of("server", MeshServerSection.class);

  /** Checks the argument. */
  public MeshServerSection {
    requireNonNull(server, "server");
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
  }
}
