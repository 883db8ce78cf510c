package dev.conduit.netfilter.egress;

/** What an egress gateway does with forwarded traffic to addresses that are not allowlisted. */
public enum EgressMode {
  /** Drops it (flows already established go on). */
  ENFORCE,
  /**
   * Lets it pass, and counts and logs each destination enforce mode would drop, so the allowlist can
   * be learned before enforcing it.
   */
  REPORT_ONLY
}
