package dev.conduit.core.internal.route;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.net.HostName;
import java.util.HashSet;
import java.util.Set;

/**
 * Exact domains and domain suffixes, matched at label boundaries with one hash probe per label of
 * the queried name.
 */
public final class DomainSet {

  private final Set<String> exact;
  private final Set<String> suffixes;

  private DomainSet(Set<String> exact, Set<String> suffixes) {
    this.exact = Set.copyOf(exact);
    this.suffixes = Set.copyOf(suffixes);
  }

  public static Builder builder() {
    return new Builder();
  }

  public boolean isEmpty() {
    return exact.isEmpty() && suffixes.isEmpty();
  }

  /** Whether {@code host} is one of the exact names or lies under one of the suffixes. */
  public boolean matches(String host) {
    return matchesNormalized(normalize(host));
  }

  /** {@link #matches} for a name already passed through {@link #normalize}. */
  public boolean matchesNormalized(String name) {
    if (exact.contains(name)) {
      return true;
    }
    if (suffixes.isEmpty()) {
      return false;
    }
    int from = 0;
    while (true) {
      if (suffixes.contains(from == 0 ? name : name.substring(from))) {
        return true;
      }
      int dot = name.indexOf('.', from);
      if (dot < 0) {
        return false;
      }
      from = dot + 1;
    }
  }

  /** The one canonical spelling of a host name: {@link HostName#normalize}. */
  public static String normalize(String host) {
    return HostName.normalize(host);
  }

  /** Collects domains. */
  public static final class Builder {
    private final Set<String> exact = new HashSet<>();
    private final Set<String> suffixes = new HashSet<>();

    private Builder() {}

    public Builder addExact(String domain) {
      exact.add(validate(domain));
      return this;
    }

    /** A suffix matches itself and its subdomains; a leading {@code *.} or {@code .} is accepted. */
    public Builder addSuffix(String suffix) {
      requireNonNull(suffix, "suffix");
      String s = suffix.trim();
      if (s.startsWith("*.")) {
        s = s.substring(2);
      } else if (s.startsWith(".")) {
        s = s.substring(1);
      }
      suffixes.add(validate(s));
      return this;
    }

    private static String validate(String domain) {
      requireNonNull(domain, "domain");
      String s = normalize(domain.trim());
      if (s.isEmpty() || s.length() > 253 || s.contains("..") || s.startsWith(".") || s.contains(" ")) {
        throw new IllegalArgumentException("domain: " + domain + " (expected: a DNS name such as example.com)");
      }
      return s;
    }

    public DomainSet build() {
      return new DomainSet(exact, suffixes);
    }
  }
}
