package dev.conduit.core.net;

/** The IPv6 forms that carry an IPv4 address, which {@link AddressClassifier} decodes. */
public enum Embedding {
  /** {@code ::ffff:a.b.c.d} ({@code ::ffff:0:0/96}, RFC 4291). */
  IPV4_MAPPED,
  /** {@code ::a.b.c.d} ({@code ::/96}, deprecated by RFC 4291). */
  IPV4_COMPATIBLE,
  /** The NAT64 well-known prefix {@code 64:ff9b::/96} (RFC 6052). */
  NAT64,
  /** Local-use NAT64 {@code 64:ff9b:1::/48} (RFC 8215). */
  NAT64_LOCAL,
  /** 6to4 {@code 2002::/16} (RFC 3056): the IPv4 address follows the prefix. */
  SIX_TO_FOUR,
  /** Teredo {@code 2001::/32} (RFC 4380): the server address, and the client address inverted. */
  TEREDO,
  /** An ISATAP interface identifier ({@code ::0:5efe:a.b.c.d} or {@code ::200:5efe:a.b.c.d}, RFC 5214). */
  ISATAP
}
