package dev.conduit.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.conduit.core.outbound.Hop;
import java.net.InetSocketAddress;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class ParsingTest {

  @Test
  void destinationParse() {
    assertThat(Destination.parse("example.com:443", -1)).isEqualTo(Destination.of("example.com", 443));
    assertThat(Destination.parse("example.com", 80)).isEqualTo(Destination.of("example.com", 80));
    assertThat(Destination.parse("[2001:db8::1]:8080", -1)).isEqualTo(Destination.of("2001:db8::1", 8080));
    assertThat(Destination.parse("[2001:db8::1]", 443).port()).isEqualTo(443);
    assertThat(Destination.parse("2001:db8::1", 443)).isEqualTo(Destination.of("2001:db8::1", 443));
    assertThat(Destination.parse(" 10.0.0.1:22 ", -1)).isEqualTo(Destination.of("10.0.0.1", 22));
    assertThat(Destination.of("[::1]", 80).host()).isEqualTo("::1");
    assertThat(Destination.of("::1", 80)).hasToString("[::1]:80");
    assertThat(Destination.of("a.test", 80)).hasToString("a.test:80");
    assertThat(Destination.of("10.0.0.1", 1).isIpLiteral()).isTrue();
    assertThat(Destination.of("a.test", 1).isIpLiteral()).isFalse();
    assertThat(Destination.of("a.test", 1).toUnresolvedAddress().isUnresolved()).isTrue();
    assertThat(Destination.of(new InetSocketAddress("127.0.0.1", 5))).isEqualTo(Destination.of("127.0.0.1", 5));
    assertThat(Destination.of(InetSocketAddress.createUnresolved("x.test", 5)).host()).isEqualTo("x.test");
  }

  @Test
  void destinationErrors() {
    assertThatThrownBy(() -> Destination.parse("example.com:70000", -1))
        .hasMessage("port: 70000 in example.com:70000 (expected: 1-65535)");
    assertThatThrownBy(() -> Destination.parse("example.com:x", -1))
        .hasMessage("port: x in example.com:x (expected: 1-65535)");
    assertThatThrownBy(() -> Destination.parse("example.com", -1))
        .hasMessage("address: example.com (expected: host:port)");
    assertThatThrownBy(() -> Destination.parse("[2001:db8::1", -1))
        .hasMessage("address: [2001:db8::1 (expected: [IPv6]:port)");
    assertThatThrownBy(() -> Destination.parse(":80", -1)).hasMessage("address: :80 (expected: host:port)");
    assertThatThrownBy(() -> Destination.of("a.test", 0)).hasMessage("port: 0 (expected: 1-65535)");
    assertThatThrownBy(() -> Destination.of("", 80))
        .hasMessage("host: empty (expected: a host name or an IP address)");
    // names that would smuggle text into an upstream proxy's request line
    assertThatThrownBy(() -> Destination.of("a.test\r\nX-Evil: 1", 80))
        .hasMessage("host: \"a.test\\x0d\\x0aX-Evil: 1\" (expected: a host name or an IP address)");
    assertThatThrownBy(() -> Destination.of("user@a.test", 80)).hasMessageStartingWith("host: \"user@a.test\"");
    assertThatThrownBy(() -> Destination.of("a:b", 80))
        .hasMessage("host: a:b (expected: a host name or an IP address; IPv6 as [v6]:port)");
    assertThatThrownBy(() -> Destination.of("a".repeat(256), 80))
        .hasMessage("host: 256 characters (expected: at most 255)");
    assertThatThrownBy(() -> Listener.builder("l").bind("example.com:80"))
        .hasMessage("listen address: example.com:80 (expected: an IP address and port, such as 127.0.0.1:8080)");
    assertThat(Listener.builder("l").bind("[::1]:0").protocol(dev.conduit.core.inbound.InboundProtocols.socks())
        .build().bindAddress().getAddress().getHostAddress()).isEqualTo("0:0:0:0:0:0:0:1");
  }

  @Test
  void tcpKeepAlive() {
    assertThat(TcpKeepAlive.parse("on")).isEqualTo(TcpKeepAlive.ON);
    assertThat(TcpKeepAlive.parse(" OFF ")).isEqualTo(TcpKeepAlive.OFF);
    assertThat(TcpKeepAlive.parse("60:10:5")).isEqualTo(new TcpKeepAlive(true, 60, 10, 5));
    assertThat(TcpKeepAlive.parse("60:10:5")).hasToString("60:10:5");
    assertThat(TcpKeepAlive.OFF).hasToString("off");
    assertThatThrownBy(() -> TcpKeepAlive.parse("60:10"))
        .hasMessage("tcp keepalive: 60:10 (expected: on, off or idle:interval:count)");
    assertThatThrownBy(() -> TcpKeepAlive.parse("a:b:c"))
        .hasMessage("tcp keepalive: a:b:c (expected: on, off or idle:interval:count)");
    assertThatThrownBy(() -> TcpKeepAlive.parse("0:10:5"))
        .hasMessage("tcp keepalive: 0:10:5 (expected: all > 0)");
  }

  @Test
  void timeouts() {
    Timeouts t = Timeouts.builder().dial(Duration.ofSeconds(3)).relayIdle(Duration.ZERO).drain(Duration.ZERO).build();
    assertThat(t.dial()).isEqualTo(Duration.ofSeconds(3));
    assertThat(t.negotiation()).isEqualTo(Duration.ofSeconds(10));
    assertThat(t.toBuilder().build().dial()).isEqualTo(Duration.ofSeconds(3));
    assertThat(Timeouts.defaults().relayIdle()).isZero();
    assertThatThrownBy(() -> Timeouts.builder().dial(Duration.ZERO)).hasMessage("dial: PT0S (expected: > 0)");
    assertThatThrownBy(() -> Timeouts.builder().negotiation(Duration.ofSeconds(-1)))
        .hasMessage("negotiation: PT-1S (expected: > 0)");
    assertThatThrownBy(() -> Timeouts.builder().relayIdle(Duration.ofMillis(-1)))
        .hasMessage("relayIdle: PT-0.001S (expected: >= 0)");
    assertThatThrownBy(() -> Timeouts.builder().drain(Duration.ofMillis(-1)))
        .hasMessage("drain: PT-0.001S (expected: >= 0)");
  }

  @Test
  void hopParse() {
    Hop http = Hop.parse("http://proxy.test");
    assertThat(http.protocol()).isEqualTo(Hop.Protocol.HTTP);
    assertThat(http.tls()).isFalse();
    assertThat(http.endpoints()).containsExactly(Destination.of("proxy.test", 80));
    assertThat(http.credentials()).isEmpty();

    Hop https = Hop.parse("https://proxy.test");
    assertThat(https.tls()).isTrue();
    assertThat(https.endpoints()).containsExactly(Destination.of("proxy.test", 443));

    Hop socks = Hop.parse("socks5://us%40er:p%3Ass+w@[::1]:1081/");
    assertThat(socks.protocol()).isEqualTo(Hop.Protocol.SOCKS5);
    assertThat(socks.endpoints()).containsExactly(Destination.of("::1", 1081));
    assertThat(socks.credentials().orElseThrow()).isEqualTo(new Credentials("us@er", "p:ss+w"));
    assertThat(socks.toString()).doesNotContain("p:ss+w").contains("****");
    assertThat(Hop.parse("socks5h://10.0.0.3").endpoints()).containsExactly(Destination.of("10.0.0.3", 1080));
    assertThat(Hop.parse("SOCKS5://10.0.0.3:9").endpoints()).containsExactly(Destination.of("10.0.0.3", 9));
  }

  @Test
  void hopParseErrorsNeverShowPasswords() {
    assertThatThrownBy(() -> Hop.parse("ftp://u:secret@proxy.test"))
        .hasMessage("upstream: ftp://****@proxy.test (expected scheme: http, https, socks5 or socks5h)");
    assertThatThrownBy(() -> Hop.parse("http://u:secret@proxy.test/path"))
        .hasMessage("upstream: http://****@proxy.test/path (expected: no path)");
    assertThatThrownBy(() -> Hop.parse("http://u:secret@proxy.test:1?x=1"))
        .hasMessage("upstream: http://****@proxy.test:1?x=1 (expected: no query or fragment)");
    assertThatThrownBy(() -> Hop.parse("http://u:sec ret@proxy.test"))
        .hasMessage("upstream: http://****@proxy.test (expected: scheme://[user:pass@]host:port)");
    assertThatThrownBy(() -> Hop.parse("proxy.test:3128"))
        .hasMessageStartingWith("upstream: proxy.test:3128 (expected");
    assertThatThrownBy(() -> Hop.parse("http://proxy.test:0"))
        .hasMessage("upstream: http://proxy.test:0 (expected: port 1-65535)");
    assertThatThrownBy(() -> Hop.parse("http://proxy.test:70000"))
        .hasMessage("upstream: http://proxy.test:70000 (expected: port 1-65535)");
    assertThatThrownBy(() -> Hop.parse("socks5://"))
        .hasMessageStartingWith("upstream: socks5:// (expected");
    assertThatThrownBy(() -> Hop.builder(Hop.Protocol.SOCKS5).endpoint(Destination.of("a.test", 1)).tls(true).build())
        .hasMessage("hop: SOCKS5 over TLS is not supported (expected: http or https)");
    assertThatThrownBy(() -> Hop.builder(Hop.Protocol.HTTP).build())
        .hasMessage("hop: no endpoint (expected: at least one)");
  }
}
