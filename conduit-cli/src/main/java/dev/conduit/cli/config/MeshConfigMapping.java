package dev.conduit.cli.config;

import dev.conduit.core.Destination;
import dev.conduit.core.inbound.OriginalDestinationResolver;
import dev.conduit.core.net.PortRange;
import dev.conduit.core.pki.PeerGuard;
import dev.conduit.core.tunnel.ForwardEntry;
import dev.conduit.core.tunnel.MeshPlan;
import dev.conduit.core.tunnel.TunnelAllow;
import dev.conduit.core.tunnel.TunnelPeer;
import dev.conduit.core.tunnel.TunnelTls;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;

/**
 * {@link MeshConfig} (the YAML as written) onto core's typed tunnel settings: every check that needs the YAML's
 * shape (absent values, list sizes, the {@code network} key, positions in lists) is made here, so its message names
 * the key ({@code client.peers[1].index: 1 used twice}); core checks what it needs of the typed values again.
 */
final class MeshConfigMapping {

  private MeshConfigMapping() {}

  static MeshPlan plan(MeshConfig config, OriginalDestinationResolver resolver, Duration tlsCheckInterval,
      PeerGuard guard) throws IOException {
    Objects.requireNonNull(resolver, "resolver");
    Objects.requireNonNull(tlsCheckInterval, "tlsCheckInterval");
    MeshPlan.Builder b = MeshPlan.builder().resolver(resolver).tlsCheckInterval(tlsCheckInterval);
    if (guard != null) {
      b.peerGuard(guard);
    }
    if (config.client() != null && config.client().enable()) {
      client(config.client(), b);
    }
    if (config.server() != null && config.server().enable()) {
      server(config.server(), b);
    }
    return b.build();
  }

  private static void client(MeshConfig.Client client, MeshPlan.Builder b) {
    checkNetwork(client.network(), "client.network");
    if (client.listen() == null || client.listen().isBlank()) {
      throw new IllegalArgumentException("client.listen: empty (expected: ip:port)");
    }
    if (client.checkTime() < 0) {
      throw new IllegalArgumentException("client.check_time: " + client.checkTime()
          + " (expected: >= 0 seconds, 0 disables)");
    }
    if (client.forwardTable().isEmpty()) {
      throw new IllegalArgumentException("client.forward_table: empty (expected: at least one entry)");
    }
    b.bindClient(client.listen()).healthCheckInterval(Duration.ofSeconds(client.checkTime()));
    Set<Integer> indexes = new HashSet<>();
    for (int i = 0; i < client.peers().size(); i++) {
      MeshConfig.Peer peer = client.peers().get(i);
      String where = "client.peers[" + i + "]";
      checkNetwork(peer.network(), where + ".network");
      if (!indexes.add(peer.index())) {
        throw new IllegalArgumentException(where + ".index: " + peer.index() + " used twice (expected: unique)");
      }
      if (peer.addresses().isEmpty()) {
        throw new IllegalArgumentException(where + ".addresses: empty (expected: at least one host:port)");
      }
      TunnelPeer.Builder p = TunnelPeer.builder(peer.index());
      for (String a : peer.addresses()) {
        try {
          p.endpoint(Destination.parse(a, -1));
        } catch (IllegalArgumentException e) {
          throw new IllegalArgumentException(where + ".addresses: " + a + " (expected: host:port)", e);
        }
      }
      MeshConfig.Tls tls = peer.tls();
      if (tls != null && tls.multiplex() && !tls.enable()) {
        throw new IllegalArgumentException(where + ".tls.multiplex: true without TLS (expected: enable: true; "
            + "multiplexed tunnels are HTTP/2 negotiated with TLS ALPN)");
      }
      if (tls != null && tls.enable()) {
        p.tls(clientTls(tls, where + ".tls")).multiplex(tls.multiplex());
      }
      b.peer(p.build());
    }
    for (int i = 0; i < client.forwardTable().size(); i++) {
      MeshConfig.Forward f = client.forwardTable().get(i);
      String where = "client.forward_table[" + i + "]";
      if (f.dst() == null) {
        throw new IllegalArgumentException(where + ".dst: empty (expected: :port or ip:port)");
      }
      ForwardEntry entry;
      try {
        entry = ForwardEntry.parse(f.dst(), f.dstAs());
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(where + "." + e.getMessage(), e);
      }
      if (!indexes.contains(f.peerIndex())) {
        throw new IllegalArgumentException(where + ".peer_index: " + f.peerIndex() + " (expected one of "
            + indexes + ")");
      }
      b.forward(entry, f.peerIndex());
    }
  }

