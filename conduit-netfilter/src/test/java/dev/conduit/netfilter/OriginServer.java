package dev.conduit.netfilter;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;

/**
 * The destination of captured traffic in system tests, run in a child JVM inside a network namespace
 * on {@code [::]:<port>} (IPv4 and IPv6). Prints {@code READY}, then {@code PEER <ip>} per connection
 * (who connected: conduit, or the client when nothing captured). An HTTP GET gets {@code
 * peer=<ip>:<port>}; anything else is a payload exchange: it reads {@link PayloadClient#CLIENT_BYTES}, answers {@code sha=<hex>
 * n=<count>\n} and then {@link PayloadClient#SERVER_BYTES} bytes of {@link PayloadClient#payload}.
 *
 * <p>Arguments: {@code <port>}.
 */
public final class OriginServer {

  private OriginServer() {}

  public static void main(String[] args) throws Exception {
    try (ServerSocket server = new ServerSocket()) {
      server.bind(new InetSocketAddress(Integer.parseInt(args[0])), 64);
      System.out.println("READY");
      System.out.flush();
      while (true) {
        Socket s = server.accept();
        Thread t = new Thread(() -> serve(s));
        t.setDaemon(true);
        t.start();
      }
    }
  }

  private static void serve(Socket s) {
    try (s) {
      s.setSoTimeout(20_000);
      String peer = s.getInetAddress().getHostAddress();
      synchronized (System.out) {
        System.out.println("PEER " + peer.replaceFirst("^::ffff:", ""));
        System.out.flush();
      }
      InputStream in = s.getInputStream();
      OutputStream out = s.getOutputStream();
      byte[] first = in.readNBytes(4);
      if (new String(first, StandardCharsets.ISO_8859_1).equals("GET ")) {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        int c;
        while ((c = in.read()) >= 0 && head.size() < 16384) {
          head.write(c);
          if (head.toString(StandardCharsets.ISO_8859_1).endsWith("\r\n\r\n")) {
            break;
          }
        }
        byte[] body = ("peer=" + peer + ":" + s.getPort() + "\n").getBytes(StandardCharsets.UTF_8);
        out.write(("HTTP/1.1 200 OK\r\nContent-Length: " + body.length + "\r\nConnection: close\r\n\r\n")
            .getBytes(StandardCharsets.ISO_8859_1));
        out.write(body);
        out.flush();
        return;
      }
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      sha.update(first);
      long n = first.length;
      byte[] buf = new byte[65536];
      int r;
      // reads exactly the client's payload: the exchange does not depend on a half-close
      while (n < PayloadClient.CLIENT_BYTES
          && (r = in.read(buf, 0, (int) Math.min(buf.length, PayloadClient.CLIENT_BYTES - n))) >= 0) {
        sha.update(buf, 0, r);
        n += r;
      }
      out.write(("sha=" + HexFormat.of().formatHex(sha.digest()) + " n=" + n + "\n")
          .getBytes(StandardCharsets.US_ASCII));
      out.write(PayloadClient.payload(PayloadClient.SERVER_SEED, PayloadClient.SERVER_BYTES));
      out.flush();
    } catch (Exception e) {
      System.out.println("ERROR " + e);
      System.out.flush();
    }
  }
}
