package dev.conduit.cli.config;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.Authenticator;
import dev.conduit.core.Credentials;
import dev.conduit.core.Listener;
import dev.conduit.core.inbound.HttpInboundOptions;
import dev.conduit.core.inbound.InboundProtocol;
import dev.conduit.core.inbound.InboundProtocols;
import dev.conduit.core.inbound.SocksInboundOptions;
import dev.conduit.netfilter.CaptureMode;
import dev.conduit.netfilter.TransparentInbound;
import dev.conduit.netfilter.TransparentSockets;
import java.util.List;
import java.util.Locale;

/**
 * A listener of the configuration: its name, protocol, address, users and allowed clients.
 *
 * @param name unique name, used by rules and logs
 * @param type the protocol
 * @param listen {@code ip:port} or {@code [v6]:port}; {@code :port} means all IPv4 addresses
 * @param users the accepted users; empty means no authentication
 * @param allowSources client CIDRs allowed to connect; empty allows everyone
 * @param udp whether UDP is served too: SOCKS5 UDP ASSOCIATE (socks and mixed listeners), or UDP relayed
 *     through TPROXY on the same address (tproxy listeners)
 */
public record ListenerConfig(String name, Type type, String listen, List<Credentials> users,
    List<String> allowSources, boolean udp) {

  /** The protocol spoken on a listener. */
  public enum Type {
    /** HTTP proxy (absolute-form requests and CONNECT). */
    HTTP,
    /** SOCKS5 (and SOCKS4/4a without authentication). */
    SOCKS,
    /** HTTP and SOCKS on one port. */
    MIXED,
    /** Transparent, for iptables/nftables REDIRECT or DNAT: the destination is {@code SO_ORIGINAL_DST}. */
    REDIRECT,
    /** Transparent, for TPROXY: {@code IP_TRANSPARENT}, the destination is the accepted socket's local address. */
    TPROXY;

    /** Parses {@code http}, {@code socks} (or {@code socks5}), {@code mixed}, {@code redirect} or {@code tproxy}. */
    public static Type parse(String text) {
      return switch (requireNonNull(text, "text").toLowerCase(Locale.ROOT)) {
        case "http" -> HTTP;
        case "socks", "socks5" -> SOCKS;
        case "mixed" -> MIXED;
        case "redirect" -> REDIRECT;
        case "tproxy" -> TPROXY;
        default -> throw new IllegalArgumentException("type: '" + text
            + "' (expected: http, socks, mixed or transparent)");
      };
    }

    /** Whether the listener is transparent (its connections were captured by netfilter rules). */
    public boolean isTransparent() {
      return this == REDIRECT || this == TPROXY;
    }

    @Override
    public String toString() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /** The mark on conduit's own sockets when a transparent listener runs; `conduit netfilter` rules skip it. */
  public static final int BYPASS_MARK = 0x5a4;

  /**
   * Checks the components.
   *
   * @throws IllegalArgumentException when {@code udp} is set on a listener that neither speaks SOCKS nor is TPROXY
   */
  public ListenerConfig {
    requireNonNull(name, "name");
    requireNonNull(type, "type");
    listen = normalizeListen(requireNonNull(listen, "listen"));
    users = List.copyOf(users);
    allowSources = List.copyOf(allowSources);
    if (udp && type != Type.SOCKS && type != Type.MIXED && type != Type.TPROXY) {
      throw new IllegalArgumentException("udp applies to socks, mixed and tproxy listeners only");
    }
  }

  /** A listener without UDP. */
  public ListenerConfig(String name, Type type, String listen, List<Credentials> users, List<String> allowSources) {
    this(name, type, listen, users, allowSources, false);
  }

  /** Go-style {@code :8080} binds every IPv4 address, as in seed 001. */
  static String normalizeListen(String listen) {
    String s = listen.trim();
    return s.startsWith(":") ? "0.0.0.0" + s : s;
  }

  /**
   * Builds the core listener.
   *
   * @throws IllegalArgumentException for a bad address or CIDR
   */
  public Listener toListener() {
    Listener.Builder b = Listener.builder(name).bind(listen).protocol(protocol());
    if (type.isTransparent()) {
      CaptureMode mode = type == Type.TPROXY ? CaptureMode.TPROXY : CaptureMode.REDIRECT;
      b.socketCustomizer(TransparentSockets.listener(mode));
    }
    allowSources.forEach(b::allowSource);
    return b.build();
  }

  private InboundProtocol protocol() {
    if (type == Type.REDIRECT) {
      return TransparentInbound.redirect();
    }
    if (type == Type.TPROXY) {
      return TransparentInbound.tproxy();
    }
    HttpInboundOptions.Builder http = HttpInboundOptions.builder();
    SocksInboundOptions.Builder socks = SocksInboundOptions.builder().udpAssociate(udp);
    if (!users.isEmpty()) {
      Authenticator auth = Authenticator.of(users);
      http.authenticator(auth);
      socks.authenticator(auth);
    }
    return switch (type) {
      case HTTP -> InboundProtocols.http(http.build());
      case SOCKS -> InboundProtocols.socks(socks.build());
      case MIXED -> InboundProtocols.mixed(http.build(), socks.build());
      case REDIRECT, TPROXY -> throw new IllegalStateException("transparent: handled above");
    };
  }
}
