package dev.conduit.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.conduit.core.inbound.InboundProtocols;
import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Names resolve through the configured DNS server (a fake one on loopback): search domains apply to
 * bare names, a trailing dot skips them, and a DNS server that never answers is bounded by the dial
 * timeout. Every test has its own resources, so no resolver cache carries over.
 */
class DnsTest {
  private final List<AutoCloseable> toClose = new ArrayList<>();

  @AfterEach
  void closeAll() throws Exception {
    for (int i = toClose.size() - 1; i >= 0; i--) {
      toClose.get(i).close();
    }
  }

  private <T extends AutoCloseable> T closeLater(T c) {
    toClose.add(c);
    return c;
  }

  /** A conduit with one SOCKS5 and one HTTP listener whose resolver asks only {@code dns}. */
  private Conduit conduit(FakeDns dns, Duration dial, ConduitResources.Builder resolverOptions) throws Exception {
    ConduitResources resources = resolverOptions.ioThreads(1).nameServers(List.of(dns.address())).build();
    closeLater(resources::close);
    Conduit conduit = Conduit.builder().resources(resources)
        .listener(Listener.builder("socks").bind("127.0.0.1:0").protocol(InboundProtocols.socks()).build())
        .listener(Listener.builder("http").bind("127.0.0.1:0").protocol(InboundProtocols.http()).build())
        .timeouts(Timeouts.builder().dial(dial).build())
        .build().start();
    return closeLater(conduit);
  }

  /** SOCKS5 CONNECT to {@code host}; on success, checks that the tunnel reaches the echo server. */
  private static int socksConnect(Conduit conduit, String host, int port) throws IOException {
    try (Net.Socks5Result r = Net.socks5(conduit.address("socks"), host, port, null)) {
      if (r.reply() == 0) {
        byte[] ping = "ping through a resolved name".getBytes(StandardCharsets.US_ASCII);
        r.socket().getOutputStream().write(ping);
        r.socket().getOutputStream().flush();
        byte[] back = r.socket().getInputStream().readNBytes(ping.length);
        assertThat(back).isEqualTo(ping);
      }
      return r.reply();
    }
  }

  @Test
  void searchDomainsApplyToABareName() throws Exception {
    FakeDns dns = closeLater(FakeDns.answering("app.corp.test"));
    Net.TcpServer echo = closeLater(Net.echo());
    Conduit conduit = conduit(dns, Duration.ofSeconds(5),
        ConduitResources.builder().searchDomains(List.of("corp.test")).ndots(1));

    assertThat(socksConnect(conduit, "app", echo.port())).isEqualTo(0x00);
    assertThat(dns.names()).containsExactly("app.corp.test");
  }

  @Test
  void aTrailingDotSkipsTheSearchDomains() throws Exception {
    FakeDns dns = closeLater(FakeDns.answering("app.corp.test"));
    Net.TcpServer echo = closeLater(Net.echo());
    // ndots 5: without the trailing dot even app.corp.test would get the search domain first
    Conduit conduit = conduit(dns, Duration.ofSeconds(5),
        ConduitResources.builder().searchDomains(List.of("corp.test")).ndots(5));

    assertThat(socksConnect(conduit, "app.", echo.port())).isEqualTo(0x04);
    assertThat(dns.names()).containsExactly("app");
    assertThat(dns.rcodes()).containsOnly(3);

    dns.clear();
    assertThat(socksConnect(conduit, "app.corp.test.", echo.port())).isEqualTo(0x00);
    assertThat(dns.names()).containsExactly("app.corp.test");
  }

  @Test
  void ndotsDecidesWhetherTheSearchDomainsComeFirst() throws Exception {
    FakeDns dns = closeLater(FakeDns.answering("app.corp.test"));
    Net.TcpServer echo = closeLater(Net.echo());
    Conduit conduit = conduit(dns, Duration.ofSeconds(5),
        ConduitResources.builder().searchDomains(List.of("corp.test")).ndots(5));

    assertThat(socksConnect(conduit, "app.corp.test", echo.port())).isEqualTo(0x00);
    assertThat(dns.names()).containsExactly("app.corp.test.corp.test", "app.corp.test");
  }

  @Test
  void aNameNoServerKnowsIsHostUnreachable() throws Exception {
    FakeDns dns = closeLater(FakeDns.answering("app.corp.test"));
    Net.TcpServer echo = closeLater(Net.echo());
    Conduit conduit = conduit(dns, Duration.ofSeconds(5), ConduitResources.builder().searchDomains(List.of()));

    assertThat(socksConnect(conduit, "nothing.test", echo.port())).isEqualTo(0x04);
    assertThat(dns.names()).containsExactly("nothing.test");
  }

