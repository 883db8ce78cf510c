package dev.conduit.core;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.inbound.InboundProtocols;
import dev.conduit.core.inbound.SocksInboundOptions;
import dev.conduit.core.observe.ConnectionSummary;
import dev.conduit.core.observe.Outcome;
import dev.conduit.core.route.RouteDecision;
import dev.conduit.core.route.Router;
import dev.conduit.core.route.Rule;
import dev.conduit.core.testing.Processes;
import dev.conduit.core.testing.UdpEcho;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SOCKS5 UDP ASSOCIATE (RFC 1928 §7) against UDP echo servers on loopback: datagrams both ways with the
 * header the RFC gives, rules applied per datagram, strangers and malformed datagrams dropped while the
 * association goes on, the relay's port released with the TCP connection, and PySocks as a real client.
 */
class SocksUdpTest {
  static ConduitResources resources;
  static Conduit conduit;
  static UdpEcho echo;
  static UdpEcho forbidden;
  static final Net.RecordingObserver observer = new Net.RecordingObserver();

  @TempDir
  Path dir;

  @BeforeAll
  static void start() throws Exception {
    resources = ConduitResources.builder().ioThreads(2).build();
    echo = new UdpEcho();
    forbidden = new UdpEcho();
    conduit = Conduit.builder().resources(resources)
        .listener(Listener.builder("socks").bind("127.0.0.1:0")
            .protocol(InboundProtocols.socks(SocksInboundOptions.builder().udpAssociate(true).build())).build())
        .listener(Listener.builder("tcp-only").bind("127.0.0.1:0").protocol(InboundProtocols.socks()).build())
        .router(Router.builder()
            .rule(Rule.builder("no-forbidden").port(forbidden.port())
                .decision(RouteDecision.reject("not this one")).build())
            .defaultDecision(RouteDecision.direct()).build())
        .observer(observer)
        .timeouts(Timeouts.builder().drain(Duration.ZERO).build())
        .build().start();
  }

  @AfterAll
  static void stop() {
    echo.close();
    forbidden.close();
    if (conduit != null) {
      conduit.close();
    }
    resources.close();
  }

  /** The TCP control connection and the relay address conduit answered with. */
  record Association(Socket control, InetSocketAddress relay) implements AutoCloseable {
    @Override
    public void close() throws IOException {
      control.close();
    }
  }

  static Association associate(InetSocketAddress proxy) throws IOException {
    Socket s = new Socket(proxy.getAddress(), proxy.getPort());
    s.setSoTimeout(5000);
    s.getOutputStream().write(new byte[] {5, 1, 0});
    DataInputStream in = new DataInputStream(s.getInputStream());
    assertThat(new byte[] {in.readByte(), in.readByte()}).containsExactly(5, 0);
    // UDP ASSOCIATE, the client's address unknown: 0.0.0.0:0
    s.getOutputStream().write(new byte[] {5, 3, 0, 1, 0, 0, 0, 0, 0, 0});
    byte[] head = new byte[4];
    in.readFully(head);
    assertThat(head[1]).as("reply code").isZero();
    assertThat(head[3]).as("ATYP").isEqualTo((byte) 1);
    byte[] ip = new byte[4];
    in.readFully(ip);
    int port = in.readUnsignedShort();
    return new Association(s, new InetSocketAddress(InetAddress.getByAddress(ip), port));
  }

  static byte[] request(int atyp, byte[] address, int port, byte[] data) {
    ByteBuffer b = ByteBuffer.allocate(5 + address.length + 2 + data.length);
    b.putShort((short) 0).put((byte) 0).put((byte) atyp);
    if (atyp == 3) {
      b.put((byte) address.length);
    }
    return Arrays.copyOf(b.put(address).putShort((short) port).put(data).array(), b.position());
  }

  static byte[] toLoopback(int port, String text) {
    return request(1, new byte[] {127, 0, 0, 1}, port, text.getBytes(StandardCharsets.UTF_8));
  }

  static void send(DatagramSocket udp, InetSocketAddress relay, byte[] datagram) throws IOException {
    udp.send(new DatagramPacket(datagram, datagram.length, relay));
  }

  static byte[] receive(DatagramSocket udp) throws IOException {
    DatagramPacket p = new DatagramPacket(new byte[65_535], 65_535);
    udp.receive(p);
    return Arrays.copyOf(p.getData(), p.getLength());
  }

  static void assertNothingArrives(DatagramSocket udp) throws IOException {
    udp.setSoTimeout(400);
    try {
      byte[] got = receive(udp);
      throw new AssertionError("expected nothing, got " + got.length + " bytes");
    } catch (SocketTimeoutException expected) {
      // dropped
    } finally {
      udp.setSoTimeout(5000);
    }
  }

  static DatagramSocket client() throws IOException {
    DatagramSocket udp = new DatagramSocket(new InetSocketAddress(Net.LOOPBACK, 0));
    udp.setSoTimeout(5000);
    return udp;
  }

