package dev.conduit.netfilter.internal;

import dev.conduit.core.Conduit;
import dev.conduit.core.route.Router;
import dev.conduit.netfilter.CaptureMode;
import dev.conduit.netfilter.TransparentInbound;
import dev.conduit.netfilter.TransparentSockets;
import dev.conduit.netfilter.TransparentUdpRelay;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * The processes of the doctor's live probes, each run in a child JVM inside a probe namespace:
 * {@code echo <port>} (TCP and UDP echo on every address, each answer prefixed with the peer the
 * origin saw), {@code conduit <tproxy-port> <redirect-port> <mark>} (a real conduit with transparent
 * TCP listeners and a transparent UDP relay, its dials carrying the bypass mark; until standard input closes) and {@code client
 * <tcp|udp>:<ip>:<port>...} (one {@code RESULT} line per probe). Not API.
 */
public final class ProbeMain {

  private ProbeMain() {}

  /**
   * Runs one probe process.
   *
   * @param args the mode and its arguments
   * @throws Exception when the process cannot do its part (the doctor reports its output)
   */
  public static void main(String[] args) throws Exception {
    switch (args[0]) {
      case "echo" -> echo(Integer.parseInt(args[1]));
      case "conduit" -> conduit(Integer.parseInt(args[1]), Integer.parseInt(args[2]),
          Integer.decode(args[3]));
      case "client" -> client(Arrays.copyOfRange(args, 1, args.length));
      default -> throw new IllegalArgumentException("mode: " + args[0] + " (expected: echo, conduit, client)");
    }
  }

  private static void echo(int port) throws IOException {
    ServerSocket tcp = new ServerSocket();
    tcp.bind(new InetSocketAddress(port), 64);
    DatagramSocket udp = new DatagramSocket(new InetSocketAddress(port));
    Thread udpThread = new Thread(() -> {
      byte[] buf = new byte[2048];
      while (true) {
        try {
          DatagramPacket p = new DatagramPacket(buf, buf.length);
          udp.receive(p);
          byte[] reply = ("peer=" + host(p.getAddress()) + " "
              + new String(p.getData(), 0, p.getLength(), StandardCharsets.UTF_8)).getBytes(StandardCharsets.UTF_8);
          udp.send(new DatagramPacket(reply, reply.length, p.getSocketAddress()));
        } catch (IOException e) {
          return;
        }
      }
    });
    udpThread.setDaemon(true);
    udpThread.start();
    System.out.println("READY");
    System.out.flush();
    while (true) {
      Socket s = tcp.accept();
      Thread t = new Thread(() -> {
        try (s) {
          s.setSoTimeout(10_000);
          String line = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8))
              .readLine();
          OutputStream out = s.getOutputStream();
          out.write(("peer=" + host(s.getInetAddress()) + " " + line + "\n").getBytes(StandardCharsets.UTF_8));
          out.flush();
        } catch (IOException e) {
          // the probe client reports what it did not get
        }
      });
      t.setDaemon(true);
      t.start();
    }
  }

  private static void conduit(int tproxyPort, int redirectPort, int mark) throws Exception {
    Conduit conduit = Conduit.builder()
        .listener(TransparentInbound.builder().mode(CaptureMode.TPROXY).build()
            .listener("tproxy", "[::]:" + tproxyPort))
        .listener(TransparentInbound.builder().mode(CaptureMode.REDIRECT).build()
            .listener("redirect", "[::]:" + redirectPort))
        .outboundSocketCustomizer(TransparentSockets.outboundMark(mark))
        .build()
        .start();
    TransparentUdpRelay udp = TransparentUdpRelay.builder().bind("[::]:" + tproxyPort).router(Router.direct())
        .bypassMark(mark).build();
    System.out.println("READY");
    System.out.flush();
    while (System.in.read() >= 0) {
      // runs until the doctor closes our standard input (or kills us)
    }
    udp.close();
    conduit.close();
  }

  private static void client(String[] probes) {
    for (String probe : probes) {
      String[] parts = probe.split(":", 2);
      int colon = parts[1].lastIndexOf(':');
      String host = parts[1].substring(0, colon).replace("[", "").replace("]", "");
      int port = Integer.parseInt(parts[1].substring(colon + 1));
      String payload = "conduit-doctor-" + probe;
      String result;
      try {
        InetSocketAddress to = new InetSocketAddress(InetAddress.getByName(host), port);
        result = parts[0].equals("udp") ? udp(to, payload) : tcp(to, payload);
      } catch (IOException | RuntimeException e) {
        result = "FAIL " + e;
      }
      System.out.println("RESULT " + probe + " " + result);
      System.out.flush();
    }
  }

  private static String tcp(InetSocketAddress to, String payload) throws IOException {
    try (Socket s = new Socket()) {
      s.connect(to, 5_000);
      s.setSoTimeout(10_000);
      s.getOutputStream().write((payload + "\n").getBytes(StandardCharsets.UTF_8));
      String reply = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8))
          .readLine();
      return reply == null ? "FAIL connection closed without a reply" : check(reply, payload);
    } catch (SocketTimeoutException e) {
      return "FAIL no reply within 10 s (connected, then nothing)";
    }
  }

  private static String udp(InetSocketAddress to, String payload) throws IOException {
    try (DatagramSocket s = new DatagramSocket()) {
      s.setSoTimeout(2_000);
      byte[] data = payload.getBytes(StandardCharsets.UTF_8);
      byte[] buf = new byte[2048];
      for (int attempt = 0; attempt < 3; attempt++) {
        s.send(new DatagramPacket(data, data.length, to));
        try {
          DatagramPacket p = new DatagramPacket(buf, buf.length);
          s.receive(p);
          if (!p.getAddress().equals(to.getAddress()) || p.getPort() != to.getPort()) {
            return "FAIL reply from " + p.getSocketAddress() + " instead of " + to;
          }
          return check(new String(p.getData(), 0, p.getLength(), StandardCharsets.UTF_8), payload);
        } catch (SocketTimeoutException e) {
          // datagrams may be lost: try again
        }
      }
      return "FAIL no reply to 3 datagrams";
    }
  }

  private static String check(String reply, String payload) {
    return reply.endsWith(" " + payload) ? "OK " + reply.substring(0, reply.indexOf(' '))
        : "FAIL reply not an echo: " + reply;
  }

  private static String host(InetAddress address) {
    String h = address.getHostAddress();
    return h.startsWith("::ffff:") ? h.substring(7) : h;
  }
}
