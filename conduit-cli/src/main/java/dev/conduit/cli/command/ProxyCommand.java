package dev.conduit.cli.command;

import dev.conduit.cli.CliException;
import dev.conduit.cli.config.ConduitConfig;
import dev.conduit.cli.config.HopConfig;
import dev.conduit.cli.config.ListenerConfig;
import dev.conduit.cli.config.OutboundConfig;
import dev.conduit.core.Credentials;
import dev.conduit.core.Destination;
import dev.conduit.core.TcpKeepAlive;
import dev.conduit.core.Timeouts;
import dev.conduit.core.outbound.Hop;
import dev.conduit.core.route.RouteDecision;
import dev.conduit.netfilter.TransparentUdpRelay;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code conduit proxy}: seed 001's flags, plus chains, a mixed listener and authentication. */
@Command(name = "proxy", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Run an HTTP / SOCKS5 forward proxy configured by flags (seed 001's flags).",
        "Runs until SIGTERM or SIGINT, then stops accepting and drains open connections."},
    footer = {"", "Examples:",
        "  conduit proxy --http-listen 127.0.0.1:8080",
        "  conduit proxy --socks5-listen 127.0.0.1:1080 --upstream-mode http --upstream-addr 10.0.0.2:3128",
        "  conduit proxy --mixed-listen 127.0.0.1:1080 --upstream socks5://10.0.0.3:1080 --upstream http://proxy:3128"})
public final class ProxyCommand extends BaseCommand implements Callable<Integer> {

  /** The outbound name of {@code --upstream} / {@code --upstream-mode}. */
  static final String UPSTREAM = "upstream";

  @Option(names = "--http-listen", paramLabel = "IP:PORT", description = "HTTP proxy listener (CONNECT and absolute-form).")
  String httpListen;

  @Option(names = "--tproxy-listen", paramLabel = "IP:PORT",
      description = "Transparent listener for TPROXY rules (seed 001); needs root and epoll. See `conduit netfilter`.")
  String tproxyListen;

  @Option(names = "--tproxy-udp", description = "Also relay UDP through TPROXY on the --tproxy-listen address"
      + " (same rules as TCP; install the rules with netfilter apply --udp).")
  boolean tproxyUdp;

  @Option(names = "--redirect-listen", paramLabel = "IP:PORT",
      description = "Transparent listener for iptables REDIRECT/DNAT rules (SO_ORIGINAL_DST); see `conduit netfilter`.")
  String redirectListen;

  @Option(names = "--socks5-listen", paramLabel = "IP:PORT", description = "SOCKS5 listener (also SOCKS4/4a without auth).")
  String socks5Listen;

  @Option(names = "--socks5-udp", description = "Serve SOCKS5 UDP ASSOCIATE on the SOCKS5 and mixed listeners"
      + " (datagrams go direct, each routed by the rules).")
  boolean socks5Udp;

  @Option(names = "--mixed-listen", paramLabel = "IP:PORT", description = "HTTP and SOCKS on one port.")
  String mixedListen;

  @Option(names = "--upstream-mode", paramLabel = "MODE", description = "direct, http or socks5 (default: direct).")
  String upstreamMode;

  @Option(names = "--upstream-addr", paramLabel = "IP:PORT", description = "The upstream proxy for http and socks5 modes.")
  String upstreamAddr;

  @Option(names = "--upstream", paramLabel = "URL",
      description = {"Upstream proxy URL: http://[user:pass@]host:port, https://..., socks5://...;",
          "repeat for a chain (each hop reached through the previous one); direct:// for none.",
          "A password may be $${file:/run/secrets/pass} or $${env:VAR}, so that ps does not show it."})
  List<String> upstreams = new ArrayList<>();

  @Option(names = "--upstream-ca", paramLabel = "FILE",
      description = "Trust the CA certificates in this PEM file (instead of the JDK's) for the TLS of every"
          + " https:// upstream hop, e.g. a proxy with a certificate from a private CA.")
  java.nio.file.Path upstreamCa;

  @Option(names = "--proxy-user", paramLabel = "USER:PASS",
      description = {"Require this user on every listener (HTTP Basic, SOCKS5 username/password); repeatable.",
          "Keep the password out of ps: USER:$${file:/run/secrets/pass} or USER:$${env:VAR}, or --proxy-user-file."})
  List<String> proxyUsers = new ArrayList<>();

  @Option(names = "--proxy-user-file", paramLabel = "FILE",
      description = "Require the users in this file, one USER:PASS per line (# comments); repeatable.")
  List<java.nio.file.Path> proxyUserFiles = new ArrayList<>();

