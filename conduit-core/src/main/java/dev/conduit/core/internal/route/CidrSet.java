package dev.conduit.core.internal.route;

import static java.util.Objects.requireNonNull;

import io.netty.util.NetUtil;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.util.HashSet;
import java.util.Set;
import java.util.TreeSet;

/**
 * A set of IPv4 and IPv6 prefixes with a lookup cost of one hash probe per distinct prefix length,
 * so ten thousand CIDRs cost about as much as ten.
 */
public final class CidrSet {

  private static final CidrSet EMPTY = new Builder().build();

  // index = prefix length; null when no prefix of that length
  private final Set<Long>[] v4;
  private final Set<V6Key>[] v6;
  private final int[] v4Lengths;
  private final int[] v6Lengths;

  private CidrSet(Set<Long>[] v4, Set<V6Key>[] v6) {
    this.v4 = v4;
    this.v6 = v6;
    this.v4Lengths = lengths(v4);
    this.v6Lengths = lengths(v6);
  }

  public static Builder builder() {
    return new Builder();
  }

  public static CidrSet empty() {
    return EMPTY;
  }

  public boolean isEmpty() {
    return v4Lengths.length == 0 && v6Lengths.length == 0;
  }

  public boolean contains(InetAddress address) {
    byte[] b = address.getAddress();
    if (b.length == 16 && isV4Mapped(b)) {
      byte[] v4b = new byte[4];
      System.arraycopy(b, 12, v4b, 0, 4);
      b = v4b;
    }
    if (b.length == 4) {
      long ip = ((b[0] & 0xFFL) << 24) | ((b[1] & 0xFFL) << 16) | ((b[2] & 0xFFL) << 8) | (b[3] & 0xFFL);
      for (int len : v4Lengths) {
        if (v4[len].contains(ip & mask4(len))) {
          return true;
        }
      }
      return false;
    }
    long hi = toLong(b, 0);
    long lo = toLong(b, 8);
    for (int len : v6Lengths) {
      if (v6[len].contains(V6Key.of(hi, lo, len))) {
        return true;
      }
    }
    return false;
  }

  private static boolean isV4Mapped(byte[] b) {
    for (int i = 0; i < 10; i++) {
      if (b[i] != 0) {
        return false;
      }
    }
    return b[10] == (byte) 0xFF && b[11] == (byte) 0xFF;
  }

  private static long mask4(int len) {
    return len == 0 ? 0 : (0xFFFFFFFFL << (32 - len)) & 0xFFFFFFFFL;
  }

  private static long toLong(byte[] b, int off) {
    long v = 0;
    for (int i = 0; i < 8; i++) {
      v = (v << 8) | (b[off + i] & 0xFFL);
    }
    return v;
  }

  private static int[] lengths(Set<?>[] sets) {
    TreeSet<Integer> lens = new TreeSet<>();
    for (int i = 0; i < sets.length; i++) {
      if (sets[i] != null) {
        lens.add(i);
      }
    }
    // longest prefixes first: most specific answers tend to be the rare ones, order does not matter for correctness
    return lens.descendingSet().stream().mapToInt(Integer::intValue).toArray();
  }

  private record V6Key(long hi, long lo) {
    static V6Key of(long hi, long lo, int len) {
      long mhi;
      long mlo;
      if (len == 0) {
        mhi = 0;
        mlo = 0;
      } else if (len <= 64) {
        mhi = len == 64 ? -1L : ~(-1L >>> len);
        mlo = 0;
      } else {
        mhi = -1L;
        mlo = len == 128 ? -1L : ~(-1L >>> (len - 64));
      }
      return new V6Key(hi & mhi, lo & mlo);
    }
  }

  /** Collects prefixes; {@link #add} validates and reports the bad text. */
  public static final class Builder {
    @SuppressWarnings("unchecked")
    private final Set<Long>[] v4 = new Set[33];

    @SuppressWarnings("unchecked")
    private final Set<V6Key>[] v6 = new Set[129];

    private Builder() {}

    /** Adds {@code a.b.c.d/len}, {@code v6/len} or a single address. */
    public Builder add(String cidr) {
      requireNonNull(cidr, "cidr");
      String s = cidr.trim();
      int slash = s.indexOf('/');
      String addr = slash < 0 ? s : s.substring(0, slash);
      byte[] bytes = NetUtil.createByteArrayFromIpAddressString(addr);
      if (bytes == null) {
        throw new IllegalArgumentException("cidr: " + cidr + " (expected: an IPv4 or IPv6 prefix such as 10.0.0.0/8)");
      }
      int max = bytes.length * 8;
      int len = max;
      if (slash >= 0) {
        try {
          len = Integer.parseInt(s.substring(slash + 1));
        } catch (NumberFormatException e) {
          len = -1;
        }
        if (len < 0 || len > max) {
          throw new IllegalArgumentException("cidr: " + cidr + " (expected: prefix length 0-" + max + ")");
        }
      }
      if (bytes.length == 4) {
        long ip = ((bytes[0] & 0xFFL) << 24) | ((bytes[1] & 0xFFL) << 16) | ((bytes[2] & 0xFFL) << 8) | (bytes[3] & 0xFFL);
        if (v4[len] == null) {
          v4[len] = new HashSet<>();
        }
        v4[len].add(ip & mask4(len));
      } else {
        if (v6[len] == null) {
          v6[len] = new HashSet<>();
        }
        v6[len].add(V6Key.of(toLong(bytes, 0), toLong(bytes, 8), len));
      }
      return this;
    }

    /** Adds one address as a full-length prefix. */
    public Builder add(InetAddress address) {
      int len = address instanceof Inet4Address ? 32 : 128;
      return add(NetUtil.toAddressString(address) + "/" + len);
    }

    public CidrSet build() {
      return new CidrSet(v4.clone(), v6.clone());
    }
  }
}
