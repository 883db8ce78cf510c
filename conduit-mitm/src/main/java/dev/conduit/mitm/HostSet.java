package dev.conduit.mitm;

import java.net.IDN;
import java.util.Locale;
import java.util.Set;

/** Exact hosts and domain suffixes matched at label boundaries: quay.io does not match evilquay.io. */
record HostSet(boolean all, Set<String> exact, Set<String> suffixes) {

  static String normalise(String host) {
    String h = host.trim().toLowerCase(Locale.ROOT);
    if (h.startsWith("[") && h.endsWith("]")) {
      h = h.substring(1, h.length() - 1);
    }
    while (h.endsWith(".")) {
      h = h.substring(0, h.length() - 1);
    }
    if (h.isEmpty()) {
      throw new IllegalArgumentException("host: empty");
    }
    return h.indexOf(':') >= 0 ? h : IDN.toASCII(h, IDN.ALLOW_UNASSIGNED).toLowerCase(Locale.ROOT);
  }

  boolean contains(String host) {
    if (all) {
      return true;
    }
    String h;
    try {
      h = normalise(host);
    } catch (IllegalArgumentException e) {
      return false;
    }
    if (exact.contains(h)) {
      return true;
    }
    // walk the label boundaries: a.b.quay.io -> b.quay.io -> quay.io -> io
    for (int dot = -1; ; ) {
      if (suffixes.contains(h.substring(dot + 1))) {
        return true;
      }
      dot = h.indexOf('.', dot + 1);
      if (dot < 0) {
        return false;
      }
    }
  }
}
