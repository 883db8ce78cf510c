package dev.conduit.core.net;

import static java.util.Objects.requireNonNull;

import java.util.Optional;

/**
 * The verdict of {@link AddressClassifier#classify(IpAddress)}. When an IPv6 address carries an IPv4
 * address that is not public, the category is the IPv4 address's ({@code ::ffff:127.0.0.1} is {@link
 * AddressCategory#LOOPBACK}).
 *
 * @param address the classified address
 * @param category what it is
 * @param embedding the IPv6 form that carries an IPv4 address, if any
 * @param embeddedIpv4 the IPv4 address it carries (the one that decided the category), if any
 */
public record AddressClassification(IpAddress address, AddressCategory category,
    Optional<Embedding> embedding, Optional<IpAddress> embeddedIpv4) {

  /**
   * Validates.
   *
   * @param address the classified address
   * @param category what it is
   * @param embedding the IPv6 form, if any
   * @param embeddedIpv4 the IPv4 address carried, if any
   */
  public AddressClassification {
    requireNonNull(address, "address");
    requireNonNull(category, "category");
    requireNonNull(embedding, "embedding");
    requireNonNull(embeddedIpv4, "embeddedIpv4");
  }

  /** Returns whether the address is globally reachable unicast. */
  public boolean isPublic() {
    return category == AddressCategory.PUBLIC;
  }

  /** Returns e.g. {@code ::ffff:7f00:1 is LOOPBACK (IPV4_MAPPED 127.0.0.1)}. */
  @Override
  public String toString() {
    return address + " is " + category
        + embedding.map(e -> " (" + e + " " + embeddedIpv4.map(IpAddress::toString).orElse("") + ")")
            .orElse("");
  }
}
