package dev.conduit.core.internal.transport;

import io.netty.util.Version;
import java.io.IOException;
import java.io.InputStream;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The start-up check of the Netty on the class path. conduit needs Netty 4.2 (its event loops are 4.2's
 * {@code MultiThreadIoEventLoopGroup}); an application whose dependency management pins Netty 4.1 (Spring
 * Boot 3's BOM does) would otherwise fail later with a bare {@code NoClassDefFoundError}. This class uses
 * only API that 4.1 has too, so it runs before anything 4.2-only is touched.
 */
public final class NettyVersions {

  private static final Logger log = LoggerFactory.getLogger(NettyVersions.class);

  /** The Netty line conduit needs, major.minor. */
  static final String REQUIRED_LINE = "4.2";

  private static volatile boolean checked;

  private NettyVersions() {}

  /**
   * Fails when a Netty artifact on the class path is older than 4.2, naming the versions found and the
   * one conduit was built with; warns (once) when Netty's artifacts have different 4.2 versions.
   *
   * @throws IllegalStateException for Netty older than 4.2
   */
  public static void requireCompatible() {
    if (checked) {
      return;
    }
    Map<String, Version> found = Version.identify(NettyVersions.class.getClassLoader());
    Optional<String> error = incompatibility(found, builtWith());
    if (error.isPresent()) {
      throw new IllegalStateException(error.get());
    }
    mismatch(found).ifPresent(log::warn);
    checked = true;
  }

  /** The Netty version this build of conduit was compiled and tested with. */
  public static String builtWith() {
    Properties p = new Properties();
    try (InputStream in = NettyVersions.class.getResourceAsStream("netty.properties")) {
      if (in != null) {
        p.load(in);
      }
    } catch (IOException e) {
      // unknown: the message says 4.2.x
    }
    String v = p.getProperty("netty.version", "");
    return v.startsWith("$") || v.isEmpty() ? REQUIRED_LINE + ".x" : v;
  }

  /**
   * The error for these Netty artifacts, if one is older than 4.2.
   *
   * @param found what {@link Version#identify()} reports (artifact id to version)
   * @param builtWith the version conduit was built with, for the message
   * @return the one-paragraph error, or empty when every artifact is 4.2 or newer (or none is known)
   */
  static Optional<String> incompatibility(Map<String, Version> found, String builtWith) {
    Map<String, String> old = new TreeMap<>();
    netty(found).forEach((artifact, version) -> {
      if (olderThanRequired(version)) {
        old.put(artifact, version);
      }
    });
    if (old.isEmpty()) {
      return Optional.empty();
    }
    StringBuilder s = new StringBuilder("conduit needs Netty ").append(REQUIRED_LINE)
        .append(" (built with ").append(builtWith).append("), but the class path has");
    old.forEach((artifact, version) -> s.append(' ').append(artifact).append(' ').append(version).append(','));
    s.setLength(s.length() - 1);
    s.append(". Manage Netty's version to ").append(builtWith)
        .append(": with Spring Boot set the property netty.version=").append(builtWith)
        .append(" (Maven and Gradle), or import io.netty:netty-bom:").append(builtWith)
        .append(" (or dev.conduit:conduit-bom) before Spring Boot's BOM.");
    return Optional.of(s.toString());
  }

  /** A warning when Netty's own artifacts are of different versions (e.g. one pinned, the rest managed). */
  static Optional<String> mismatch(Map<String, Version> found) {
    Map<String, String> netty = netty(found);
    if (netty.values().stream().distinct().count() <= 1) {
      return Optional.empty();
    }
    return Optional.of("Netty's artifacts have different versions (expected: one): " + netty
        + "; manage them with io.netty:netty-bom or dev.conduit:conduit-bom");
  }

  /** Netty's own 4.x artifacts; tcnative and the incubator have versions of their own. */
  private static Map<String, String> netty(Map<String, Version> found) {
    Map<String, String> out = new TreeMap<>();
    found.forEach((artifact, v) -> {
      if (!artifact.startsWith("netty-tcnative") && !artifact.startsWith("netty-incubator")
          && v.artifactVersion().startsWith("4.")) {
        out.put(artifact, v.artifactVersion());
      }
    });
    return out;
  }

  private static boolean olderThanRequired(String version) {
    String[] parts = version.split("\\.");
    String[] required = REQUIRED_LINE.split("\\.");
    for (int i = 0; i < required.length; i++) {
      int have;
      try {
        have = i < parts.length ? Integer.parseInt(parts[i]) : 0;
      } catch (NumberFormatException e) {
        return false; // not a version we can read: no claim
      }
      int need = Integer.parseInt(required[i]);
      if (have != need) {
        return have < need;
      }
    }
    return false;
  }
}
