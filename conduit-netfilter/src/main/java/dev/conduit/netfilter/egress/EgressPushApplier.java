package dev.conduit.netfilter.egress;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.databind.JsonNode;
import dev.conduit.core.control.push.PushApplier;
import dev.conduit.core.control.push.PushUpdate;
import dev.conduit.core.net.IpPrefixSet;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Installs the allowlist an egress server pushes ({@link dev.conduit.core.control.push.PushClient}) on an
 * {@link EgressGateway}: each resource key of the pushed state is an allowlist entry (an address or a
 * CIDR), and its value's {@code ports} array the TCP/UDP ports it allows (missing or empty: every port;
 * other fields are ignored, so a value from an older or newer server still reads). The whole state is
 * validated first: one bad entry or port rejects the update (the client reports it to the server and the
 * gateway keeps enforcing what it had). An accepted state is applied as a diff
 * and kept in the state file, so a restarted gateway enforces it before the server answers.
 */
public final class EgressPushApplier implements PushApplier {

  private static final Logger log = LoggerFactory.getLogger(EgressPushApplier.class);

  private final EgressGateway gateway;
  private final IpPrefixSet allowedSpecial;
  private final Optional<EgressStateFile> stateFile;

  /**
   * Creates the applier.
   *
   * @param gateway the gateway to update
   * @param allowedSpecial special-purpose space that may be allowlisted
   * @param stateFile where the allowlist in force is kept, if anywhere
   */
  public EgressPushApplier(EgressGateway gateway, IpPrefixSet allowedSpecial,
      Optional<EgressStateFile> stateFile) {
    this.gateway = requireNonNull(gateway, "gateway");
    this.allowedSpecial = requireNonNull(allowedSpecial, "allowedSpecial");
    this.stateFile = requireNonNull(stateFile, "stateFile");
  }

  /**
   * Returns the allowlist a pushed state describes.
   *
   * @param update the update
   * @param allowedSpecial special-purpose space that may be allowlisted
   * @return the allowlist
   * @throws IllegalArgumentException naming the bad entries
   */
  public static Allowlist allowlist(PushUpdate update, IpPrefixSet allowedSpecial) {
    requireNonNull(update, "update");
    Allowlist.Builder b = Allowlist.builder(allowedSpecial);
    List<String> problems = new ArrayList<>();
    update.state().resources().forEach((entry, value) -> {
      try {
        b.entry(Allowlist.validate(entry, allowedSpecial), ports(entry, value));
      } catch (IllegalArgumentException e) {
        problems.add(e.getMessage());
      }
    });
    if (!problems.isEmpty()) {
      throw new IllegalArgumentException("allowlist version " + update.state().version() + " refused: "
          + String.join("; ", problems.subList(0, Math.min(10, problems.size())))
          + (problems.size() > 10 ? "; and " + (problems.size() - 10) + " more" : ""));
    }
    return b.build();
  }

  private static List<Integer> ports(String entry, JsonNode value) {
    JsonNode ports = value == null ? null : value.get("ports");
    if (ports == null || ports.isNull()) {
      return List.of();
    }
    if (!ports.isArray()) {
      throw new IllegalArgumentException(entry + ": ports: " + shorten(ports.toString())
          + " (expected: an array of port numbers 1-65535)");
    }
    List<Integer> out = new ArrayList<>(ports.size());
    for (JsonNode port : ports) {
      if (!port.isInt() || port.asInt() < 1 || port.asInt() > 65535) {
        throw new IllegalArgumentException(entry + ": ports: " + shorten(port.toString()) + " (expected: 1-65535)");
      }
      out.add(port.asInt());
    }
    return out;
  }

  private static String shorten(String text) {
    return text.length() > 64 ? text.substring(0, 64) + "..." : text;
  }

  @Override
  public String apply(PushUpdate update) throws Exception {
    Allowlist next = allowlist(update, allowedSpecial);
    gateway.update(next);
    if (stateFile.isPresent()) {
      try {
        stateFile.get().save(next);
      } catch (IOException e) {
        // enforced all the same: a restart before the next save falls back to the previous file
        log.warn("egress allowlist version {} is enforced but not kept in {}: {}", update.state().version(),
            stateFile.get().path(), e.getMessage());
      }
    }
    return update.state().hash();
  }

  @Override
  public String toString() {
    return "EgressPushApplier[" + gateway + "]";
  }
}
