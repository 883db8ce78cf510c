package dev.conduit.core;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.inbound.InboundProtocols;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code --tcp-keepalive} as the kernel reports it on conduit's own two sockets of a tunnel, the accepted
 * one and the dialed one. The sockets are found in this JVM's {@code /proc/self/fd} by their ports and read
 * back with {@code getsockopt}.
 */
class TcpKeepAliveTest {
  private static final int IPPROTO_TCP = 6;
  private static final int TCP_KEEPIDLE = 4;
  private static final int TCP_KEEPINTVL = 5;
  private static final int TCP_KEEPCNT = 6;

  /** What the kernel says about one socket's keep-alive. */
  record KeepAlive(boolean on, int idle, int interval, int count) {}

  @ParameterizedTest(name = "native transport: {0}")
  @ValueSource(booleans = {true, false})
  void explicitTimersAreSetOnAcceptedAndDialedSockets(boolean nativeTransport) throws Exception {
    List<KeepAlive> both = tunnelSockets(TcpKeepAlive.of(77, 11, 5), nativeTransport);
    assertThat(both).containsOnly(new KeepAlive(true, 77, 11, 5));
  }

  @Test
  void onKeepsTheKernelsTimers() throws Exception {
    int idle = sysctl("net/ipv4/tcp_keepalive_time");
    int interval = sysctl("net/ipv4/tcp_keepalive_intvl");
    int count = sysctl("net/ipv4/tcp_keepalive_probes");
    assertThat(tunnelSockets(TcpKeepAlive.ON, true)).containsOnly(new KeepAlive(true, idle, interval, count));
  }

  @Test
  void offLeavesBothSocketsWithoutKeepAlive() throws Exception {
    assertThat(tunnelSockets(TcpKeepAlive.OFF, true)).extracting(KeepAlive::on).containsOnly(false);
  }

  /** Opens a SOCKS5 tunnel to an echo server through a conduit with {@code keepAlive} (epoll or NIO); reads its two sockets. */
  private static List<KeepAlive> tunnelSockets(TcpKeepAlive keepAlive, boolean nativeTransport) throws Exception {
    try (Net.TcpServer echo = Net.echo();
        ConduitResources resources = ConduitResources.builder().ioThreads(1).preferNativeTransport(nativeTransport)
            .build()) {
      assertThat(resources.isNativeTransport()).isEqualTo(nativeTransport);
      Conduit conduit = Conduit.builder().resources(resources).tcpKeepAlive(keepAlive)
          .listener(Listener.builder("socks").bind("127.0.0.1:0").protocol(InboundProtocols.socks()).build())
          .build().start();
      try {
        InetSocketAddress proxy = conduit.address("socks");
        Net.Socks5Result r = Net.socks5(proxy, "127.0.0.1", echo.port(), null);
        try (Socket client = r.socket()) {
          assertThat(r.reply()).isZero();
          client.getOutputStream().write('x'); // an echoed byte: the dialed socket is connected
          assertThat(client.getInputStream().read()).isEqualTo('x');
          Map<Long, int[]> ports = tcpPortsByInode();
          int accepted = fdOf(ports, proxy.getPort(), client.getLocalPort());
          int dialed = fdOf(ports, -1, echo.port());
          return List.of(read(accepted), read(dialed));
        }
      } finally {
        conduit.stop().get();
      }
    }
  }

  private static KeepAlive read(int fd) throws IOException {
    // a view of a socket conduit owns: only read, never closed here
    io.netty.channel.unix.Socket s = new io.netty.channel.unix.Socket(fd);
    return new KeepAlive(s.isKeepAlive(), s.getIntOpt(IPPROTO_TCP, TCP_KEEPIDLE),
        s.getIntOpt(IPPROTO_TCP, TCP_KEEPINTVL), s.getIntOpt(IPPROTO_TCP, TCP_KEEPCNT));
  }

  /** This process's fd of the TCP socket with these ports ({@code -1}: any local port). */
  private static int fdOf(Map<Long, int[]> ports, int localPort, int remotePort) throws IOException {
    Integer found = null;
    try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
      for (Path p : (Iterable<Path>) fds::iterator) {
        String target;
        try {
          target = Files.readSymbolicLink(p).toString();
        } catch (IOException gone) {
          continue; // closed while listing (the listing's own fd among them)
        }
        if (!target.startsWith("socket:[")) {
          continue;
        }
        int[] lr = ports.get(Long.parseLong(target.substring(8, target.length() - 1)));
        if (lr != null && (localPort < 0 || lr[0] == localPort) && lr[1] == remotePort) {
          assertThat(found).as("one socket %d -> %d", localPort, remotePort).isNull();
          found = Integer.parseInt(p.getFileName().toString());
        }
      }
    }
    assertThat(found).as("conduit's socket %d -> %d", localPort, remotePort).isNotNull();
    return found;
  }

  /** Inode to {local port, remote port} of every TCP socket (v4 and v6) in this network namespace. */
  private static Map<Long, int[]> tcpPortsByInode() throws IOException {
    Map<Long, int[]> byInode = new HashMap<>();
    for (String table : new String[] {"/proc/net/tcp", "/proc/net/tcp6"}) {
      List<String> lines = Files.readAllLines(Path.of(table));
      for (String line : lines.subList(1, lines.size())) {
        String[] f = line.trim().split("\\s+");
        byInode.put(Long.parseLong(f[9]), new int[] {port(f[1]), port(f[2])});
      }
    }
    return byInode;
  }

  private static int port(String hexAddressAndPort) {
    return Integer.parseInt(hexAddressAndPort.substring(hexAddressAndPort.indexOf(':') + 1), 16);
  }

  private static int sysctl(String name) throws IOException {
    // one read with room for the whole value: a sysctl file read at an offset > 0 answers EOF
    return Integer.parseInt(Files.readAllLines(Path.of("/proc/sys", name)).get(0).trim());
  }
}
