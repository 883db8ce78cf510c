package dev.conduit.netfilter.egress.internal;

import dev.conduit.core.net.IpAddress;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Instant;
import java.util.Arrays;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * Reads the pcap stream {@code tcpdump -i nflog:N -w -} writes (link type NFLOG) and hands each TCP
 * packet it logged to a consumer: when, its destination and port, and the server name its first payload
 * bytes carry (TLS SNI or HTTP Host), if any. Records are bounded by {@link #MAX_RECORD}; a stream that
 * is not such a pcap stream ends the reading with an {@link IOException}.
 */
public final class NflogCapture {

  /** The largest record accepted (tcpdump's snapshot length is smaller). */
  public static final int MAX_RECORD = 65_535;

  private static final int LINKTYPE_NFLOG = 239;
  private static final int NFULA_PAYLOAD = 9;

  /**
   * A logged TCP packet.
   *
   * @param at when the kernel logged it
   * @param destination its destination address
   * @param port its destination port
   * @param syn whether it opens a connection (SYN without ACK)
   * @param sni the TLS server name of a ClientHello it starts
   * @param host the HTTP Host of a request it starts
   */
  public record Packet(Instant at, IpAddress destination, int port, boolean syn, Optional<String> sni,
      Optional<String> host) {}

  private NflogCapture() {}

  /**
   * Reads records until the stream ends.
   *
   * @param in the pcap stream
   * @param sink receives each TCP packet
   * @throws IOException when the stream cannot be read or is not a pcap stream of NFLOG records
   */
  public static void read(InputStream in, Consumer<Packet> sink) throws IOException {
    DataInputStream data = new DataInputStream(in);
    byte[] header = new byte[24];
    try {
      data.readFully(header);
    } catch (EOFException e) {
      return; // tcpdump ended before its first record (it says why on stderr)
    }
    ByteBuffer h = ByteBuffer.wrap(header).order(ByteOrder.LITTLE_ENDIAN);
    int magic = h.getInt(0);
    ByteOrder order;
    boolean nanos;
    if (magic == 0xa1b2c3d4 || magic == 0xa1b23c4d) {
      order = ByteOrder.LITTLE_ENDIAN;
      nanos = magic == 0xa1b23c4d;
    } else if (magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1) {
      order = ByteOrder.BIG_ENDIAN;
      nanos = magic == 0x4d3cb2a1;
    } else {
      throw new IOException("not a pcap stream (magic " + Integer.toHexString(magic) + ")");
    }
    h.order(order);
    int linkType = h.getInt(20) & 0x0fff_ffff;
    if (linkType != LINKTYPE_NFLOG) {
      throw new IOException("pcap link type " + linkType + " (expected: " + LINKTYPE_NFLOG + ", NFLOG)");
    }
    byte[] recordHeader = new byte[16];
    byte[] record = new byte[2048];
    while (true) {
      try {
        data.readFully(recordHeader);
      } catch (EOFException e) {
        return;
      }
      ByteBuffer r = ByteBuffer.wrap(recordHeader).order(order);
      long seconds = r.getInt(0) & 0xffff_ffffL;
      long fraction = r.getInt(4) & 0xffff_ffffL;
      int length = r.getInt(8);
      if (length < 0 || length > MAX_RECORD) {
        throw new IOException("pcap record of " + length + " bytes (expected: 0-" + MAX_RECORD + ")");
      }
      if (record.length < length) {
        record = new byte[length];
      }
      data.readFully(record, 0, length);
      Instant at = Instant.ofEpochSecond(seconds, nanos ? fraction : fraction * 1000);
      packet(ByteBuffer.wrap(record, 0, length).slice().order(order), at).ifPresent(sink);
    }
  }

  /** Finds the payload attribute of an NFLOG record and parses the IP packet in it. */
  static Optional<Packet> packet(ByteBuffer nflog, Instant at) {
    if (nflog.remaining() < 4) {
      return Optional.empty();
    }
    int pos = 4; // family, version, resource id
    while (pos + 4 <= nflog.limit()) {
      int tlvLength = nflog.getShort(pos) & 0xffff;
      int type = nflog.getShort(pos + 2) & 0x7fff;
      if (tlvLength < 4 || pos + tlvLength > nflog.limit()) {
        return Optional.empty();
      }
      if (type == NFULA_PAYLOAD) {
        ByteBuffer ip = nflog.duplicate().position(pos + 4).limit(pos + tlvLength).slice()
            .order(ByteOrder.BIG_ENDIAN);
        return ip(ip, at);
      }
      pos += (tlvLength + 3) & ~3;
    }
    return Optional.empty();
  }

  /**
   * Parses an IPv4 or IPv6 packet carrying TCP.
   *
   * @param ip the packet, network byte order
   * @param at when it was logged
   * @return the packet, or empty when it is not TCP or too short
   */
  public static Optional<Packet> ip(ByteBuffer ip, Instant at) {
    if (ip.remaining() < 1) {
      return Optional.empty();
    }
    int version = (ip.get(0) & 0xff) >> 4;
    int tcp;
    byte[] destination;
    if (version == 4 && ip.remaining() >= 20) {
      tcp = (ip.get(0) & 0x0f) * 4;
      if (ip.get(9) != 6 || tcp < 20) {
        return Optional.empty();
      }
      destination = new byte[4];
      ip.get(16, destination);
    } else if (version == 6 && ip.remaining() >= 40) {
      if (ip.get(6) != 6) {
        return Optional.empty(); // extension headers: not worth following for a name
      }
      tcp = 40;
      destination = new byte[16];
      ip.get(24, destination);
    } else {
      return Optional.empty();
    }
    if (ip.remaining() < tcp + 20) {
      return Optional.empty();
    }
    int port = ip.getShort(tcp + 2) & 0xffff;
    boolean syn = (ip.get(tcp + 13) & 0x12) == 0x02;
    int payload = tcp + ((ip.get(tcp + 12) & 0xff) >> 4) * 4;
    byte[] bytes = payload < ip.remaining() ? Arrays.copyOfRange(ip.array(), ip.arrayOffset() + payload,
        ip.arrayOffset() + ip.remaining()) : new byte[0];
    return Optional.of(new Packet(at, IpAddress.ofBytes(destination), port, syn, ServerName.sni(bytes),
        ServerName.httpHost(bytes)));
  }
}
