package dev.conduit.core;

import dev.conduit.core.observe.ConnectionObserver;
import dev.conduit.core.observe.ConnectionSummary;
import dev.conduit.core.route.Router;
import dev.conduit.core.testing.Poll;
import java.io.Closeable;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

/** Loopback test helpers: a raw SOCKS5 client, small TCP servers, a recording observer. */
final class Net {
  private Net() {}

  static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();

  /** A local port nothing listens on (bound, then released). */
  static int closedPort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, LOOPBACK)) {
      return s.getLocalPort();
    }
  }

  /** The outcome of a SOCKS5 CONNECT through a raw socket. */
  record Socks5Result(int reply, Socket socket) implements Closeable {
    @Override
    public void close() throws IOException {
      socket.close();
    }
  }

  /** SOCKS5 CONNECT to {@code host:port} (domain or IPv4 literal) through {@code proxy}; reads the reply. */
  static Socks5Result socks5(InetSocketAddress proxy, String host, int port, Credentials credentials)
      throws IOException {
    Socket s = new Socket();
    s.connect(proxy, 5000);
    s.setSoTimeout(10_000);
    OutputStream out = s.getOutputStream();
    DataInputStream in = new DataInputStream(s.getInputStream());
    out.write(credentials == null ? new byte[] {5, 1, 0} : new byte[] {5, 1, 2});
    out.flush();
    int ver = in.read();
    int method = in.read();
    if (ver != 5 || method == 0xFF || method < 0) {
      return new Socks5Result(-1, s);
    }
    if (method == 2) {
      byte[] u = credentials.username().getBytes(StandardCharsets.UTF_8);
      byte[] p = credentials.password().getBytes(StandardCharsets.UTF_8);
      out.write(1);
      out.write(u.length);
      out.write(u);
      out.write(p.length);
      out.write(p);
      out.flush();
      in.read();
      if (in.read() != 0) {
        return new Socks5Result(-2, s);
      }
    }
    byte[] ip = io.netty.util.NetUtil.createByteArrayFromIpAddressString(host);
    out.write(new byte[] {5, 1, 0});
    if (ip != null && ip.length == 4) {
      out.write(1);
      out.write(ip);
    } else {
      byte[] h = host.getBytes(StandardCharsets.US_ASCII);
      out.write(3);
      out.write(h.length);
      out.write(h);
    }
    out.write(port >> 8);
    out.write(port & 0xFF);
    out.flush();
    int v = in.read();
    int rep = in.read();
    if (v != 5) {
      return new Socks5Result(-3, s);
    }
    in.read();
    int atyp = in.read();
    int addrLen = atyp == 1 ? 4 : atyp == 4 ? 16 : in.read();
    in.readFully(new byte[addrLen + 2]);
    return new Socks5Result(rep, s);
  }

  /** Reads until EOF, with the socket's timeout. */
  static byte[] readAll(Socket s) throws IOException {
    return s.getInputStream().readAllBytes();
  }

  /** A plain HTTP/1.0 GET over an established tunnel; returns the whole response. */
  static String httpGet(Socket tunnel, String path) throws IOException {
    tunnel.getOutputStream().write(("GET " + path + " HTTP/1.0\r\nHost: origin\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
    tunnel.getOutputStream().flush();
    return new String(readAll(tunnel), StandardCharsets.ISO_8859_1);
  }

  /** The bytes {@code c} holds in its connections' outbound buffers now (conduit's own count). */
  static long bufferedBytes(Conduit c) {
    long sum = 0;
    for (dev.conduit.core.internal.connection.ConnectionState s : c.engine().connections().values()) {
      sum += s.bufferedBytes();
    }
    return sum;
  }

  /**
   * The most one TCP connection's kernel buffers can hold in one direction, sender's send buffer plus
   * receiver's receive buffer, at this machine's limits (autotuning caps, or twice an explicit setting's cap).
   */
  static long kernelBytesPerDirection() {
    return Math.max(sysctlMax("ipv4/tcp_wmem"), 2 * sysctlMax("core/wmem_max"))
        + Math.max(sysctlMax("ipv4/tcp_rmem"), 2 * sysctlMax("core/rmem_max"));
  }

  private static long sysctlMax(String name) {
    try {
      // Files.readString trusts the size /proc reports (0) and reads a few bytes only
      String[] fields = java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/sys/net/" + name)).get(0).trim()
          .split("\\s+");
      return Long.parseLong(fields[fields.length - 1]);
    } catch (IOException | RuntimeException e) {
      return 64L << 20; // not Linux: a generous guess
    }
  }

  /** Waits until {@code condition} holds or fails after {@code timeout}. */
  static void await(Duration timeout, String what, BooleanSupplier condition) {
    Poll.until(what, timeout, condition);
  }

  /** Writes {@code bytes} one a second until done or the connection fails, counting what went. */
  static void trickle(Socket s, byte[] bytes, AtomicInteger sent) {
    try {
      OutputStream out = s.getOutputStream();
      for (byte b : bytes) {
        out.write(b);
        out.flush();
        sent.incrementAndGet();
        Thread.sleep(1000);
      }
    } catch (IOException | InterruptedException closed) {
      // conduit closed the connection, or the test is over
    }
  }

  /** Fails unless a short read on {@code s} times out: the connection is open and conduit still waits. */
  static void assertStalled(Socket s) throws IOException {
    s.setSoTimeout(200);
    try {
      int b = s.getInputStream().read();
      throw new AssertionError("expected an open, silent connection; read " + b);
    } catch (SocketTimeoutException expected) {
      // open, nothing said yet
    } catch (IOException reset) {
      throw new AssertionError("expected an open, silent connection; it was reset", reset);
    }
  }

  /**
   * Reads {@code s} to its end and fails unless conduit closed it no sooner than {@code timeout} after
   * {@code startNanos} and not much later; returns what came before the close (nothing after a reset).
   */
  static String readToTheCloseAtTheTimeout(Socket s, long startNanos, Duration timeout) throws IOException {
    s.setSoTimeout((int) timeout.plusSeconds(10).toMillis());
    String answer;
    try {
      answer = new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
    } catch (SocketTimeoutException e) {
      throw new AssertionError("not closed", e);
    } catch (IOException reset) {
      answer = "";
    }
    Duration took = Duration.ofNanos(System.nanoTime() - startNanos);
    if (took.compareTo(timeout.minusMillis(100)) < 0 || took.compareTo(timeout.plusSeconds(3)) > 0) {
      throw new AssertionError("closed after " + took.toMillis() + " ms (expected: about " + timeout.toMillis() + ")");
    }
    return answer;
  }

  /** A TCP server running one handler thread per connection; closes everything on close. */
  static final class TcpServer implements Closeable {
    interface Handler {
      void handle(Socket s) throws Exception;
    }

    final ServerSocket server;
    private final List<Socket> accepted = new CopyOnWriteArrayList<>();
    private final Thread acceptor;

    TcpServer(int port, Handler handler) throws IOException {
      server = new ServerSocket();
      server.setReuseAddress(true);
      server.bind(new InetSocketAddress(LOOPBACK, port), 50);
      acceptor = new Thread(() -> {
        while (!server.isClosed()) {
          try {
            Socket s = server.accept();
            accepted.add(s);
            Thread t = new Thread(() -> {
              try (s) {
                handler.handle(s);
              } catch (Exception ignored) {
                // the peer went away
              }
            }, "test-server-conn");
            t.setDaemon(true);
            t.start();
          } catch (IOException e) {
            return;
          }
        }
      }, "test-server-accept");
      acceptor.setDaemon(true);
      acceptor.start();
    }

    TcpServer(Handler handler) throws IOException {
      this(0, handler);
    }

    int port() {
      return server.getLocalPort();
    }

    InetSocketAddress address() {
      return new InetSocketAddress(LOOPBACK, port());
    }

    @Override
    public void close() throws IOException {
      server.close();
      for (Socket s : accepted) {
        s.close();
      }
    }
  }

  /** Accepts TCP connections and never answers (a hung upstream proxy). */
  static TcpServer blackhole() throws IOException {
    return new TcpServer(s -> {
      s.getInputStream().readAllBytes();
    });
  }

  /** Echoes every byte until EOF. */
  static TcpServer echo() throws IOException {
    return new TcpServer(s -> {
      s.getInputStream().transferTo(s.getOutputStream());
    });
  }

  /** Records every observer event, in order, as text plus the summaries. */
  static final class RecordingObserver implements ConnectionObserver {
    final LinkedBlockingQueue<String> events = new LinkedBlockingQueue<>();
    final LinkedBlockingQueue<ConnectionSummary> closed = new LinkedBlockingQueue<>();
    final List<DialException> dialFailures = new CopyOnWriteArrayList<>();

    @Override
    public void accepted(ConnectionInfo c) {
      events.add("accepted " + c.id());
    }

    @Override
    public void routed(ConnectRequest r, Router.Match m) {
      events.add("routed " + r.connection().id() + " " + m.rule());
    }

    @Override
    public void dialStarted(ConnectRequest r, String outbound) {
      events.add("dialStarted " + r.connection().id() + " " + outbound);
    }

    @Override
    public void dialSucceeded(ConnectRequest r, String outbound, InetSocketAddress remote, Duration d) {
      events.add("dialSucceeded " + r.connection().id() + " " + outbound + " " + remote.getPort());
    }

    @Override
    public void dialFailed(ConnectRequest r, String outbound, DialException e, Duration d) {
      dialFailures.add(e);
      events.add("dialFailed " + r.connection().id() + " " + outbound + " " + e.failure());
    }

    @Override
    public void closed(ConnectionSummary s) {
      events.add("closed " + s.connection().id() + " " + s.outcome());
      closed.add(s);
    }

    ConnectionSummary nextClosed() throws InterruptedException {
      ConnectionSummary s = closed.poll(10, TimeUnit.SECONDS);
      if (s == null) {
        throw new AssertionError("no connection closed within 10 s; events: " + events);
      }
      return s;
    }

    /** Takes every summary recorded so far. */
    List<ConnectionSummary> drainClosed() {
      List<ConnectionSummary> all = new java.util.ArrayList<>();
      closed.drainTo(all);
      return all;
    }
  }
}