  @Test
  void aSilentDnsServerIsBoundedByTheDialTimeoutOverSocks() throws Exception {
    FakeDns dns = closeLater(FakeDns.silent());
    Net.TcpServer echo = closeLater(Net.echo());
    Conduit conduit = conduit(dns, Duration.ofSeconds(1), ConduitResources.builder().searchDomains(List.of()));

    long start = System.nanoTime();
    int reply = socksConnect(conduit, "slow.test", echo.port());
    Duration took = Duration.ofNanos(System.nanoTime() - start);

    assertThat(reply).isEqualTo(0x06);
    // it waited for DNS (timers never fire early); that the dial timeout ended it, not Netty's own 5 s query
    // timeout, the HTTP twin below reads from conduit's reply
    assertThat(took).isGreaterThanOrEqualTo(Duration.ofMillis(900));
    assertThat(dns.names()).contains("slow.test").containsOnly("slow.test");
  }

  @Test
  void aSilentDnsServerIsBoundedByTheDialTimeoutOverHttp() throws Exception {
    FakeDns dns = closeLater(FakeDns.silent());
    Net.TcpServer echo = closeLater(Net.echo());
    Conduit conduit = conduit(dns, Duration.ofSeconds(1), ConduitResources.builder().searchDomains(List.of()));

    long start = System.nanoTime();
    String statusLine;
    String reply;
    try (Socket s = new Socket()) {
      s.connect(conduit.address("http"), 5000);
      s.setSoTimeout(10_000);
      String target = "slow.test:" + echo.port();
      s.getOutputStream().write(("CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n\r\n")
          .getBytes(StandardCharsets.US_ASCII));
      s.getOutputStream().flush();
      statusLine = readLine(s.getInputStream());
      reply = new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
    }
    Duration took = Duration.ofNanos(System.nanoTime() - start);

    assertThat(statusLine).startsWith("HTTP/1.1 504 ");
    assertThat(took).isGreaterThanOrEqualTo(Duration.ofMillis(900));
    // the dial timeout (1 s) ended it, not Netty's own 5 s query timeout: conduit's reply says which
    assertThat(reply).contains("timed out after 1000 ms");
    assertThat(dns.names()).contains("slow.test").containsOnly("slow.test");
  }

