package dev.conduit.netfilter;

import static java.util.Objects.requireNonNull;

import dev.conduit.netfilter.libc.LibC;
import dev.conduit.netfilter.libc.Native;
import io.netty.channel.Channel;
import io.netty.channel.unix.UnixChannel;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Locale;
import jnr.ffi.byref.IntByReference;

/**
 * Linux socket options that Netty does not expose, set and read on an epoll channel's file descriptor
 * through libc ({@code getsockopt}/{@code setsockopt} via jnr-ffi).
 *
 * <ul>
 *   <li>{@link #originalDestination(Channel)}: the destination a connection had before a
 *       REDIRECT/DNAT rule rewrote it ({@code SO_ORIGINAL_DST}, {@code IP6T_SO_ORIGINAL_DST}).
 *   <li>{@link #originalDestination(Channel, CaptureMode)}: the same, or the accepted socket's local
 *       address after TPROXY (the packet was not rewritten).
 *   <li>{@link #setTransparent(Channel)}: {@code IP_TRANSPARENT}/{@code IPV6_TRANSPARENT} for TPROXY
 *       listeners (call it before {@code bind}).
 *   <li>{@link #setMark(Channel, int)} / {@link #mark(Channel)}: {@code SO_MARK}, which conduit puts on
 *       its own outbound sockets so its capture rules skip them.
 * </ul>
 *
 * <p>Every method needs a Linux epoll channel ({@code EpollSocketChannel}, {@code
 * EpollServerSocketChannel}); other channels get a {@link SocketOptionException} saying so. On other
 * operating systems the methods throw {@link UnsupportedOperationException}. The methods are cheap
 * system calls and may run on an event loop.
 */
public final class SocketOptions {

  // <linux/socket.h>, <netinet/in.h>, <linux/netfilter_ipv4.h>, <linux/netfilter_ipv6/ip6_tables.h>
  private static final int SOL_SOCKET = 1;
  private static final int SOL_IP = 0;
  private static final int SOL_IPV6 = 41;
  private static final int SO_MARK = 36;
  private static final int SO_DOMAIN = 39;
  private static final int SO_ORIGINAL_DST = 80;
  private static final int IP6T_SO_ORIGINAL_DST = 80;
  private static final int IP_TRANSPARENT = 19;
  private static final int IPV6_TRANSPARENT = 75;
  private static final int IP_RECVORIGDSTADDR = 20;
  private static final int IPV6_RECVORIGDSTADDR = 74;
  private static final int AF_INET = 2;
  private static final int AF_INET6 = 10;
  private static final int ENOENT = 2;
  private static final int EPERM = 1;
  private static final int EBADF = 9;
  private static final int ENOPROTOOPT = 92;

  private static final boolean LINUX =
      System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("linux");

  private SocketOptions() {}

  /**
   * Returns the destination the connection had before a REDIRECT or DNAT rule rewrote it, read from
   * conntrack with {@code getsockopt(SOL_IP, SO_ORIGINAL_DST)} or, for IPv6 peers, {@code
   * getsockopt(SOL_IPV6, IP6T_SO_ORIGINAL_DST)}. On a dual-stack IPv6 socket whose peer is IPv4
   * (v4-mapped) the IPv4 option is used.
   *
   * <p>A connection that was <em>not</em> redirected but is tracked by conntrack returns its actual
   * destination, i.e. the listener's own address: callers must treat "original destination is one of
   * my listeners" as a loop and refuse it. ENOENT only happens for untracked connections.
   *
   * @param channel an accepted epoll socket channel
   * @return the original destination address and port
   * @throws SocketOptionException when there is no conntrack entry (the connection was not
   *     redirected), the channel is not an epoll channel, or the kernel refuses
   */
  public static InetSocketAddress originalDestination(Channel channel) throws SocketOptionException {
    int fd = fd(channel, "SO_ORIGINAL_DST");
    int domain = getInt(fd, SOL_SOCKET, SO_DOMAIN, "SO_DOMAIN");
    // IPv4 traffic is tracked as IPv4 even on a dual-stack IPv6 socket (v4-mapped peer); asking the
    // IPv6 option there returns a bogus tuple instead of ENOENT (seen on Linux 6.x), so never fall back
    if (domain == AF_INET || !(remoteAddress(channel) instanceof java.net.Inet6Address)) {
      return originalDestination4(fd);
    }
    return originalDestination6(fd);
  }

  /**
   * Returns the connection's original destination for the given capture mode: {@link
   * #originalDestination(Channel)} for {@link CaptureMode#REDIRECT}, the channel's local address for
   * {@link CaptureMode#TPROXY} (TPROXY does not rewrite the packet, the transparent socket is bound to
   * the original destination).
   *
   * @param channel an accepted socket channel (epoll for REDIRECT)
   * @param mode how the connection was captured
   * @return the original destination address and port
   * @throws SocketOptionException when the destination cannot be read
   */
  public static InetSocketAddress originalDestination(Channel channel, CaptureMode mode)
      throws SocketOptionException {
    requireNonNull(channel, "channel");
    requireNonNull(mode, "mode");
    if (mode == CaptureMode.REDIRECT) {
      return originalDestination(channel);
    }
    SocketAddress local = channel.localAddress();
    if (!(local instanceof InetSocketAddress)) {
      throw new SocketOptionException(
          "getsockname", 0, "getsockname: channel has no IP local address: " + local);
    }
    InetSocketAddress address = (InetSocketAddress) local;
    return new InetSocketAddress(unmap(address.getAddress()), address.getPort());
  }

