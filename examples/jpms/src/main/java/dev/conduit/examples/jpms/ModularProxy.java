package dev.conduit.examples.jpms;

import dev.conduit.core.Conduit;
import dev.conduit.core.ConduitResources;
import dev.conduit.core.Listener;
import dev.conduit.core.inbound.InboundProtocols;
import java.io.IOException;

/**
 * A proxy started from a named module. Run it on the module path with Netty's native module added, so
 * epoll (and with it splice) is on:
 *
 * <pre>
 * java --module-path mods --add-modules io.netty.transport.epoll.linux.x86_64 \
 *     -m dev.conduit.examples.jpms/dev.conduit.examples.jpms.ModularProxy 127.0.0.1:1080
 * </pre>
 *
 * <p>It prints one line, {@code mixed proxy on HOST:PORT transport=epoll|nio module=NAME}, and runs until
 * its standard input closes.
 */
public final class ModularProxy {
  private ModularProxy() {}

  /**
   * Starts the proxy.
   *
   * @param args the listen address, {@code ip:port} (default {@code 127.0.0.1:1080}; port 0 picks one)
   * @throws IOException when the port cannot be bound
   */
  public static void main(String[] args) throws IOException {
    String listen = args.length > 0 ? args[0] : "127.0.0.1:1080";
    try (ConduitResources resources = ConduitResources.create();
        Conduit conduit = Conduit.builder()
            .resources(resources)
            .splice(resources.isNativeTransport())
            .listener(Listener.builder("mixed").bind(listen).protocol(InboundProtocols.mixed()).build())
            .build()
            .start()) {
      System.out.println("mixed proxy on " + conduit.address("mixed").getAddress().getHostAddress() + ":"
          + conduit.address("mixed").getPort() + " transport=" + (resources.isNativeTransport() ? "epoll" : "nio")
          + " module=" + Conduit.class.getModule().getName());
      System.out.flush();
      while (System.in.read() >= 0) {
        // runs until standard input closes
      }
    }
  }
}
