package dev.conduit.cli.config;

import static dev.conduit.cli.config.ConduitConfig.list;
import static dev.conduit.cli.config.ConduitConfig.quote;
import static java.util.Objects.requireNonNull;

import dev.conduit.core.runtime.SectionKey;
import java.util.Optional;

/**
 * Seed 000's {@code client} section (the tunnel client) and conduit's {@code client.capture} and
 * {@code client.multiplex}.
 *
 * @param client the section as written
 * @param capture whether to install the forward table's capture rules; empty: when running as root
 * @param multiplex {@code client.multiplex}: tunnels as HTTP/2 streams over pooled connections, to every mesh member
 *     (mesh mode) or to every peer with TLS (as each peer's {@code tls.multiplex: true})
 */
public record MeshClientSection(MeshConfig.Client client, Optional<Boolean> capture, boolean multiplex)
    implements YamlSection {
  /** The section's key. */
  public static final SectionKey<MeshClientSection> SECTION = SectionKey.of("client", MeshClientSection.class);

  /** Checks the arguments. */
  public MeshClientSection {
    requireNonNull(client, "client");
    requireNonNull(capture, "capture");
  }

  /** The section without {@code multiplex}. */
  public MeshClientSection(MeshConfig.Client client, Optional<Boolean> capture) {
    this(client, capture, false);
  }

  /** The client as it runs: with {@code multiplex}, every peer with TLS multiplexed. */
  public MeshConfig.Client effectiveClient() {
    if (!multiplex) {
      return client;
    }
    java.util.List<MeshConfig.Peer> peers = new java.util.ArrayList<>();
    for (MeshConfig.Peer p : client.peers()) {
      MeshConfig.Tls t = p.tls();
      peers.add(t == null || !t.enable() ? p : new MeshConfig.Peer(p.index(), p.network(), p.addresses(),
          new MeshConfig.Tls(t.enable(), t.mtls(), t.cas(), t.certs(), t.insecureSkipVerify(), true)));
    }
    return new MeshConfig.Client(client.enable(), client.network(), client.listen(), client.checkTime(),
        client.forwardTable(), peers);
  }

  @Override
  public void describeTo(StringBuilder s) {
    MeshConfig.Client c = client;
    s.append("client:\n  enable: ").append(c.enable()).append('\n');
    s.append("  listen: ").append(quote(String.valueOf(c.listen()))).append('\n');
    s.append("  check_time: ").append(c.checkTime()).append('\n');
    capture.ifPresent(v -> s.append("  capture: ").append(v).append('\n'));
    if (multiplex) {
      s.append("  multiplex: true\n");
    }
    s.append("  forward_table:").append(c.forwardTable().isEmpty() ? " []\n" : "\n");
    for (MeshConfig.Forward f : c.forwardTable()) {
      s.append("    - {dst: ").append(quote(String.valueOf(f.dst())));
      if (f.dstAs() != null) {
        s.append(", dst_as: ").append(quote(f.dstAs()));
      }
      s.append(", peer_index: ").append(f.peerIndex()).append("}\n");
    }
    s.append("  peers:").append(c.peers().isEmpty() ? " []\n" : "\n");
    for (MeshConfig.Peer p : c.peers()) {
      s.append("    - index: ").append(p.index()).append('\n');
      list(s, "      ", "addresses", p.addresses());
      tls(s, "      ", p.tls());
    }
  }

  /** A {@code tls} block of the client or the server: file paths only, never a key. */
  static void tls(StringBuilder s, String indent, MeshConfig.Tls tls) {
    if (tls == null) {
      return;
    }
    s.append(indent).append("tls:\n");
    s.append(indent).append("  enable: ").append(tls.enable()).append('\n');
    s.append(indent).append("  mtls: ").append(tls.mtls()).append('\n');
    list(s, indent + "  ", "cas", tls.cas());
    for (MeshConfig.CertKey ck : tls.certs()) {
      // paths only: the key itself never enters the configuration
      s.append(indent).append("  certs: [{cert: ").append(quote(String.valueOf(ck.cert()))).append(", key: ")
          .append(quote(String.valueOf(ck.key()))).append("}]\n");
    }
    if (tls.insecureSkipVerify()) {
      s.append(indent).append("  insecure_skip_verify: true\n");
    }
    if (tls.multiplex()) {
      s.append(indent).append("  multiplex: true\n");
    }
  }
}