  @Option(names = "--dial-timeout", paramLabel = "DURATION", defaultValue = "10s",
      description = "Bounds DNS lookups, TCP connect and upstream handshakes (default: ${DEFAULT-VALUE}).")
  Duration dialTimeout;

  @Option(names = "--negotiation-timeout", paramLabel = "DURATION", defaultValue = "10s",
      description = "Bounds the client's HTTP CONNECT / SOCKS5 handshake (default: ${DEFAULT-VALUE}).")
  Duration negotiationTimeout;

  @Option(names = "--http-idle-timeout", paramLabel = "DURATION", defaultValue = "4m",
      description = "Closes idle HTTP keep-alive connections (default: ${DEFAULT-VALUE}).")
  Duration httpIdleTimeout;

  @Option(names = "--http-response-timeout", paramLabel = "DURATION", defaultValue = "2m",
      description = "A forwarded HTTP request's wait for its response head; then 504 (default: ${DEFAULT-VALUE}).")
  Duration httpResponseTimeout;

  @Option(names = "--relay-idle-timeout", paramLabel = "DURATION", defaultValue = "0",
      description = "Closes tunnels idle this long; 0 never (default: ${DEFAULT-VALUE}).")
  Duration relayIdleTimeout;

  @Option(names = "--drain-timeout", paramLabel = "DURATION", defaultValue = "30s",
      description = "On SIGTERM, how long open connections may finish (default: ${DEFAULT-VALUE}).")
  Duration drainTimeout;

  @Option(names = "--tcp-keepalive", paramLabel = "on|off|IDLE:INTVL:CNT", defaultValue = "on",
      description = "TCP keepalive on accepted and dialed sockets, seconds (default: ${DEFAULT-VALUE}).")
  TcpKeepAlive tcpKeepAlive;

  @Option(names = "--splice",
      description = "Relays tunnels between two plain TCP sockets with splice(2): zero-copy, epoll only.")
  boolean splice;

  @Option(names = "--memory-budget", paramLabel = "BYTES", defaultValue = "0",
      description = "Memory conduit may buffer (192m, 2g): throttle at 70%%, busy at 85%%, shed at 100%%; "
          + "0 derives it: 3/4 of the direct memory limit (default: ${DEFAULT-VALUE}).")
  String memoryBudget;

  @Option(names = "--fd-budget", paramLabel = "N", defaultValue = "0",
      description = "Open files at which new requests are answered busy; 0 derives it: ulimit -n less a tenth "
          + "(default: ${DEFAULT-VALUE}).")
  long fdBudget;

  @Option(names = "--admin-listen", paramLabel = "IP:PORT",
      description = "Admin endpoint: /metrics (Prometheus), /healthz, /readyz, /connections, /config.")
  String adminListen;

  @Mixin
  LogOptions logOptions = new LogOptions();

  @Override
  public Integer call() throws Exception {
    return ProxyRole.run(toConfig(), context(), null);
  }

