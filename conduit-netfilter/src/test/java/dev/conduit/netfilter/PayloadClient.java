package dev.conduit.netfilter;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Random;

/**
 * A plain TCP client for system tests, run in a child JVM inside a network namespace: sends {@link
 * #CLIENT_BYTES} seeded random bytes to {@code <ip> <port>} and checks the {@link
 * OriginServer}'s answer byte for byte (its hash of what arrived, then its own {@link #SERVER_BYTES}).
 * Prints {@code OK sent=<n> received=<n>} or {@code FAIL <why>} (exit 1).
 */
public final class PayloadClient {
  static final int CLIENT_BYTES = 1 << 20;
  static final int SERVER_BYTES = 1 << 20;
  static final long CLIENT_SEED = 1;
  static final long SERVER_SEED = 2;

  private PayloadClient() {}

  static byte[] payload(long seed, int n) {
    byte[] b = new byte[n];
    new Random(seed).nextBytes(b);
    return b;
  }

  public static void main(String[] args) throws Exception {
    byte[] sent = payload(CLIENT_SEED, CLIENT_BYTES);
    try (Socket s = new Socket()) {
      s.setSoTimeout(20_000);
      s.connect(new InetSocketAddress(args[0], Integer.parseInt(args[1])), 10_000);
      Thread writer = new Thread(() -> {
        try {
          s.getOutputStream().write(sent);
        } catch (Exception e) {
          System.out.println("FAIL write: " + e);
        }
      });
      writer.start();
      InputStream in = s.getInputStream();
      ByteArrayOutputStream line = new ByteArrayOutputStream();
      int c;
      while ((c = in.read()) >= 0 && c != '\n' && line.size() < 200) {
        line.write(c);
      }
      byte[] received = in.readAllBytes();
      writer.join(20_000);
      String expected = "sha=" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(sent))
          + " n=" + sent.length;
      String got = line.toString(StandardCharsets.US_ASCII);
      if (!got.equals(expected)) {
        System.out.println("FAIL server saw: " + got + " expected: " + expected);
        System.exit(1);
      }
      if (!Arrays.equals(received, payload(SERVER_SEED, SERVER_BYTES))) {
        System.out.println("FAIL received " + received.length + " bytes, not the server's payload");
        System.exit(1);
      }
      System.out.println("OK sent=" + sent.length + " received=" + received.length);
    }
  }
}
