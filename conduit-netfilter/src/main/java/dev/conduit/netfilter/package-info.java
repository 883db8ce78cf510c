/**
 * Linux transparent capture.
 *
 * <ul>
 *   <li>{@link dev.conduit.netfilter.SocketOptions}: {@code SO_ORIGINAL_DST} (IPv4/IPv6), {@code
 *       IP_TRANSPARENT}, {@code SO_MARK} on epoll channels, through jnr-ffi.
 *   <li>{@link dev.conduit.netfilter.CapturePlan}: what to capture, immutable; its class javadoc
 *       states the rule semantics (bypass mark, then exclusions, then any match captures).
 *   <li>{@link dev.conduit.netfilter.NetfilterBackend}: iptables + ipset or nftables; {@code plan}
 *       (dry run, pure), {@code apply} (idempotent, removes stale rules of the prefix first), {@code
 *       clear}, {@code show}; commands run through a replaceable {@link
 *       dev.conduit.netfilter.CommandRunner}.
 *   <li>{@link dev.conduit.netfilter.Prerequisites}: actionable checks before applying.
 * </ul>
 *
 * <p>Why the rules look the way they do: seed 000 marked matches with non-terminating MARK rules
 * (last match wins) and left DNAT rules behind after a crash. Here each match ends in the one capture
 * target, everything is named after a prefix and tagged ({@code conduit:<prefix>}) so a restart finds
 * and replaces leftovers, and each family's change is one {@code iptables-restore --noflush} (or one
 * {@code nft -f}) transaction. TPROXY routes cannot be tagged, so their parameters are recorded in a
 * comment of the {@code <prefix>_DIVERT} chain (nftables: the table comment).
 */
package dev.conduit.netfilter;