  /**
   * The configuration these flags describe.
   *
   * @throws CliException for a bad combination or value
   */
  ConduitConfig toConfig() {
    ConduitConfig.Builder b = ConduitConfig.builder();
    List<Credentials> users = new ArrayList<>();
    for (String u : proxyUsers) {
      users.add(user("--proxy-user", u, resolve("--proxy-user", u)));
    }
    for (java.nio.file.Path file : proxyUserFiles) {
      users.addAll(usersFrom(file));
    }
    listener(b, "http", ListenerConfig.Type.HTTP, "--http-listen", httpListen, users);
    listener(b, "socks5", ListenerConfig.Type.SOCKS, "--socks5-listen", socks5Listen, users);
    listener(b, "mixed", ListenerConfig.Type.MIXED, "--mixed-listen", mixedListen, users);
    listener(b, "tproxy", ListenerConfig.Type.TPROXY, "--tproxy-listen", tproxyListen, List.of());
    listener(b, "redirect", ListenerConfig.Type.REDIRECT, "--redirect-listen", redirectListen, List.of());
    if (b.build().listeners().isEmpty()) {
      throw CliException.usage("no listener (expected at least one of --http-listen, --socks5-listen, --mixed-listen,"
          + " --tproxy-listen, --redirect-listen)");
    }
    if (tproxyUdp && (tproxyListen == null || tproxyListen.isBlank())) {
      throw CliException.usage("--tproxy-udp needs --tproxy-listen");
    }
    if (socks5Udp && b.build().listeners().stream().noneMatch(l -> l.udp() && l.type() != ListenerConfig.Type.TPROXY)) {
      throw CliException.usage("--socks5-udp needs --socks5-listen or --mixed-listen");
    }
    upstream().ifPresent(o -> {
      if (tproxyUdp && !TransparentUdpRelay.carriesUdp(o.toOutbound())) {
        throw CliException.usage("--tproxy-udp with --upstream needs one socks5:// upstream (datagrams go direct or"
            + " through SOCKS5 UDP ASSOCIATE)");
      }
      if (socks5Udp) {
        // every datagram would be routed to the upstream and dropped: UDP goes direct only
        throw CliException.usage("--socks5-udp cannot be combined with an upstream proxy (datagrams go direct only)");
      }
      b.outbound(o);
      b.defaultDecision(RouteDecision.via(o.name()));
    });
    try {
      b.timeouts(Timeouts.builder().dial(dialTimeout).negotiation(negotiationTimeout).httpIdle(httpIdleTimeout)
          .httpResponseHead(httpResponseTimeout).relayIdle(relayIdleTimeout).drain(drainTimeout).build());
    } catch (IllegalArgumentException e) {
      throw CliException.usage("timeout " + e.getMessage());
    }
    b.tcpKeepAlive(tcpKeepAlive);
    b.splice(splice);
    try {
      b.overload(dev.conduit.core.overload.OverloadPolicy.builder().memoryBudget(Converters.bytes(memoryBudget))
          .fileBudget(fdBudget).build());
    } catch (IllegalArgumentException | picocli.CommandLine.TypeConversionException e) {
      throw CliException.usage("--memory-budget/--fd-budget: " + e.getMessage());
    }
    if (adminListen != null) {
      try {
        dev.conduit.core.admin.AdminServer.builder().bind(adminListen);
      } catch (IllegalArgumentException e) {
        throw CliException.usage("--admin-listen: " + e.getMessage());
      }
      b.admin(dev.conduit.cli.config.AdminConfig.of(adminListen));
    }
    try {
      b.log(logOptions.apply(b.log()));
    } catch (IllegalArgumentException e) {
      throw CliException.usage(e.getMessage());
    }
    return b.build();
  }

  /** The flag's value with its ${file:...} and ${env:...} references resolved. */
  private static String resolve(String flag, String value) {
    try {
      return dev.conduit.cli.config.ConfigValues.of(System.getenv()).resolve(value);
    } catch (IllegalArgumentException e) {
      throw CliException.usage(flag + ": " + e.getMessage());
    }
  }

  /**
   * {@code user:password}; the message shows what the user typed (null: nothing, the text came from a
   * file and may be a secret), never a password.
   */
  private static Credentials user(String where, String typed, String resolved) {
    int colon = resolved.indexOf(':');
    if (colon <= 0) {
      throw CliException.usage(where + ": " + (typed == null ? "" : "'" + typed.replaceAll(":.*", ":****") + "' ")
          + "(expected: user:password)");
    }
    try {
      return new Credentials(resolved.substring(0, colon), resolved.substring(colon + 1));
    } catch (IllegalArgumentException e) {
      throw CliException.usage(where + ": " + e.getMessage());
    }
  }

