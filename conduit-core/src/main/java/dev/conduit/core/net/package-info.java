/**
 * Network values shared by every part of conduit: host names in one canonical spelling
 * ({@link dev.conduit.core.net.HostName}), used by routing rules, interception, netfilter plans and
 * the egress guard alike; port ranges ({@link dev.conduit.core.net.PortRange}); strict IP literal
 * parsing ({@link dev.conduit.core.net.IpAddress}), prefixes and prefix sets with subtraction and
 * minimal covers ({@link dev.conduit.core.net.IpPrefix}, {@link dev.conduit.core.net.IpPrefixSet}),
 * and classification after the IANA special-purpose registries, including the IPv4 addresses inside
 * IPv6 transition forms ({@link dev.conduit.core.net.AddressClassifier}).
 *
 * <p>Types and members here are non-null unless marked {@code @Nullable}.
 */
@NullMarked
package dev.conduit.core.net;

import org.jspecify.annotations.NullMarked;
