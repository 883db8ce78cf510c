package dev.conduit.netfilter;

import dev.conduit.netfilter.libc.LibC;
import dev.conduit.netfilter.libc.Native;
import io.netty.buffer.Unpooled;
import io.netty.channel.EventLoop;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import jnr.ffi.Memory;
import jnr.ffi.Pointer;

/**
 * The IPv6 half of a {@link TransparentUdpRelay}'s listener: Netty's epoll datagram channel does not
 * hand over {@code IPV6_ORIGDSTADDR}, so an IPv6-only transparent socket is read here with {@code
 * recvmsg(2)} on a thread of its own, and each datagram goes to the flow table on the relay's event
 * loop. Linux x86-64/aarch64 layouts (LP64).
 */
final class Udp6Listener implements AutoCloseable {
  private static final int AF_INET6 = 10;
  private static final int SOCK_DGRAM = 2;
  private static final int SOL_SOCKET = 1;
  private static final int SO_REUSEADDR = 2;
  private static final int SO_RCVTIMEO = 20;
  private static final int SOL_IPV6 = 41;
  private static final int IPV6_V6ONLY = 26;
  private static final int IPV6_TRANSPARENT = 75;
  private static final int IPV6_RECVORIGDSTADDR = 74;
  private static final int IPV6_ORIGDSTADDR = 74;
  private static final int EAGAIN = 11;
  private static final int EINTR = 4;
  private static final int BUFFER = 65536;
  private static final int CONTROL = 256;

  private final LibC libc = Native.libc();
  private final int fd;
  private final Thread reader;
  private volatile boolean closed;

  Udp6Listener(int port, EventLoop loop, UdpFlows flows) throws SocketOptionException {
    int s = libc.socket(AF_INET6, SOCK_DGRAM, 0);
    if (s < 0) {
      throw new SocketOptionException("socket(AF_INET6)", Native.lastErrno(), "cannot create the IPv6 UDP listener");
    }
    fd = s;
    try {
      set(SOL_SOCKET, SO_REUSEADDR, intBytes(1), "SO_REUSEADDR");
      set(SOL_IPV6, IPV6_V6ONLY, intBytes(1), "IPV6_V6ONLY");
      set(SOL_IPV6, IPV6_TRANSPARENT, intBytes(1), "IPV6_TRANSPARENT");
      set(SOL_IPV6, IPV6_RECVORIGDSTADDR, intBytes(1), "IPV6_RECVORIGDSTADDR");
      // a receive timeout lets the reader see close() without relying on close() waking recvmsg
      byte[] timeval = new byte[16];
      timeval[8] = 0x20;
      timeval[9] = (byte) 0xa1;
      timeval[10] = 0x07; // 500000 microseconds
      set(SOL_SOCKET, SO_RCVTIMEO, timeval, "SO_RCVTIMEO");
      byte[] addr = new byte[28];
      addr[0] = AF_INET6;
      addr[2] = (byte) (port >> 8);
      addr[3] = (byte) port;
      if (libc.bind(fd, addr, addr.length) != 0) {
        int errno = Native.lastErrno();
        throw new SocketOptionException("bind([::]:" + port + ")", errno, libc.strerror(errno));
      }
    } catch (SocketOptionException | RuntimeException e) {
      libc.close(fd);
      throw e;
    }
    reader = new Thread(() -> read(loop, flows), "conduit-udp6-" + port);
    reader.setDaemon(true);
    reader.start();
  }

  private void set(int level, int name, byte[] value, String option) throws SocketOptionException {
    if (libc.setsockopt(fd, level, name, value, value.length) != 0) {
      int errno = Native.lastErrno();
      throw new SocketOptionException(option, errno, libc.strerror(errno));
    }
  }

  private void read(EventLoop loop, UdpFlows flows) {
    jnr.ffi.Runtime runtime = Native.runtime();
    Pointer name = Memory.allocateDirect(runtime, 28);
    Pointer data = Memory.allocateDirect(runtime, BUFFER);
    Pointer control = Memory.allocateDirect(runtime, CONTROL);
    Pointer iov = Memory.allocateDirect(runtime, 16);
    Pointer msg = Memory.allocateDirect(runtime, 56);
    iov.putAddress(0, data.address());
    iov.putLong(8, BUFFER);
    while (!closed) {
      msg.putAddress(0, name.address());
      msg.putInt(8, 28);
      msg.putAddress(16, iov.address());
      msg.putLong(24, 1);
      msg.putAddress(32, control.address());
      msg.putLong(40, CONTROL);
      msg.putInt(48, 0);
      long n = libc.recvmsg(fd, msg, 0);
      if (n < 0) {
        int errno = Native.lastErrno();
        if (errno == EAGAIN || errno == EINTR) {
          continue;
        }
        return; // closed
      }
      InetSocketAddress client = address(name, 0);
      InetSocketAddress target = originalDestination(control, msg.getLong(40));
      if (client == null || target == null) {
        flows.drop(TransparentUdpRelay.DROP_NO_DESTINATION);
        continue;
      }
      byte[] payload = new byte[(int) n];
      data.get(0, payload, 0, payload.length);
      loop.execute(() -> {
        io.netty.buffer.ByteBuf buf = Unpooled.wrappedBuffer(payload);
        try {
          flows.fromClient(client, target, buf);
        } finally {
          buf.release();
        }
      });
    }
  }

  private static InetSocketAddress originalDestination(Pointer control, long length) {
    long offset = 0;
    while (offset + 16 <= length) {
      long len = control.getLong(offset);
      int level = control.getInt(offset + 8);
      int type = control.getInt(offset + 12);
      if (len < 16) {
        return null;
      }
      if (level == SOL_IPV6 && type == IPV6_ORIGDSTADDR) {
        return address(control, offset + 16);
      }
      offset += (len + 7) & ~7L;
    }
    return null;
  }

  private static InetSocketAddress address(Pointer p, long offset) {
    if ((p.getShort(offset) & 0xffff) != AF_INET6) {
      return null;
    }
    int port = ((p.getByte(offset + 2) & 0xff) << 8) | (p.getByte(offset + 3) & 0xff);
    byte[] ip = new byte[16];
    p.get(offset + 8, ip, 0, 16);
    try {
      InetAddress a = InetAddress.getByAddress(ip);
      return new InetSocketAddress(a, port);
    } catch (UnknownHostException e) {
      return null;
    }
  }

  private static byte[] intBytes(int value) {
    return new byte[] {(byte) value, (byte) (value >> 8), (byte) (value >> 16), (byte) (value >> 24)};
  }

  @Override
  public void close() {
    closed = true;
    libc.shutdown(fd, 2);
    try {
      reader.join(5_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    libc.close(fd);
  }
}
