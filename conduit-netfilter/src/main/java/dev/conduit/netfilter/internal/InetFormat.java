package dev.conduit.netfilter.internal;

import dev.conduit.core.net.IpAddress;
import java.net.Inet6Address;
import java.net.InetAddress;

/** Formats addresses the way the tools print them (RFC 5952 compressed IPv6). */
public final class InetFormat {

  private InetFormat() {}

  /**
   * Returns {@code 198.18.0.2} or the compressed IPv6 form, e.g. {@code fd00::2}.
   *
   * @param address the address
   * @return the text
   */
  public static String format(InetAddress address) {
    return address instanceof Inet6Address ? IpAddress.of(address).toString() : address.getHostAddress();
  }
}
