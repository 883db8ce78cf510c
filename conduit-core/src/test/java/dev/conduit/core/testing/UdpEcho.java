package dev.conduit.core.testing;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Assumptions;

/** Answers each datagram with "echo:" and its payload; counts them and remembers the last sender. */
public final class UdpEcho implements AutoCloseable {
  private final DatagramSocket socket;
  /** Datagrams received so far. */
  public final AtomicInteger received = new AtomicInteger();
  private volatile InetSocketAddress lastSender;

  /** Starts answering on 127.0.0.1, on a free port. */
  public UdpEcho() throws IOException {
    socket = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
    Thread t = new Thread(this::serve, "udp-echo");
    t.setDaemon(true);
    t.start();
  }

  /** The port it answers on. */
  public int port() {
    return socket.getLocalPort();
  }

  /** Where the last datagram came from. */
  public InetSocketAddress lastSender() {
    return lastSender;
  }

  private void serve() {
    byte[] buf = new byte[65_535];
    byte[] prefix = "echo:".getBytes(StandardCharsets.US_ASCII);
    while (!socket.isClosed()) {
      try {
        DatagramPacket p = new DatagramPacket(buf, buf.length);
        socket.receive(p);
        received.incrementAndGet();
        lastSender = (InetSocketAddress) p.getSocketAddress();
        byte[] out = new byte[prefix.length + p.getLength()];
        System.arraycopy(prefix, 0, out, 0, prefix.length);
        System.arraycopy(p.getData(), 0, out, prefix.length, p.getLength());
        socket.send(new DatagramPacket(out, out.length, p.getSocketAddress()));
      } catch (IOException e) {
        return; // closed
      }
    }
  }

  @Override
  public void close() {
    socket.close();
  }

  /**
   * Runs PySocks (Debian's python3-socks), a real SOCKS5 UDP client: through the SOCKS5 proxy on 127.0.0.1:
   * {@code proxyPort} it sends "one" and "two" to 127.0.0.1:{@code echoPort} and prints each answer and whether
   * it came from that port. Skips the test when PySocks is missing (fails under {@code CI=true}).
   */
  public static Processes.Result throughPySocks(Path dir, int proxyPort, int echoPort) throws Exception {
    Processes.requireTool("python3");
    String python = Files.isExecutable(Path.of("/usr/bin/python3")) ? "/usr/bin/python3" : "python3";
    if (Processes.run(20, List.of(python, "-c", "import socks")).exitCode() != 0) {
      String msg = "PySocks is not installed (apt-get install python3-socks)";
      if ("true".equals(System.getenv("CI"))) {
        throw new AssertionError(msg + "; CI must have it");
      }
      Assumptions.abort(msg);
    }
    Path script = dir.resolve("udp.py");
    Files.writeString(script, String.join("\n",
        "import socket, socks, sys",
        "s = socks.socksocket(socket.AF_INET, socket.SOCK_DGRAM)",
        "s.set_proxy(socks.SOCKS5, '127.0.0.1', int(sys.argv[1]))",
        "s.settimeout(5)",
        "for word in ('one', 'two'):",
        "    s.sendto(word.encode(), ('127.0.0.1', int(sys.argv[2])))",
        "    data, sender = s.recvfrom(2048)",
        "    print(data.decode(), sender[1] == int(sys.argv[2]))",
        ""));
    return Processes.run(30, List.of(python, script.toString(), String.valueOf(proxyPort), String.valueOf(echoPort)));
  }
}