  private static void server(MeshConfig.Server server, MeshPlan.Builder b) {
    MeshConfig.Listen listen = server.listen();
    if (listen == null || listen.addr() == null || listen.addr().isBlank()) {
      throw new IllegalArgumentException("server.listen.addr: empty (expected: ip:port)");
    }
    checkNetwork(listen.network(), "server.listen.network");
    b.bindServer(listen.addr());
    if (listen.tls() != null && listen.tls().enable()) {
      b.serverTls(serverTls(listen.tls(), "server.listen.tls"));
    }
    for (int i = 0; i < server.allow().size(); i++) {
      MeshConfig.Allow a = server.allow().get(i);
      String where = "server.allow[" + i + "]";
      if (a.cidrs().isEmpty() && a.domains().isEmpty()) {
        throw new IllegalArgumentException(where + ": no cidrs and no domains (expected: at least one; "
            + "write cidrs [0.0.0.0/0, ::/0] to allow every address explicitly)");
      }
      TunnelAllow.Builder r = TunnelAllow.builder();
      if (a.peer() != null && !a.peer().isBlank() && !a.peer().equals("*")) {
        r.principal(a.peer());
      }
      try {
        a.cidrs().forEach(r::cidr);
        for (String d : a.domains()) {
          if (d.startsWith("*.")) {
            r.domainSuffix(d.substring(2));
          } else if (d.startsWith(".")) {
            r.domainSuffix(d.substring(1));
          } else {
            r.domain(d);
          }
        }
        for (String p : a.ports()) {
          r.ports(PortRange.parse(p));
        }
        b.allow(r.build());
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(where + ": " + e.getMessage(), e);
      }
    }
  }

  private static TunnelTls clientTls(MeshConfig.Tls tls, String where) {
    if (tls.cas().size() > 1) {
      throw new IllegalArgumentException(where + ".cas: " + tls.cas().size() + " files (expected: one PEM file; "
          + "concatenate the CA certificates)");
    }
    if (tls.certs().size() > 1) {
      throw new IllegalArgumentException(where + ".certs: " + tls.certs().size() + " pairs (expected: one)");
    }
    if (tls.mtls() && (tls.certs().isEmpty() || tls.cas().isEmpty())) {
      throw new IllegalArgumentException(where + ": mtls needs certs (this side's certificate and key) and cas");
    }
    return tls(tls, where);
  }

  private static TunnelTls serverTls(MeshConfig.Tls tls, String where) {
    if (tls.certs().size() != 1) {
      throw new IllegalArgumentException(where + ".certs: " + tls.certs().size() + " pairs (expected: one {cert, key})");
    }
    if (tls.cas().size() > 1) {
      throw new IllegalArgumentException(where + ".cas: " + tls.cas().size() + " files (expected: one PEM file; "
          + "concatenate the CA certificates)");
    }
    if (tls.multiplex()) {
      throw new IllegalArgumentException(where + ".multiplex: true (expected: only in client peers[].tls; the "
          + "server offers HTTP/2 and HTTP/1.1 and each client's ALPN decides)");
    }
    if (tls.mtls() && tls.cas().isEmpty()) {
      throw new IllegalArgumentException(where + ".cas: empty (expected: the CA file client certificates are "
          + "verified against when mtls is true)");
    }
    return tls(tls, where);
  }

  private static TunnelTls tls(MeshConfig.Tls tls, String where) {
    TunnelTls.Builder t = TunnelTls.builder().mutual(tls.mtls()).insecureSkipVerify(tls.insecureSkipVerify());
    if (!tls.certs().isEmpty()) {
      MeshConfig.CertKey ck = tls.certs().get(0);
      if (ck == null) {
        throw new IllegalArgumentException(where + ".certs[0]: empty (expected: {cert, key})");
      }
      t.certificate(path(ck.cert(), where + ".certs[0].cert"), path(ck.key(), where + ".certs[0].key"));
    }
    if (!tls.cas().isEmpty()) {
      t.trust(path(tls.cas().get(0), where + ".cas[0]"));
    }
    return t.build();
  }

  private static Path path(String file, String where) {
    if (file == null || file.isBlank()) {
      throw new IllegalArgumentException(where + ": empty (expected: a PEM file path)");
    }
    return Path.of(file);
  }

  private static void checkNetwork(String network, String where) {
    if (network == null || network.isBlank()) {
      return;
    }
    String n = network.trim().toLowerCase(Locale.ROOT);
    if (!n.equals("tcp") && !n.equals("tcp4") && !n.equals("tcp6")) {
      throw new IllegalArgumentException(where + ": " + network + " (expected: tcp)");
    }
  }
}
