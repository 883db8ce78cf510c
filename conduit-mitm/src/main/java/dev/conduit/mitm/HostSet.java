package dev.conduit.mitm;

import dev.conduit.core.net.HostName;
import java.util.Set;

/** Exact hosts and domain suffixes matched at label boundaries: quay.io does not match evilquay.io. */
record HostSet(boolean all, Set<String> exact, Set<String> suffixes) {

  /** The one canonical spelling routing rules use too ({@link HostName#normalize}); empty is refused. */
  static String normalise(String host) {
    String h = HostName.normalize(host);
    if (h.isEmpty()) {
      throw new IllegalArgumentException("host: empty");
    }
    return h;
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