  /**
   * Sets {@code IP_TRANSPARENT} (IPv4 socket) or {@code IPV6_TRANSPARENT} (IPv6 socket, which also
   * covers v4-mapped traffic on a dual-stack socket) so a listener accepts TPROXY-diverted
   * connections for addresses that are not local. Call it before binding. Needs CAP_NET_ADMIN.
   *
   * @param channel an epoll server socket channel (or socket channel)
   * @throws SocketOptionException when the kernel refuses (EPERM without CAP_NET_ADMIN) or the
   *     channel is not an epoll channel
   */
  public static void setTransparent(Channel channel) throws SocketOptionException {
    int fd = fd(channel, "IP_TRANSPARENT");
    int domain = getInt(fd, SOL_SOCKET, SO_DOMAIN, "SO_DOMAIN");
    if (domain == AF_INET6) {
      setInt(fd, SOL_IPV6, IPV6_TRANSPARENT, 1, "IPV6_TRANSPARENT");
    } else {
      setInt(fd, SOL_IP, IP_TRANSPARENT, 1, "IP_TRANSPARENT");
    }
  }

  /**
   * Asks the kernel for each datagram's original destination ({@code IP_RECVORIGDSTADDR}, and on an
   * IPv6 socket {@code IPV6_RECVORIGDSTADDR} too), which a TPROXY-diverted datagram carries.
   *
   * @param channel an epoll datagram channel
   * @throws SocketOptionException when the kernel refuses or the channel is not an epoll channel
   */
  static void setReceiveOriginalDestination(Channel channel) throws SocketOptionException {
    int fd = fd(channel, "IP_RECVORIGDSTADDR");
    setInt(fd, SOL_IP, IP_RECVORIGDSTADDR, 1, "IP_RECVORIGDSTADDR");
    if (getInt(fd, SOL_SOCKET, SO_DOMAIN, "SO_DOMAIN") == AF_INET6) {
      setInt(fd, SOL_IPV6, IPV6_RECVORIGDSTADDR, 1, "IPV6_RECVORIGDSTADDR");
    }
  }

  /**
   * Returns whether {@code IP_TRANSPARENT}/{@code IPV6_TRANSPARENT} is set on the channel's socket.
   *
   * @param channel an epoll channel
   * @return true when the socket is transparent
   * @throws SocketOptionException when the option cannot be read
   */
  public static boolean isTransparent(Channel channel) throws SocketOptionException {
    int fd = fd(channel, "IP_TRANSPARENT");
    int domain = getInt(fd, SOL_SOCKET, SO_DOMAIN, "SO_DOMAIN");
    return domain == AF_INET6
        ? getInt(fd, SOL_IPV6, IPV6_TRANSPARENT, "IPV6_TRANSPARENT") != 0
        : getInt(fd, SOL_IP, IP_TRANSPARENT, "IP_TRANSPARENT") != 0;
  }

  /**
   * Sets {@code SO_MARK} (the netfilter mark of every packet the socket sends). conduit marks its own
   * outbound sockets with {@link CapturePlan#bypassMark()} so its capture rules skip them. Call it
   * before connecting. Needs CAP_NET_ADMIN.
   *
   * @param channel an epoll socket channel
   * @param mark the mark, any 32-bit value
   * @throws SocketOptionException when the kernel refuses (EPERM without CAP_NET_ADMIN) or the
   *     channel is not an epoll channel
   */
  public static void setMark(Channel channel, int mark) throws SocketOptionException {
    setInt(fd(channel, "SO_MARK"), SOL_SOCKET, SO_MARK, mark, "SO_MARK");
  }

  /**
   * Returns the socket's {@code SO_MARK}. With {@code net.ipv4.tcp_fwmark_accept=1} an accepted
   * socket carries the mark of the SYN that created it.
   *
   * @param channel an epoll channel
   * @return the mark (0 when none)
   * @throws SocketOptionException when the option cannot be read
   */
  public static int mark(Channel channel) throws SocketOptionException {
    return getInt(fd(channel, "SO_MARK"), SOL_SOCKET, SO_MARK, "SO_MARK");
  }

