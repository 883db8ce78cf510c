package dev.conduit.core.egress;

import java.util.Locale;

/** What an allowlist entry names. */
public enum EntryKind {
  /** One domain name, e.g. {@code api.example.com}: its A and AAAA records are allowlisted. */
  DOMAIN,
  /** {@code *.example.com}: every name below the suffix (checked by name, it has no addresses of its own). */
  WILDCARD,
  /** One IPv4 or IPv6 address. */
  ADDRESS,
  /** An IPv4 or IPv6 prefix in CIDR notation. */
  PREFIX;

  /** Returns the lower-case name the API uses ({@code domain}, {@code wildcard}, {@code address}, {@code prefix}). */
  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }
}
