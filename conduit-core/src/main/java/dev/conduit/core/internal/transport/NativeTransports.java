package dev.conduit.core.internal.transport;

import io.netty.channel.epoll.Epoll;
import java.util.Locale;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Why epoll is off, said once and loudly, with the fix. On the module path Netty's native epoll module
 * ({@code io.netty.transport.epoll.linux.x86_64}) is required by no module, so the JVM does not resolve
 * it unless told to, and Netty falls back to NIO: splice and transparent capture then do not work.
 */
public final class NativeTransports {

  private static final Logger log = LoggerFactory.getLogger(NativeTransports.class);
  private static volatile boolean warned;

  private NativeTransports() {}

  /** Warns (once per JVM) when epoll was wanted on Linux and is unavailable, naming the cause and the fix. */
  public static void warnIfEpollUnavailable() {
    if (warned || Epoll.isAvailable()) {
      return;
    }
    Optional<String> message = epollUnavailable(System.getProperty("os.name", ""), System.getProperty("os.arch", ""),
        NativeTransports.class.getModule().isNamed(), Epoll.unavailabilityCause());
    message.ifPresent(log::warn);
    warned = true;
  }

  /**
   * The warning for these circumstances, if any.
   *
   * @param osName {@code os.name}
   * @param osArch {@code os.arch}
   * @param modulePath whether conduit runs as a named module
   * @param cause why Netty says epoll is unavailable
   * @return the one-line warning, or empty off Linux (where NIO is expected)
   */
  static Optional<String> epollUnavailable(String osName, String osArch, boolean modulePath, Throwable cause) {
    if (!osName.toLowerCase(Locale.ROOT).startsWith("linux")) {
      return Optional.empty();
    }
    String arch = switch (osArch) {
      case "amd64", "x86_64" -> "x86_64";
      case "aarch64", "arm64" -> "aarch_64";
      default -> osArch;
    };
    String nativeModule = "io.netty.transport.epoll.linux." + arch;
    StringBuilder s = new StringBuilder("epoll is off, so splice and transparent capture are unavailable (NIO instead): ")
        .append(cause == null ? "unknown cause" : firstLine(cause));
    if (modulePath) {
      s.append("; on the module path no module requires Netty's native module: add the JVM option --add-modules ")
          .append(nativeModule).append(" (and its jar, netty-transport-native-epoll-*-linux-").append(arch)
          .append(".jar, to the module path)");
    } else {
      s.append("; add io.netty:netty-transport-native-epoll with the classifier linux-").append(arch)
          .append(" to the class path");
    }
    return Optional.of(s.toString());
  }

  private static String firstLine(Throwable t) {
    Throwable root = t;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    String m = root.toString();
    return m.lines().findFirst().orElse(m);
  }
}
