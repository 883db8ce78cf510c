package dev.conduit.netfilter;

import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.util.Arrays;
import java.util.Random;

/**
 * A UDP client for system tests, run in a child JVM inside a network namespace.
 *
 * <ul>
 *   <li>{@code echo <bind-ip|-> <bind-port> <ip> <port> <size> <count>}: sends {@code count}
 *       datagrams of {@code size} seeded random bytes, one at a time, each answered byte for byte from
 *       exactly {@code ip:port} (resent up to 5 times when lost); prints {@code OK <count>} or {@code
 *       FAIL <why>}.
 *   <li>{@code flood <ip> <first-port> <ports> <per-port>}: sends without waiting; prints {@code SENT
 *       <n>}.
 * </ul>
 */
public final class UdpClientMain {

  private UdpClientMain() {}

  public static void main(String[] args) throws Exception {
    if (args[0].equals("flood")) {
      InetAddress ip = InetAddress.getByName(args[1]);
      int first = Integer.parseInt(args[2]);
      int ports = Integer.parseInt(args[3]);
      int perPort = Integer.parseInt(args[4]);
      int sent = 0;
      try (DatagramSocket s = new DatagramSocket()) {
        byte[] data = new byte[512];
        for (int round = 0; round < perPort; round++) {
          for (int p = 0; p < ports; p++) {
            s.send(new DatagramPacket(data, data.length, ip, first + p));
            sent++;
          }
        }
      }
      System.out.println("SENT " + sent);
      return;
    }
    InetSocketAddress bind = args[1].equals("-") ? new InetSocketAddress(0)
        : new InetSocketAddress(InetAddress.getByName(args[1]), Integer.parseInt(args[2]));
    InetSocketAddress to = new InetSocketAddress(InetAddress.getByName(args[3]), Integer.parseInt(args[4]));
    int size = Integer.parseInt(args[5]);
    int count = Integer.parseInt(args[6]);
    Random random = new Random(size * 31L + count);
    try (DatagramSocket s = new DatagramSocket(bind)) {
      s.setSoTimeout(2_000);
      byte[] buf = new byte[65536];
      for (int i = 0; i < count; i++) {
        byte[] data = new byte[size];
        random.nextBytes(data);
        boolean answered = false;
        for (int attempt = 0; attempt < 5 && !answered; attempt++) {
          s.send(new DatagramPacket(data, data.length, to));
          try {
            DatagramPacket p = new DatagramPacket(buf, buf.length);
            s.receive(p);
            if (!p.getAddress().equals(to.getAddress()) || p.getPort() != to.getPort()) {
              System.out.println("FAIL datagram " + i + " answered from " + p.getSocketAddress() + " instead of " + to);
              return;
            }
            if (!Arrays.equals(data, Arrays.copyOf(p.getData(), p.getLength()))) {
              System.out.println("FAIL datagram " + i + " came back changed (" + p.getLength() + " bytes)");
              return;
            }
            answered = true;
          } catch (SocketTimeoutException e) {
            // lost: send it again
          }
        }
        if (!answered) {
          System.out.println("FAIL datagram " + i + " unanswered after 5 attempts");
          return;
        }
      }
    }
    System.out.println("OK " + count);
  }
}
