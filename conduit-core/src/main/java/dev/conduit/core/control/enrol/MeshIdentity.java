package dev.conduit.core.control.enrol;

import static java.util.Objects.requireNonNull;

import java.util.Optional;
import java.util.regex.Pattern;

/**
 * The identities in a mesh's certificates, as URI subject alternative names under one trust domain:
 * {@code spiffe://<trust-domain>/node/<name>} for nodes, {@code spiffe://<trust-domain>/admin/<name>} for
 * operators, {@code spiffe://<trust-domain>/manager} for the manager.
 *
 * @param trustDomain the trust domain, a lower-case DNS name such as {@code conduit.mesh}
 */
public record MeshIdentity(String trustDomain) {

  /** Default trust domain. */
  public static final String DEFAULT_TRUST_DOMAIN = "conduit.mesh";

  private static final Pattern NAME = Pattern.compile("[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?");
  private static final Pattern DOMAIN = Pattern.compile("[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,61}"
      + "[a-z0-9])?)*");

  /** Checks the trust domain. */
  public MeshIdentity {
    requireNonNull(trustDomain, "trustDomain");
    if (trustDomain.length() > 200 || !DOMAIN.matcher(trustDomain).matches()) {
      throw new IllegalArgumentException("trust domain: '" + trustDomain
          + "' (expected: a lower-case DNS name such as conduit.mesh)");
    }
  }

  /**
   * Checks a node or operator name: a DNS label (1-63 lower-case letters, digits and '-', not at either end).
   *
   * @throws IllegalArgumentException if it is not one
   */
  public static String checkName(String name) {
    requireNonNull(name, "name");
    if (!NAME.matcher(name).matches()) {
      throw new IllegalArgumentException("name: '" + abbreviate(name)
          + "' (expected: 1-63 lower-case letters, digits and '-', such as host-a)");
    }
    return name;
  }

  /** Returns a node's identity URI. */
  public String node(String name) {
    return "spiffe://" + trustDomain + "/node/" + checkName(name);
  }

  /** Returns an operator's identity URI. */
  public String admin(String name) {
    return "spiffe://" + trustDomain + "/admin/" + checkName(name);
  }

  /** Returns the manager's identity URI. */
  public String manager() {
    return "spiffe://" + trustDomain + "/manager";
  }

  /** Returns the node name in a node identity URI of this trust domain, if it is one. */
  public Optional<String> nodeName(String uri) {
    return suffix(uri, "spiffe://" + trustDomain + "/node/");
  }

  /** Returns the operator name in an operator identity URI of this trust domain, if it is one. */
  public Optional<String> adminName(String uri) {
    return suffix(uri, "spiffe://" + trustDomain + "/admin/");
  }

  private static Optional<String> suffix(String uri, String prefix) {
    if (uri == null || !uri.startsWith(prefix)) {
      return Optional.empty();
    }
    String name = uri.substring(prefix.length());
    return NAME.matcher(name).matches() ? Optional.of(name) : Optional.empty();
  }

  static String abbreviate(String text) {
    return text.length() <= 80 ? text : text.substring(0, 80) + "...";
  }
}
