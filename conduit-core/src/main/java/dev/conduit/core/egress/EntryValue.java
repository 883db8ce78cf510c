package dev.conduit.core.egress;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.net.AddressClassification;
import dev.conduit.core.net.AddressClassifier;
import dev.conduit.core.net.IpAddress;
import dev.conduit.core.net.IpPrefix;
import dev.conduit.core.net.IpPrefixSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * The value of an allowlist entry, validated and in its canonical spelling: a domain (lower case, no trailing dot,
 * international names in punycode), a {@code *.suffix} wildcard, an address or a prefix.
 *
 * <p>Private and special-purpose space is refused unless it lies in the explicitly allowed space, and so are the
 * spellings that hide it from a naive check: {@code 127.1}, {@code 0x7f.1}, {@code 2130706433} and the like (which
 * {@code inet_aton} would read as an address) and IPv6 forms carrying an IPv4 address, such as
 * {@code ::ffff:127.0.0.1}. Names that only resolve to such space are refused when they are resolved.
 *
 * @param kind what the value names
 * @param text the canonical spelling
 */
public record EntryValue(EntryKind kind, String text) {

  /** The longest value accepted, in characters (a DNS name is at most 253). */
  public static final int MAX_LENGTH = 253;

  private static final Pattern LABEL = Pattern.compile("[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?");
  private static final Pattern LEGACY_NUMBER = Pattern.compile("0[xX][0-9a-fA-F]*|0[0-7]*|[1-9][0-9]*");
  private static final List<String> SPECIAL_USE_DOMAINS = List.of("localhost", "local", "internal", "invalid",
      "home.arpa", "in-addr.arpa", "ip6.arpa", "onion", "lan", "intranet", "corp", "home");
  private static final String EXPECTED = "expected: a domain such as api.example.com, a wildcard such as"
      + " *.example.com, or an IPv4 or IPv6 address or CIDR";

  /** Checks the components. */
  public EntryValue {
    requireNonNull(kind, "kind");
    requireNonNull(text, "text");
  }

  /**
   * Parses and validates an entry's value.
   *
   * @param raw the value as given
   * @param allowedSpecial special-purpose space the operator allows (e.g. a test network)
   * @return the value
   * @throws EgressException ({@link EgressException.Kind#INVALID}) with a one-line reason
   */
  public static EntryValue parse(String raw, IpPrefixSet allowedSpecial) {
    requireNonNull(allowedSpecial, "allowedSpecial");
    if (raw == null || raw.isBlank()) {
      throw invalid("value: empty (" + EXPECTED + ")");
    }
    String value = raw.trim();
    if (value.length() > MAX_LENGTH + 1) {
      throw invalid("value: " + value.substring(0, 40) + "... (" + value.length() + " characters; expected: at most "
          + MAX_LENGTH + ")");
    }
    if (value.chars().anyMatch(c -> c <= ' ' || c == 0x7f)) {
      throw invalid("value: " + printable(value) + " contains spaces or control characters (" + EXPECTED + ")");
    }
    if (value.indexOf(':') >= 0 || value.indexOf('/') >= 0 || IpAddress.isLiteral(value)) {
      return address(value, allowedSpecial);
    }
    Optional<IpAddress> legacy = legacyIpv4(value);
    if (legacy.isPresent()) {
      IpAddress a = legacy.get();
      String problem = nonPublic(a, allowedSpecial).map(p -> "; " + p).orElse("");
      throw invalid(value + ": a non-canonical spelling of IPv4 address " + a + problem
          + " (expected: the dotted quad " + a + ")");
    }
    if (value.startsWith("*.")) {
      String suffix = value.substring(2);
      if (suffix.replaceAll("\\.+$", "").indexOf('.') < 0) {
        throw invalid(value + ": a wildcard over a whole top-level domain (expected: *.example.com)");
      }
      return new EntryValue(EntryKind.WILDCARD, "*." + domain(suffix, value));
    }
    return new EntryValue(EntryKind.DOMAIN, domain(value, value));
  }

  /** Returns the prefix of an {@link EntryKind#ADDRESS} or {@link EntryKind#PREFIX} value. */
  public Optional<IpPrefix> prefix() {
    return kind == EntryKind.ADDRESS || kind == EntryKind.PREFIX ? Optional.of(IpPrefix.parse(text)) : Optional.empty();
  }

  /**
   * Returns why an address may not be allowlisted, if it may not: e.g.
   * {@code 10.0.0.1: private address space (10.0.0.0/8) is not allowed}.
   *
   * @param address the address (given, or resolved from a name)
   * @param allowedSpecial special-purpose space the operator allows
   * @return the reason, or empty when the address is public or allowed
   */
  public static Optional<String> nonPublic(IpAddress address, IpPrefixSet allowedSpecial) {
    requireNonNull(address, "address");
    AddressClassification c = AddressClassifier.classify(address);
    if (c.isPublic() || allowedSpecial.contains(address)) {
      return Optional.empty();
    }
    IpAddress decisive = c.embeddedIpv4().filter(v4 -> !AddressClassifier.isPublic(v4)).orElse(address);
    if (decisive != address && allowedSpecial.contains(decisive)) {
      return Optional.empty();
    }
    String block = AddressClassifier.publicSpace().complement().prefixes().stream()
        .filter(p -> p.contains(decisive)).findFirst().map(IpPrefix::toString).orElse(decisive.toString());
    String carried = decisive == address ? "" : ", carried as " + c.embedding().map(Object::toString)
        .orElse("IPv6").toLowerCase(Locale.ROOT).replace('_', '-') + " " + decisive;
    return Optional.of(address + ": " + c.category().name().toLowerCase(Locale.ROOT).replace('_', ' ')
        + " address space (" + block + carried + ") is not allowed");
  }

