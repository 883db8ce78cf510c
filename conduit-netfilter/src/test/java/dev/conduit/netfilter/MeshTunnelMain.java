package dev.conduit.netfilter;

import dev.conduit.core.Conduit;
import dev.conduit.core.Destination;
import dev.conduit.core.Listener;
import dev.conduit.core.inbound.InboundProtocols;
import dev.conduit.core.outbound.Outbound;
import dev.conduit.core.pki.TlsMaterial;
import dev.conduit.core.route.RouteDecision;
import dev.conduit.core.route.Router;
import dev.conduit.core.route.Rule;
import dev.conduit.core.tunnel.Tunnel;
import java.nio.file.Path;
import java.util.List;

/**
 * A mesh tunnel end in a child JVM inside a network namespace, with PEM files from a directory ({@code ca.pem},
 * {@code <name>.pem}, {@code <name>.key}). Prints {@code READY} once listening, then runs until killed.
 *
 * <p>Arguments: {@code server <dir> <name> <bind ip:port> <allowed cidr>... } (mTLS tunnel server that dials only
 * the allowed CIDRs), or {@code client <dir> <name> <server ip:port>} (SOCKS5 on 127.0.0.1:1080, everything
 * through the tunnel).
 */
public final class MeshTunnelMain {

  private MeshTunnelMain() {}

  public static void main(String[] args) throws Exception {
    Path dir = Path.of(args[1]);
    TlsMaterial tls = TlsMaterial.load(dir.resolve(args[2] + ".pem"), dir.resolve(args[2] + ".key"),
        dir.resolve("ca.pem"));
    Conduit conduit;
    if (args[0].equals("server")) {
      Rule.Builder allow = Rule.builder("allow").listener("tunnel").decision(RouteDecision.direct());
      for (int i = 4; i < args.length; i++) {
        allow.destinationCidr(args[i]);
      }
      conduit = Conduit.builder()
          .listener(Listener.builder("tunnel").bind(args[3]).protocol(Tunnel.serverProtocol())
              .tls(tls::tunnelServerContext).build())
          .router(Router.builder().defaultDecision(RouteDecision.reject("not allowed")).rule(allow.build()).build())
          .build().start();
    } else {
      conduit = Conduit.builder()
          .listener(Listener.builder("socks").bind("127.0.0.1:1080").protocol(InboundProtocols.socks()).build())
          .outbound(Outbound.builder("mesh").hop(Tunnel.clientHop(List.of(Destination.parse(args[3], -1)),
              tls::clientContext)).build())
          .router(Router.builder().rule(Rule.builder("all").listener("socks").decision(RouteDecision.via("mesh"))
              .build()).build())
          .build().start();
    }
    System.out.println("READY");
    System.out.flush();
    Thread.currentThread().join(); // until killed
    conduit.close();
  }
}