  @Test
  void resolverOptionsAreValidated() {
    ConduitResources.Builder b = ConduitResources.builder();
    assertThatThrownBy(() -> b.nameServers(List.of()))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("nameServers: empty");
    assertThatThrownBy(() -> b.nameServers(List.of(InetSocketAddress.createUnresolved("dns.example", 53))))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("dns.example is not an IP address");
    assertThatThrownBy(() -> b.nameServers(List.of(new InetSocketAddress(Net.LOOPBACK, 0))))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("port 0");
    assertThatThrownBy(() -> b.nameServers(Arrays.asList((InetSocketAddress) null)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("null entry");
    assertThatThrownBy(() -> b.searchDomains(List.of(" ")))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("null or blank");
    assertThatThrownBy(() -> b.searchDomains(List.of("corp..test")))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'corp..test' is not a domain name");
    assertThatThrownBy(() -> b.searchDomains(List.of(".corp.test")))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'.corp.test' is not a domain name");
    assertThatThrownBy(() -> b.searchDomains(List.of("corp test")))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'corp test' is not a domain name");
    assertThatThrownBy(() -> b.ndots(-1))
        .isInstanceOf(IllegalArgumentException.class).hasMessage("ndots: -1 (expected: 0-15)");
    assertThatThrownBy(() -> b.ndots(16))
        .isInstanceOf(IllegalArgumentException.class).hasMessage("ndots: 16 (expected: 0-15)");
  }

  /** Reads one CRLF-terminated line (at most 8 KiB). */
  private static String readLine(InputStream in) throws IOException {
    ByteArrayOutputStream line = new ByteArrayOutputStream();
    for (int i = 0; i < 8192; i++) {
      int c = in.read();
      if (c < 0 || c == '\n') {
        break;
      }
      if (c != '\r') {
        line.write(c);
      }
    }
    return line.toString(StandardCharsets.ISO_8859_1);
  }

  /**
   * A UDP DNS server on 127.0.0.1: answers A 127.0.0.1 for the names it knows (and an empty
   * NOERROR for their other types), NXDOMAIN for any other name, or, when silent, nothing at all.
   * Records every question's name (lower case, without a trailing dot) and every rcode it sent.
   */
  static final class FakeDns implements Closeable {
    private static final int MAX_PACKETS = 10_000;
    private static final Duration MAX_LIFETIME = Duration.ofSeconds(110);

    private final DatagramSocket socket;
    private final Set<String> known;
    private final boolean silent;
    private final List<String> names = new CopyOnWriteArrayList<>();
    private final List<Integer> rcodes = new CopyOnWriteArrayList<>();
    private final Thread thread;

    private FakeDns(Set<String> known, boolean silent) throws SocketException {
      this.known = known;
      this.silent = silent;
      this.socket = new DatagramSocket(new InetSocketAddress(Net.LOOPBACK, 0));
      this.socket.setSoTimeout(200);
      this.thread = new Thread(this::serve, "fake-dns");
      thread.setDaemon(true);
      thread.start();
    }

    static FakeDns answering(String... names) throws SocketException {
      return new FakeDns(Set.of(names), false);
    }

    static FakeDns silent() throws SocketException {
      return new FakeDns(Set.of(), true);
    }

    InetSocketAddress address() {
      return (InetSocketAddress) socket.getLocalSocketAddress();
    }

    /** The distinct names asked about, in the order first asked. */
    List<String> names() {
      return List.copyOf(new LinkedHashSet<>(names));
    }

    /** The response codes sent, in order. */
    List<Integer> rcodes() {
      return List.copyOf(rcodes);
    }

    void clear() {
      names.clear();
      rcodes.clear();
    }

    private void serve() {
      long deadline = System.nanoTime() + MAX_LIFETIME.toNanos();
      byte[] buf = new byte[1500];
      for (int i = 0; i < MAX_PACKETS && !socket.isClosed() && System.nanoTime() < deadline; ) {
        DatagramPacket p = new DatagramPacket(buf, buf.length);
        try {
          socket.receive(p);
        } catch (SocketTimeoutException e) {
          continue;
        } catch (IOException e) {
          return; // closed
        }
        i++;
        byte[] q = Arrays.copyOf(p.getData(), p.getLength());
        byte[] response = handle(q);
        if (response != null) {
          try {
            socket.send(new DatagramPacket(response, response.length, p.getSocketAddress()));
          } catch (IOException e) {
            return;
          }
        }
      }
    }

    /** The response to one query, or null to stay silent (or for a packet that is not a query). */
    private byte[] handle(byte[] q) {
      if (q.length < 12 || (q[2] & 0x80) != 0 || (((q[4] & 0xFF) << 8) | (q[5] & 0xFF)) != 1) {
        return null;
      }
      StringBuilder name = new StringBuilder();
      int pos = 12;
      for (int labels = 0; labels < 128; labels++) {
        if (pos >= q.length) {
          return null;
        }
        int len = q[pos++] & 0xFF;
        if (len == 0) {
          break;
        }
        if (len > 63 || pos + len > q.length) {
          return null;
        }
        if (name.length() > 0) {
          name.append('.');
        }
        name.append(new String(q, pos, len, StandardCharsets.US_ASCII));
        pos += len;
      }
      if (pos + 4 > q.length) {
        return null;
      }
      int qtype = ((q[pos] & 0xFF) << 8) | (q[pos + 1] & 0xFF);
      int questionEnd = pos + 4;
      String qname = name.toString().toLowerCase(Locale.ROOT);
      names.add(qname);
      if (silent) {
        return null;
      }
      boolean isKnown = known.contains(qname);
      boolean answer = isKnown && qtype == 1;
      int rcode = isKnown ? 0 : 3;
      rcodes.add(rcode);
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      out.write(q[0]);
      out.write(q[1]);
      out.write(0x80 | (q[2] & 0x01)); // QR, copy RD
      out.write(0x80 | rcode); // RA
      out.writeBytes(new byte[] {0, 1, 0, (byte) (answer ? 1 : 0), 0, 0, 0, 0});
      out.write(q, 12, questionEnd - 12);
      if (answer) {
        out.writeBytes(new byte[] {
            (byte) 0xC0, 12, // the question's name
            0, 1, 0, 1, // A, IN
            0, 0, 0, 60, // TTL
            0, 4, 127, 0, 0, 1});
      }
      return out.toByteArray();
    }

    @Override
    public void close() {
      socket.close();
      try {
        thread.join(2000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
