package dev.conduit.netfilter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.conduit.core.tunnel.ForwardEntry;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The capture rules seed 000 installs for its forward table, as conduit plans them (dry run: nothing runs). */
class ForwardTableCaptureTest {

  static final List<ForwardEntry> TABLE = List.of(ForwardEntry.parse(":80", "127.0.0.1:80"),
      ForwardEntry.parse("198.18.0.7:3306", null));

  @Test
  void forwardTableBecomesRedirectRulesToTheClientListener() throws Exception {
    CapturePlan plan = ForwardTableCapture.plan(TABLE, new InetSocketAddress(InetAddress.getLoopbackAddress(), 5052));
    assertThat(plan.prefix()).isEqualTo("CONDUIT");
    assertThat(plan.targetPort()).isEqualTo(5052);
    assertThat(plan.bypassMark()).isEqualTo(0x5a4);
    assertThat(plan.localCapture()).isTrue();
    assertThat(plan.gatewayCapture()).isFalse();
    assertThat(plan.families()).containsExactly(IpFamily.IPV4);
    assertThat(plan.dnatAddress(IpFamily.IPV4)).contains(InetAddress.getLoopbackAddress());
    assertThat(plan.destinationPorts()).hasSize(1);
    assertThat(plan.destinationEndpoints()).containsExactly(new InetSocketAddress("198.18.0.7", 3306));

    CommandRunner refuse = (argv, stdin) -> {
      throw new AssertionError("a dry run runs nothing: " + argv);
    };
    String dryRun = String.join("\n", NetfilterBackend.iptables(refuse).plan(plan).stream().map(Object::toString)
        .toList());
    assertThat(dryRun).contains("CONDUIT").contains("198.18.0.7").contains("3306").contains("80")
        .contains("127.0.0.1:5052").contains("0x5a4").doesNotContain("ip6tables");
  }

  @Test
  void anyAddressListenerCapturesBothFamiliesByRedirect() {
    CapturePlan plan = ForwardTableCapture.plan(List.of(ForwardEntry.parse(":80", null)), new InetSocketAddress(5052));
    assertThat(plan.families()).containsExactlyInAnyOrder(IpFamily.IPV4, IpFamily.IPV6);
    assertThat(plan.dnatAddress(IpFamily.IPV4)).isEmpty();
  }

  @Test
  void anEntryOfTheOtherFamilyCannotReachALoopbackListener() {
    assertThatThrownBy(() -> ForwardTableCapture.plan(List.of(ForwardEntry.parse("[fd00::7]:80", null)),
        new InetSocketAddress(InetAddress.getLoopbackAddress(), 5052)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("fd00").hasMessageContaining("family");
  }
}
