package dev.conduit.core.egress;

import static java.util.Objects.requireNonNull;

import java.util.List;
import java.util.TreeSet;

/**
 * A request to add an allowlist entry, before validation.
 *
 * @param value the value as given (a domain, {@code *.suffix}, an address or a CIDR)
 * @param ports destination ports (empty: all)
 * @param nonDeletable whether the entry may never be deleted
 * @param comment a note (may be empty)
 */
public record NewEntry(String value, List<Integer> ports, boolean nonDeletable, String comment) {

  /** The most ports one entry may list. */
  public static final int MAX_PORTS = 32;
  /** The longest comment, in characters. */
  public static final int MAX_COMMENT = 500;

  /** Checks and copies the components. */
  public NewEntry {
    requireNonNull(value, "value");
    ports = List.copyOf(ports);
    requireNonNull(comment, "comment");
  }

  /** Returns an entry for {@code value} on every port, deletable, without a comment. */
  public static NewEntry of(String value) {
    return new NewEntry(value, List.of(), false, "");
  }

  /**
   * Returns the ports sorted and without duplicates.
   *
   * @throws EgressException when a port is out of range or there are too many
   */
  public List<Integer> checkedPorts() {
    if (ports.size() > MAX_PORTS) {
      throw new EgressException(EgressException.Kind.INVALID, "ports: " + ports.size() + " ports (expected: at most "
          + MAX_PORTS + ")");
    }
    TreeSet<Integer> sorted = new TreeSet<>();
    for (int port : ports) {
      if (port < 1 || port > 65535) {
        throw new EgressException(EgressException.Kind.INVALID, "ports: " + port + " (expected: 1-65535)");
      }
      sorted.add(port);
    }
    return List.copyOf(sorted);
  }

  /**
   * Returns the comment, checked.
   *
   * @throws EgressException when it is too long or holds control characters
   */
  public String checkedComment() {
    if (comment.length() > MAX_COMMENT) {
      throw new EgressException(EgressException.Kind.INVALID, "comment: " + comment.length()
          + " characters (expected: at most " + MAX_COMMENT + ")");
    }
    if (comment.chars().anyMatch(c -> c < ' ' || c == 0x7f)) {
      throw new EgressException(EgressException.Kind.INVALID, "comment: contains control characters");
    }
    return comment;
  }
}
