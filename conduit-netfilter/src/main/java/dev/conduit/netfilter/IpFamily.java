package dev.conduit.netfilter;

/** An IP family a capture plan covers. */
public enum IpFamily {
  /** IPv4: iptables, {@code ipset family inet}, {@code ip -4}. */
  IPV4,
  /** IPv6: ip6tables, {@code ipset family inet6}, {@code ip -6}. */
  IPV6
}
