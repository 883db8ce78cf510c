package dev.conduit.netfilter;

/** How netfilter diverts captured connections to conduit's transparent listener. */
public enum CaptureMode {
  /**
   * {@code REDIRECT} (or {@code DNAT} with {@link CapturePlan#dnatAddress}) in the nat table: the
   * destination is rewritten to the listener; conduit reads the original one with {@code
   * SO_ORIGINAL_DST}. Works for local (OUTPUT) and gateway (PREROUTING) traffic.
   */
  REDIRECT,
  /**
   * {@code TPROXY} in the mangle table plus policy routing ({@code ip rule fwmark ... lookup T},
   * {@code local default dev lo table T}): the packet is not rewritten, the listener needs {@code
   * IP_TRANSPARENT} and the original destination is the accepted socket's local address.
   */
  TPROXY
}
