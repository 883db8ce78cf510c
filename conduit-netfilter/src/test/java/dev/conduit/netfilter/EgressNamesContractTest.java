package dev.conduit.netfilter;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.control.push.PushState;
import dev.conduit.core.control.push.PushUpdate;
import dev.conduit.core.control.store.StoreConfig;
import dev.conduit.core.egress.EgressServer;
import dev.conduit.core.egress.EgressServerConfig;
import dev.conduit.core.egress.NewEntry;
import dev.conduit.core.net.IpAddress;
import dev.conduit.core.net.IpPrefixSet;
import dev.conduit.core.testing.Dnsmasq;
import dev.conduit.netfilter.egress.EgressPushApplier;
import dev.conduit.netfilter.egress.NameAllowlist;
import dev.conduit.netfilter.egress.NameAllowlist.Verdict.Kind;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a real egress server pushes is what the gateway's L7 check reads: a domain resolved by dnsmasq (a CNAME
 * followed) with its addresses, a wildcard, an address entry; and the address allowlist leaves the wildcard out.
 * Needs Debian's dnsmasq (skips elsewhere; fails under CI=true).
 */
class EgressNamesContractTest {

  static final IpPrefixSet LAB = IpPrefixSet.parse("198.18.0.0/15", "fd00::/8");

  @Test
  void theServersPushedStateGivesTheL7CheckItsNamesAndWildcards(@TempDir Path dir) throws Exception {
    try (Dnsmasq dns = Dnsmasq.start(dir, "198.18.0.10 edge.example.net\nfd00::10 edge.example.net\n", 60,
        "api.example.com,edge.example.net")) {
      EgressServer server = EgressServer.start(EgressServerConfig.builder(
              StoreConfig.sqlite(dir.resolve("egress.db")).build())
          .bind(new InetSocketAddress("127.0.0.1", 0))
          .adminToken("ops", "admin-token-0123456789abcdef")
          .dnsServers(List.of(dns.address()))
          .allowedSpecial(LAB)
          .build());
      try {
        server.add(NewEntry.of("API.example.com"), "test");
        server.add(NewEntry.of("*.example.org"), "test");
        server.add(NewEntry.of("198.19.0.0/24"), "test");
        var state = server.effectiveAllowlist();
        NameAllowlist names = NameAllowlist.fromPushedState(state);
        assertThat(names.domains()).containsOnlyKeys("api.example.com");
        assertThat(names.domains().get("api.example.com")).containsExactlyInAnyOrder(
            IpAddress.parse("198.18.0.10"), IpAddress.parse("fd00::10"));
        assertThat(names.wildcards()).containsExactly("*.example.org");
        assertThat(names.check(Optional.of("api.example.com"), IpAddress.parse("fd00::10"), 443).kind())
            .isEqualTo(Kind.ALLOWED);
        assertThat(names.check(Optional.of("edge.example.net"), IpAddress.parse("198.18.0.10"), 443).kind())
            .isEqualTo(Kind.DENIED);
        assertThat(names.check(Optional.of("a.example.org"), IpAddress.parse("198.18.0.10"), 443).kind())
            .isEqualTo(Kind.RESOLVE);
        assertThat(names.check(Optional.empty(), IpAddress.parse("198.19.0.77"), 443).kind()).isEqualTo(Kind.ALLOWED);
        // the address sets get the addresses and the prefix, never the wildcard
        PushUpdate update = new PushUpdate(PushUpdate.Kind.SNAPSHOT, PushState.of(1, state), PushState.empty(),
            Optional.empty());
        assertThat(EgressPushApplier.allowlist(update, LAB).toText())
            .isEqualTo("198.18.0.10\n198.19.0.0/24\nfd00::10\n");
      } finally {
        server.close();
      }
    }
  }
}