  private static EntryValue address(String value, IpPrefixSet allowedSpecial) {
    IpPrefix prefix;
    try {
      prefix = IpPrefix.parse(value);
    } catch (IllegalArgumentException e) {
      throw invalid(value + ": " + e.getMessage());
    }
    boolean single = prefix.length() == prefix.address().bits();
    if (single) {
      nonPublic(prefix.address(), allowedSpecial).ifPresent(p -> {
        throw invalid(p);
      });
      return new EntryValue(EntryKind.ADDRESS, prefix.address().toString());
    }
    if (!AddressClassifier.isPublic(prefix) && !allowedSpecial.containsAll(prefix)
        && !AddressClassifier.publicSpace().union(allowedSpecial).containsAll(prefix)) {
      IpPrefixSet outside = IpPrefixSet.of(List.of(prefix)).subtract(AddressClassifier.publicSpace())
          .subtract(allowedSpecial);
      IpAddress first = outside.prefixes().isEmpty() ? prefix.address() : outside.prefixes().get(0).address();
      String why = nonPublic(first, allowedSpecial).orElse(first + " is not public");
      throw invalid(prefix + ": covers non-public addresses (" + why + ")");
    }
    return new EntryValue(EntryKind.PREFIX, prefix.toString());
  }

  private static String domain(String name, String original) {
    String host = name.toLowerCase(Locale.ROOT);
    while (host.endsWith(".")) {
      host = host.substring(0, host.length() - 1);
    }
    if (!host.chars().allMatch(c -> c < 0x80)) {
      try {
        host = java.net.IDN.toASCII(host, java.net.IDN.USE_STD3_ASCII_RULES);
      } catch (IllegalArgumentException e) {
        throw invalid(original + ": not a valid international domain name (" + EXPECTED + ")");
      }
    }
    if (host.isEmpty() || host.length() > MAX_LENGTH) {
      throw invalid(printable(original) + ": not a domain name (" + EXPECTED + ")");
    }
    String[] labels = host.split("\\.", -1);
    for (String label : labels) {
      if (!LABEL.matcher(label).matches()) {
        throw invalid(printable(original) + ": not a domain name, label '" + printable(label) + "' is invalid ("
            + EXPECTED + ")");
      }
    }
    String last = labels[labels.length - 1];
    if (last.chars().allMatch(Character::isDigit)) {
      throw invalid(original + ": a name whose last label is a number (" + EXPECTED + ")");
    }
    for (String special : SPECIAL_USE_DOMAINS) {
      if (host.equals(special) || host.endsWith("." + special)) {
        throw invalid(original + ": a special-use or internal domain (." + special + ") is not allowed");
      }
    }
    if (labels.length < 2) {
      throw invalid(original + ": a single-label name is resolved through search domains (expected: a fully"
          + " qualified name such as api.example.com)");
    }
    return host;
  }

  /** Reads the forms {@code inet_aton} accepts: 1-4 parts, each decimal, octal (0...) or hex (0x...). */
  static Optional<IpAddress> legacyIpv4(String text) {
    String t = text.endsWith(".") ? text.substring(0, text.length() - 1) : text;
    String[] parts = t.split("\\.", -1);
    if (parts.length > 4) {
      return Optional.empty();
    }
    long[] values = new long[parts.length];
    for (int i = 0; i < parts.length; i++) {
      String p = parts[i];
      if (p.isEmpty() || p.length() > 12 || !LEGACY_NUMBER.matcher(p).matches()) {
        return Optional.empty();
      }
      try {
        if (p.startsWith("0x") || p.startsWith("0X")) {
          values[i] = p.length() == 2 ? 0 : Long.parseLong(p.substring(2), 16);
        } else if (p.startsWith("0") && p.length() > 1) {
          values[i] = Long.parseLong(p.substring(1), 8);
        } else {
          values[i] = Long.parseLong(p);
        }
      } catch (NumberFormatException e) {
        return Optional.empty();
      }
    }
    long v = 0;
    int n = values.length;
    for (int i = 0; i < n - 1; i++) {
      if (values[i] > 255) {
        return Optional.empty();
      }
      v |= values[i] << (8 * (3 - i));
    }
    long lastMax = (1L << (8 * (5 - n))) - 1;
    if (values[n - 1] > lastMax) {
      return Optional.empty();
    }
    v |= values[n - 1];
    byte[] b = {(byte) (v >>> 24), (byte) (v >>> 16), (byte) (v >>> 8), (byte) v};
    return Optional.of(IpAddress.ofBytes(b));
  }

  private static String printable(String s) {
    StringBuilder out = new StringBuilder();
    s.codePoints().limit(80).forEach(c -> {
      if (c < ' ' || c == 0x7f) {
        out.append(String.format("\\x%02x", c));
      } else {
        out.appendCodePoint(c);
      }
    });
    return out.toString();
  }

  private static EgressException invalid(String message) {
    return new EgressException(EgressException.Kind.INVALID, message);
  }
}
