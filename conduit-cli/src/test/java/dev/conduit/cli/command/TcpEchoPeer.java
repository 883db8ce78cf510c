package dev.conduit.cli.command;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Arrays;
import java.util.Random;

/**
 * Both ends of a TCP exchange for {@link MeshSystemTest}, run in a namespace: {@code echo PORT} listens on
 * {@code [::]:PORT} (IPv4 and IPv6), prints {@code READY}, then {@code PEER ip} for each connection and echoes its
 * bytes until the client half-closes; {@code send IP PORT SIZE} sends SIZE random bytes, half-closes, reads the
 * answer to the end and prints {@code OK} when it is the same bytes (else {@code MISMATCH} or the error).
 */
final class TcpEchoPeer {
  private TcpEchoPeer() {}

  public static void main(String[] args) throws Exception {
    if (args[0].equals("echo")) {
      try (ServerSocket server = new ServerSocket()) {
        server.bind(new InetSocketAddress(InetAddress.getByName("::"), Integer.parseInt(args[1])));
        System.out.println("READY");
        System.out.flush();
        while (true) {
          Socket s = server.accept();
          System.out.println("PEER " + s.getInetAddress().getHostAddress());
          System.out.flush();
          Thread t = new Thread(() -> echo(s));
          t.setDaemon(true);
          t.start();
        }
      }
    }
    if (args[0].equals("hold")) {
      hold(args[1], Integer.parseInt(args[2]));
      return;
    }
    byte[] sent = new byte[Integer.parseInt(args[3])];
    new Random().nextBytes(sent);
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress(InetAddress.getByName(args[1]), Integer.parseInt(args[2])), 20_000);
      s.setSoTimeout(60_000);
      Thread writer = new Thread(() -> {
        try {
          OutputStream out = s.getOutputStream();
          out.write(sent);
          out.flush();
          s.shutdownOutput();
        } catch (java.io.IOException e) {
          System.out.println("WRITE FAILED " + e);
        }
      });
      writer.start();
      ByteArrayOutputStream got = new ByteArrayOutputStream();
      s.getInputStream().transferTo(got);
      writer.join();
      System.out.println(Arrays.equals(sent, got.toByteArray()) ? "OK" : "MISMATCH " + got.size() + " of "
          + sent.length);
    } catch (java.io.IOException e) {
      System.out.println("FAILED " + e);
    }
  }

  /**
   * {@code hold IP PORT}: exchanges one line, prints {@code HELD}, then waits (up to 5 minutes) for the connection
   * to end and prints {@code CLOSED} (or {@code FAILED} when the first exchange fails).
   */
  private static void hold(String ip, int port) {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress(InetAddress.getByName(ip), port), 20_000);
      s.setSoTimeout(300_000);
      s.getOutputStream().write("ping\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
      s.getOutputStream().flush();
      byte[] back = s.getInputStream().readNBytes(5);
      if (!new String(back, java.nio.charset.StandardCharsets.US_ASCII).equals("ping\n")) {
        System.out.println("FAILED no echo");
        return;
      }
      System.out.println("HELD");
      System.out.flush();
      try {
        while (s.getInputStream().read() >= 0) {
          // nothing more is sent: any byte would be a surprise, the end is what this waits for
        }
      } catch (java.net.SocketException reset) {
        // a reset ends it too
      }
      System.out.println("CLOSED");
    } catch (java.io.IOException e) {
      System.out.println("FAILED " + e);
    }
  }

  private static void echo(Socket s) {
    try (s; InputStream in = s.getInputStream(); OutputStream out = s.getOutputStream()) {
      in.transferTo(out);
      out.flush();
      s.shutdownOutput();
    } catch (java.io.IOException e) {
      // the client went away
    }
  }
}