  @Test
  void datagramsReachTheDestinationAndRepliesComeBackWithItsAddress() throws Exception {
    try (Association a = associate(conduit.address("socks")); DatagramSocket udp = client()) {
      assertThat(a.relay().getAddress()).isEqualTo(Net.LOOPBACK);
      send(udp, a.relay(), toLoopback(echo.port(), "ping"));
      assertThat(receive(udp)).containsExactly(toLoopback(echo.port(), "echo:ping"));

      // a name (ATYP 3) is resolved by conduit; the reply carries the address it came from
      send(udp, a.relay(), request(3, "localhost".getBytes(StandardCharsets.US_ASCII), echo.port(),
          "by name".getBytes(StandardCharsets.UTF_8)));
      assertThat(receive(udp)).containsExactly(toLoopback(echo.port(), "echo:by name"));

      // a datagram near the largest is neither truncated nor refused, either way
      byte[] big = new byte[60_000];
      new java.util.Random(7).nextBytes(big);
      send(udp, a.relay(), request(1, new byte[] {127, 0, 0, 1}, echo.port(), big));
      byte[] expected = new ByteArrayOutputStream() {
        {
          writeBytes("echo:".getBytes(StandardCharsets.US_ASCII));
          writeBytes(big);
        }
      }.toByteArray();
      assertThat(receive(udp)).containsExactly(request(1, new byte[] {127, 0, 0, 1}, echo.port(), expected));
    }
  }

  @Test
  void rejectedMalformedAndFragmentedDatagramsAreDroppedAndTheAssociationGoesOn() throws Exception {
    try (Association a = associate(conduit.address("socks")); DatagramSocket udp = client()) {
      int before = forbidden.received.get();
      send(udp, a.relay(), toLoopback(forbidden.port(), "rejected by rule"));
      byte[] fragment = toLoopback(echo.port(), "a fragment");
      fragment[2] = 1;
      send(udp, a.relay(), fragment);
      send(udp, a.relay(), new byte[] {0, 0, 0, 9, 1, 2, 3}); // no such address type
      send(udp, a.relay(), new byte[] {0, 0}); // shorter than any header
      send(udp, a.relay(), toLoopback(0, "port zero"));
      assertNothingArrives(udp);
      assertThat(forbidden.received.get()).isEqualTo(before);

      send(udp, a.relay(), toLoopback(echo.port(), "still here"));
      assertThat(receive(udp)).containsExactly(toLoopback(echo.port(), "echo:still here"));
      assertThat(a.control().isClosed()).isFalse();
    }
  }

  @Test
  void onlyTheClientMaySendAndOnlyAddressesItSentToMayAnswer() throws Exception {
    try (Association a = associate(conduit.address("socks")); DatagramSocket udp = client();
        DatagramSocket stranger = client()) {
      send(udp, a.relay(), toLoopback(echo.port(), "first"));
      assertThat(receive(udp)).containsExactly(toLoopback(echo.port(), "echo:first"));

      // the association now belongs to udp's port: another socket's datagrams are not relayed
      int before = echo.received.get();
      send(stranger, a.relay(), toLoopback(echo.port(), "from a stranger"));
      assertNothingArrives(stranger);
      assertNothingArrives(udp);
      assertThat(echo.received.get()).isEqualTo(before);

      // a host the client never sent to cannot reach it through the relay's outward socket
      InetSocketAddress outward = echo.lastSender();
      send(stranger, outward, "unsolicited".getBytes(StandardCharsets.US_ASCII));
      assertNothingArrives(udp);
    }
  }

  @Test
  void closingTheTcpConnectionEndsTheAssociationAndFreesItsPort() throws Exception {
    observer.drainClosed();
    InetSocketAddress relay;
    try (Association a = associate(conduit.address("socks")); DatagramSocket udp = client()) {
      relay = a.relay();
      send(udp, relay, toLoopback(echo.port(), "once"));
      assertThat(receive(udp)).containsExactly(toLoopback(echo.port(), "echo:once"));
    }
    ConnectionSummary s = observer.nextClosed();
    assertThat(s.outcome()).as(s.detail()).isEqualTo(Outcome.OK);
    assertThat(s.detail()).isEqualTo("UDP association on 127.0.0.1:" + relay.getPort());
    InetSocketAddress port = relay;
    Net.await(Duration.ofSeconds(5), "the relay's UDP port to be released", () -> {
      try (DatagramSocket rebound = new DatagramSocket(port)) {
        return true;
      } catch (IOException stillBound) {
        return false;
      }
    });
  }

  @Test
  void withoutTheOptionUdpAssociateIsNotSupported() throws Exception {
    InetSocketAddress proxy = conduit.address("tcp-only");
    try (Socket s = new Socket(proxy.getAddress(), proxy.getPort())) {
      s.setSoTimeout(5000);
      s.getOutputStream().write(new byte[] {5, 1, 0});
      DataInputStream in = new DataInputStream(s.getInputStream());
      in.readFully(new byte[2]);
      s.getOutputStream().write(new byte[] {5, 3, 0, 1, 0, 0, 0, 0, 0, 0});
      byte[] reply = new byte[4];
      in.readFully(reply);
      assertThat(reply[1]).as("command not supported").isEqualTo((byte) 0x07);
    }
  }

  /** PySocks (Debian's python3-socks), a real SOCKS5 UDP client, through conduit to the echo server. */
  @Test
  void pysocksSendsAndReceivesThroughTheRelay() throws Exception {
    Processes.Result r = UdpEcho.throughPySocks(dir, conduit.address("socks").getPort(), echo.port());
    assertThat(r.exitCode()).as(r.stderr()).isZero();
    assertThat(r.out()).isEqualTo("echo:one True\necho:two True\n");
  }
}
