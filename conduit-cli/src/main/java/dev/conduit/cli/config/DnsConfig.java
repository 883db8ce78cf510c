package dev.conduit.cli.config;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.ConduitResources;
import dev.conduit.core.Destination;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * The resolver ({@code dns} section): {@code servers} ({@code ip} or {@code ip:port}, port 53 by
 * default, tried in order), {@code search} (search domains) and {@code ndots}. Each one left out keeps
 * {@code /etc/resolv.conf}'s; {@code /etc/hosts} is always honoured.
 *
 * @param servers the DNS servers as written (empty: resolv.conf's)
 * @param search the search domains (empty: resolv.conf's; an empty list: none)
 * @param ndots the dots a name needs to be tried as-is first (empty: resolv.conf's)
 */
public record DnsConfig(List<String> servers, Optional<List<String>> search, OptionalInt ndots) {

  /** The port of a server written without one. */
  public static final int DEFAULT_PORT = 53;

  public DnsConfig {
    servers = List.copyOf(servers);
    search = requireNonNull(search, "search").map(List::copyOf);
    requireNonNull(ndots, "ndots");
  }

  /** One server: an IP literal with an optional port ({@code 10.0.0.2}, {@code 10.0.0.2:5353}, {@code [::1]:53}). */
  public static InetSocketAddress server(String text) {
    Destination d = Destination.parse(text, DEFAULT_PORT);
    if (!d.isIpLiteral()) {
      throw new IllegalArgumentException("DNS server '" + text + "' is not an IP address (expected: ip or ip:port)");
    }
    return new InetSocketAddress(d.ipAddress(), d.port());
  }

  /** Sets this section's settings on {@code resources}; throws {@link IllegalArgumentException} on a bad value. */
  public ConduitResources.Builder applyTo(ConduitResources.Builder resources) {
    if (!servers.isEmpty()) {
      List<InetSocketAddress> addresses = new ArrayList<>();
      servers.forEach(s -> addresses.add(server(s)));
      resources.nameServers(addresses);
    }
    search.ifPresent(resources::searchDomains);
    ndots.ifPresent(resources::ndots);
    return resources;
  }
}
