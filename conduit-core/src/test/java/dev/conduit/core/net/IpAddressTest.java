package dev.conduit.core.net;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.Inet6Address;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class IpAddressTest {

  @ParameterizedTest
  @CsvSource({
      "192.0.2.1, 192.0.2.1",
      "0.0.0.0, 0.0.0.0",
      "255.255.255.255, 255.255.255.255",
      "2001:db8::1, 2001:db8::1",
      "[2001:DB8:0:0:0:0:0:1], 2001:db8::1",
      "::, ::",
      "::1, ::1",
      "::ffff:127.0.0.1, ::ffff:7f00:1",
      "::127.0.0.1, ::7f00:1",
      "64:ff9b::10.0.0.1, 64:ff9b::a00:1",
      "1:0:0:1:0:0:0:1, 1:0:0:1::1",
      "fd00:0:0:1::, fd00:0:0:1::",
      "1:2:3:4:5:6:1.2.3.4, 1:2:3:4:5:6:102:304"})
  void parsesLiteralsAndFormatsThemCanonically(String text, String canonical) {
    assertThat(IpAddress.parse(text)).hasToString(canonical);
    assertThat(IpAddress.parse(canonical)).isEqualTo(IpAddress.parse(text));
  }

  @ParameterizedTest
  @ValueSource(strings = {"0x7f.1", "127.1", "2130706433", "0177.0.0.1", "127.0.0.01", "0x7f000001",
      "1.2.3.256", "1.2.3", "1.2.3.4.5", "1.2.3.-4", " 1.2.3.4", "1.2.3.4 ", "example.org", "",
      "1::2::3", "1:2:3:4:5:6:7:8:9", "12345::", "fe80::1%eth0", ":1::", "1:2:", "::ffff:127.1",
      "::ffff:0177.0.0.1", "1:2:3:4:5:6:7:1.2.3.4", "[::1", "g::1", "١٢٧.0.0.1"})
  void refusesEverythingButPlainLiterals(String text) {
    assertThatThrownBy(() -> IpAddress.parse(text))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("expected: an IPv4 literal");
  }

  @ParameterizedTest
  @ValueSource(strings = {"::ffff:127.0.0.1", "::ffff:8.8.8.8"})
  void keepsIpv4MappedAddressesAsIpv6(String text) {
    IpAddress address = IpAddress.parse(text);
    assertThat(address.isIpv4()).isFalse();
    assertThat(address.toInetAddress()).isInstanceOf(Inet6Address.class);
    assertThat(address.bytes()).hasSize(16);
  }

  @ParameterizedTest
  @ValueSource(strings = {"127.0.0.1", "2001:db8::1", "198.18.0.1"})
  void roundTripsThroughTheJdk(String text) {
    IpAddress address = IpAddress.parse(text);
    assertThat(IpAddress.of(address.toInetAddress())).isEqualTo(address);
  }

  @ParameterizedTest
  @ValueSource(strings = {"1.2.3.4/24", "1.2.3.0/33", "1.2.3.0/024", "1.2.3.0/", "::1/129", "x/8",
      "2001:db8::1/32"})
  void refusesBadPrefixes(String text) {
    assertThatThrownBy(() -> IpPrefix.parse(text)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("expected");
  }

  @ParameterizedTest
  @CsvSource({"198.51.100.0/24, 198.51.100.0/24", "1.2.3.4, 1.2.3.4/32", "2001:db8::/32, 2001:db8::/32",
      "::1, ::1/128", "0.0.0.0/0, 0.0.0.0/0"})
  void parsesPrefixes(String text, String canonical) {
    assertThat(IpPrefix.parse(text)).hasToString(canonical);
  }

  @ParameterizedTest
  @CsvSource({"1.2.3.4, 24, 1.2.3.0/24", "2001:db8::1, 32, 2001:db8::/32", "255.255.255.255, 0, 0.0.0.0/0"})
  void containingClearsHostBits(String address, int length, String expected) {
    assertThat(IpPrefix.containing(IpAddress.parse(address), length)).hasToString(expected);
  }

  @ParameterizedTest
  @CsvSource({"1.2.3.0/24, 1.2.3.255, true", "1.2.3.0/24, 1.2.4.0, false", "::/0, 1.2.3.4, false",
      "0.0.0.0/0, ::1, false", "2001:db8::/32, 2001:db8:ffff::1, true"})
  void containsAddresses(String prefix, String address, boolean expected) {
    assertThat(IpPrefix.parse(prefix).contains(IpAddress.parse(address))).isEqualTo(expected);
  }
}
