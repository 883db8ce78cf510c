package dev.conduit.core.mesh;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.databind.JsonNode;
import dev.conduit.core.control.push.PushState;
import dev.conduit.core.pki.PeerDenyList;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The deny list a {@link MembershipState} carries: the identities of revoked nodes ({@code denied/<name>}) and the
 * serials of revoked certificates not yet expired ({@code revoked/<serial>}). A node feeds every membership it
 * applies into its {@link PeerDenyList} ({@link #applyTo}), so its tunnel server and client refuse a revoked node
 * at once, whatever its certificate's remaining lifetime, and close the tunnels it has open.
 *
 * @param identities the denied peer identities ({@code spiffe://<trust-domain>/node/<name>})
 * @param serials the revoked certificate serials, lower-case hexadecimal
 */
public record MembershipDenials(Set<String> identities, Set<String> serials) {

  /** Copies the sets. */
  public MembershipDenials {
    identities = Set.copyOf(requireNonNull(identities, "identities"));
    serials = Set.copyOf(requireNonNull(serials, "serials"));
  }

  /**
   * Reads the deny list of a membership state; entries without their field ({@code identity}, {@code serial}) are
   * skipped.
   */
  public static MembershipDenials of(PushState state) {
    requireNonNull(state, "state");
    Set<String> identities = new TreeSet<>();
    Set<String> serials = new TreeSet<>();
    for (Map.Entry<String, JsonNode> e : state.resources().entrySet()) {
      if (e.getKey().startsWith("denied/")) {
        text(e.getValue(), "identity", identities);
      } else if (e.getKey().startsWith("revoked/")) {
        text(e.getValue(), "serial", serials);
      }
    }
    return new MembershipDenials(identities, serials);
  }

  private static void text(JsonNode value, String field, Set<String> into) {
    JsonNode v = value.get(field);
    if (v != null && v.isTextual() && !v.asText().isBlank()) {
      into.add(v.asText());
    }
  }

  /**
   * Makes {@code list} deny exactly these identities and serials (closing the open connections of newly denied
   * peers). A serial that is not hexadecimal is skipped.
   *
   * @return the number of connections closed
   */
  public int applyTo(PeerDenyList list) {
    requireNonNull(list, "list");
    Set<String> valid = new TreeSet<>();
    for (String s : serials) {
      if (s.matches("[0-9a-fA-F]{1,64}")) {
        valid.add(s);
      }
    }
    return list.replace(valid, identities);
  }
}
