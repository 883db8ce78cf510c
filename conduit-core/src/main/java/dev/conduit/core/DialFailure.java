package dev.conduit.core;

/**
 * Why a destination could not be reached, in the words every inbound protocol can express: a
 * SOCKS5 reply code, a SOCKS4 reject, an HTTP status.
 */
public enum DialFailure {
  /** A rule rejected the destination (SOCKS5 0x02, HTTP 403). */
  NOT_ALLOWED(0x02, 403),
  /** The network is unreachable (SOCKS5 0x03, HTTP 502). */
  NETWORK_UNREACHABLE(0x03, 502),
  /** The host is unreachable or its name does not resolve (SOCKS5 0x04, HTTP 502). */
  HOST_UNREACHABLE(0x04, 502),
  /** The destination refused the connection (SOCKS5 0x05, HTTP 502). */
  CONNECTION_REFUSED(0x05, 502),
  /** The dial did not finish in time (SOCKS5 0x06 "TTL expired", HTTP 504). */
  TIMEOUT(0x06, 504),
  /** An upstream proxy refused our credentials (SOCKS5 0x01, HTTP 502). */
  UPSTREAM_AUTH_FAILED(0x01, 502),
  /** Anything else (SOCKS5 0x01, HTTP 502). */
  GENERAL(0x01, 502),
  /** conduit is overloaded and refuses new requests for now (SOCKS5 0x01, HTTP 503 with Retry-After). */
  OVERLOADED(0x01, 503);

  private final int socks5Reply;
  private final int httpStatus;

  DialFailure(int socks5Reply, int httpStatus) {
    this.socks5Reply = socks5Reply;
    this.httpStatus = httpStatus;
  }

  /** The SOCKS5 reply code (RFC 1928 §6). */
  public int socks5Reply() {
    return socks5Reply;
  }

  /** The HTTP status a proxy answers with. */
  public int httpStatus() {
    return httpStatus;
  }
}
