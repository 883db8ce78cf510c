package dev.conduit.core.overload;

/**
 * How loaded a conduit is, in escalating order; each level does what the ones before it do too.
 */
public enum OverloadLevel {
  /** Below every threshold: nothing is held back. */
  NORMAL,
  /**
   * Above the first threshold: the connections holding the most buffered bytes stop reading (their write
   * water marks shrink, so back-pressure stops their peers), and idle and negotiation timeouts are shortened.
   */
  PRESSURE,
  /**
   * Above the next threshold, or at the file-descriptor budget: new requests are refused with the protocol's
   * truthful busy reply (HTTP {@code 503}, SOCKS5 {@code 0x01}), and optional work (sniffing, interception)
   * is skipped.
   */
  REFUSING,
  /** At the memory budget: the connections holding the most buffered bytes are closed. */
  SHEDDING;

  /** Whether new requests are refused at this level. */
  public boolean refusesNewWork() {
    return compareTo(REFUSING) >= 0;
  }
}