  private static InetSocketAddress originalDestination4(int fd) throws SocketOptionException {
    byte[] buf = getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, 16, "SO_ORIGINAL_DST");
    ByteBuffer in = ByteBuffer.wrap(buf).order(ByteOrder.nativeOrder());
    int family = in.getShort(0) & 0xffff;
    if (family != AF_INET) {
      throw new SocketOptionException(
          "SO_ORIGINAL_DST", 0, "getsockopt(SO_ORIGINAL_DST): unexpected address family " + family);
    }
    int port = ((buf[2] & 0xff) << 8) | (buf[3] & 0xff);
    byte[] addr = new byte[4];
    System.arraycopy(buf, 4, addr, 0, 4);
    return new InetSocketAddress(address(addr), port);
  }

  private static InetSocketAddress originalDestination6(int fd) throws SocketOptionException {
    byte[] buf = getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, 28, "IP6T_SO_ORIGINAL_DST");
    ByteBuffer in = ByteBuffer.wrap(buf).order(ByteOrder.nativeOrder());
    int family = in.getShort(0) & 0xffff;
    if (family != AF_INET6) {
      throw new SocketOptionException(
          "IP6T_SO_ORIGINAL_DST",
          0,
          "getsockopt(IP6T_SO_ORIGINAL_DST): unexpected address family " + family);
    }
    int port = ((buf[2] & 0xff) << 8) | (buf[3] & 0xff);
    byte[] addr = new byte[16];
    System.arraycopy(buf, 8, addr, 0, 16);
    return new InetSocketAddress(unmap(address(addr)), port);
  }

  private static InetAddress address(byte[] addr) {
    try {
      return InetAddress.getByAddress(addr);
    } catch (UnknownHostException e) {
      throw new AssertionError("4 or 16 bytes", e);
    }
  }

  private static InetAddress unmap(InetAddress address) {
    byte[] b = address.getAddress();
    if (b.length == 16) {
      for (int i = 0; i < 10; i++) {
        if (b[i] != 0) {
          return address;
        }
      }
      if ((b[10] & 0xff) == 0xff && (b[11] & 0xff) == 0xff) {
        return address(new byte[] {b[12], b[13], b[14], b[15]});
      }
    }
    return address;
  }

  private static InetAddress remoteAddress(Channel channel) {
    SocketAddress remote = channel.remoteAddress();
    return remote instanceof InetSocketAddress
        ? unmap(((InetSocketAddress) remote).getAddress())
        : null;
  }

  private static int fd(Channel channel, String option) throws SocketOptionException {
    requireNonNull(channel, "channel");
    if (!LINUX) {
      throw new UnsupportedOperationException(
          option + " is Linux-only; running on " + System.getProperty("os.name"));
    }
    if (!(channel instanceof UnixChannel)) {
      throw new SocketOptionException(
          option,
          0,
          option
              + " requires the epoll transport (Linux); got "
              + channel.getClass().getSimpleName());
    }
    int fd = ((UnixChannel) channel).fd().intValue();
    if (fd < 0) {
      throw new SocketOptionException(option, EBADF, option + ": channel is closed");
    }
    return fd;
  }

  private static int getInt(int fd, int level, int name, String option)
      throws SocketOptionException {
    byte[] buf = getsockopt(fd, level, name, 4, option);
    return ByteBuffer.wrap(buf).order(ByteOrder.nativeOrder()).getInt(0);
  }

  private static byte[] getsockopt(int fd, int level, int name, int size, String option)
      throws SocketOptionException {
    LibC libc = libc(option);
    byte[] buf = new byte[size];
    IntByReference len = new IntByReference(size);
    if (libc.getsockopt(fd, level, name, buf, len) != 0) {
      throw failure("getsockopt", option, Native.lastErrno());
    }
    return buf;
  }

  private static void setInt(int fd, int level, int name, int value, String option)
      throws SocketOptionException {
    byte[] buf = ByteBuffer.allocate(4).order(ByteOrder.nativeOrder()).putInt(value).array();
    if (libc(option).setsockopt(fd, level, name, buf, buf.length) != 0) {
      throw failure("setsockopt", option, Native.lastErrno());
    }
  }

  private static LibC libc(String option) throws SocketOptionException {
    try {
      return Native.libc();
    } catch (LinkageError | RuntimeException e) {
      SocketOptionException failure = new SocketOptionException(option, 0,
          option + ": cannot bind libc through jnr-ffi: " + e);
      failure.initCause(e);
      throw failure;
    }
  }

  private static SocketOptionException failure(String call, String option, int errno) {
    String text;
    try {
      text = Native.libc().strerror(errno);
    } catch (RuntimeException e) {
      text = "unknown error";
    }
    StringBuilder msg = new StringBuilder()
        .append(call).append('(').append(option).append(") failed: errno ")
        .append(errno).append(" (").append(text).append(')');
    String hint = hint(option, errno);
    if (hint != null) {
      msg.append(": ").append(hint);
    }
    return new SocketOptionException(option, errno, msg.toString());
  }

  private static String hint(String option, int errno) {
    if (errno == EPERM) {
      return "needs CAP_NET_ADMIN (run as root)";
    }
    if (errno == ENOENT && option.endsWith("ORIGINAL_DST")) {
      return "no conntrack entry: connection was not redirected";
    }
    if (errno == ENOPROTOOPT && option.endsWith("ORIGINAL_DST")) {
      return "conntrack (nf_conntrack) is not loaded for this address family";
    }
    return null;
  }
}