  /** The users of a {@code --proxy-user-file}: one {@code user:password} a line; blank lines and # comments skipped. */
  private static List<Credentials> usersFrom(java.nio.file.Path file) {
    List<String> lines;
    try {
      if (java.nio.file.Files.size(file) > 1 << 20) {
        throw CliException.usage("--proxy-user-file: " + file + ": larger than 1 MiB (expected: user:password lines)");
      }
      lines = java.nio.file.Files.readAllLines(file, java.nio.charset.StandardCharsets.UTF_8);
    } catch (java.nio.file.NoSuchFileException e) {
      throw CliException.usage("--proxy-user-file: " + file + ": no such file");
    } catch (java.io.IOException e) {
      throw CliException.usage("--proxy-user-file: " + file + ": cannot read: " + e.getMessage());
    }
    List<Credentials> users = new ArrayList<>();
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i).strip();
      if (!line.isEmpty() && !line.startsWith("#")) {
        users.add(user("--proxy-user-file: " + file + ":" + (i + 1), null, line));
      }
    }
    if (users.isEmpty()) {
      throw CliException.usage("--proxy-user-file: " + file + ": no user (expected: user:password lines)");
    }
    return users;
  }

  private void listener(ConduitConfig.Builder b, String name, ListenerConfig.Type type, String flag,
      String listen, List<Credentials> users) {
    if (listen == null || listen.isBlank()) {
      return; // seed 001: an empty value disables the listener
    }
    boolean udp = socks5Udp && (type == ListenerConfig.Type.SOCKS || type == ListenerConfig.Type.MIXED)
        || tproxyUdp && type == ListenerConfig.Type.TPROXY;
    ListenerConfig l = new ListenerConfig(name, type, listen, users, List.of(), udp);
    try {
      l.toListener();
    } catch (IllegalArgumentException e) {
      throw CliException.usage(flag + ": " + e.getMessage());
    }
    b.listener(l);
  }

  private Optional<OutboundConfig> upstream() {
    if (!upstreams.isEmpty()) {
      if (upstreamMode != null || upstreamAddr != null) {
        throw CliException.usage("--upstream cannot be combined with --upstream-mode/--upstream-addr"
            + " (expected: one or the other)");
      }
      if (upstreams.size() == 1 && upstreams.get(0).matches("(?i)direct(://)?")) {
        return Optional.empty();
      }
      List<HopConfig> hops = new ArrayList<>();
      io.netty.handler.ssl.SslContext trust = upstreamCa == null ? null : upstreamTrust();
      for (String url : upstreams) {
        Hop hop;
        try {
          hop = Hop.parse(resolve("--upstream", url));
        } catch (IllegalArgumentException e) {
          throw CliException.usage("--upstream: " + e.getMessage());
        }
        if (trust != null && hop.tls()) {
          hops.add(new HopConfig(withTrust(hop, trust), Optional.of(upstreamCa.toString())));
        } else {
          hops.add(new HopConfig(hop, Optional.empty()));
        }
      }
      if (trust != null && hops.stream().noneMatch(h -> h.hop().tls())) {
        throw CliException.usage("--upstream-ca: no https:// --upstream to trust it for");
      }
      return Optional.of(new OutboundConfig(UPSTREAM, hops));
    }
    if (upstreamCa != null) {
      throw CliException.usage("--upstream-ca: no https:// --upstream to trust it for");
    }
    String mode = upstreamMode == null ? "direct" : upstreamMode.toLowerCase(Locale.ROOT);
    Hop.Protocol protocol;
    switch (mode) {
      case "direct" -> {
        if (upstreamAddr != null) {
          throw CliException.usage("--upstream-addr needs --upstream-mode http or socks5");
        }
        return Optional.empty();
      }
      case "http" -> protocol = Hop.Protocol.HTTP;
      case "socks5" -> protocol = Hop.Protocol.SOCKS5;
      default -> throw CliException.usage("--upstream-mode: '" + upstreamMode + "' (expected: direct, http or socks5)");
    }
    if (upstreamAddr == null || upstreamAddr.isBlank()) {
      throw CliException.usage("--upstream-mode " + mode + " needs --upstream-addr IP:PORT");
    }
    Destination endpoint;
    try {
      endpoint = Destination.parse(upstreamAddr, -1);
    } catch (IllegalArgumentException e) {
      throw CliException.usage("--upstream-addr: " + e.getMessage());
    }
    Hop hop = Hop.builder(protocol).endpoint(endpoint).build();
    return Optional.of(new OutboundConfig(UPSTREAM, List.of(new HopConfig(hop, Optional.empty()))));
  }

  /** The client TLS context that trusts only the CAs of {@code --upstream-ca}. */
  private io.netty.handler.ssl.SslContext upstreamTrust() {
    if (!java.nio.file.Files.isReadable(upstreamCa)) {
      throw CliException.usage("--upstream-ca: " + upstreamCa + " (expected: a readable PEM file of CA certificates)");
    }
    try {
      return io.netty.handler.ssl.SslContextBuilder.forClient().trustManager(upstreamCa.toFile()).build();
    } catch (javax.net.ssl.SSLException | IllegalArgumentException e) {
      Throwable root = e;
      while (root.getCause() != null) {
        root = root.getCause();
      }
      throw CliException.usage("--upstream-ca: cannot use CA file " + upstreamCa + ": " + root.getMessage());
    }
  }

  /** The same https:// hop, with its TLS verified against the given trust. */
  private static Hop withTrust(Hop hop, io.netty.handler.ssl.SslContext trust) {
    Hop.Builder b = Hop.builder(hop.protocol()).sslContext(trust).forwardClientAddress(hop.forwardClientAddress());
    hop.endpoints().forEach(b::endpoint);
    hop.credentials().ifPresent(b::credentials);
    hop.tlsServerName().ifPresent(b::tlsServerName);
    return b.build();
  }
}
