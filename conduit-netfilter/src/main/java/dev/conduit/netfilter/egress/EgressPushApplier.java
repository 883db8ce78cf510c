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
  private final Optional<EgressL7Check> l7Check;
  private volatile List<String> warnedWildcards = List.of();

  /**
   * Creates the applier.
   *
   * @param gateway the gateway to update
   * @param allowedSpecial special-purpose space that may be allowlisted
   * @param stateFile where the allowlist in force is kept, if anywhere
   */
  public EgressPushApplier(EgressGateway gateway, IpPrefixSet allowedSpecial,
      Optional<EgressStateFile> stateFile) {
    this(gateway, allowedSpecial, stateFile, Optional.empty());
  }

  /**
   * Creates the applier for a gateway with an L7 check, which gets the pushed names ({@link NameAllowlist})
   * with each accepted state. Without one, a state holding {@code *.suffix} wildcards is enforced without them
   * (they name no addresses) and the gateway logs a warning naming them.
   *
   * @param gateway the gateway to update
   * @param allowedSpecial special-purpose space that may be allowlisted
   * @param stateFile where the allowlist in force is kept, if anywhere
   * @param l7Check the gateway's L7 check, if on
   */
  public EgressPushApplier(EgressGateway gateway, IpPrefixSet allowedSpecial,
      Optional<EgressStateFile> stateFile, Optional<EgressL7Check> l7Check) {
    this.gateway = requireNonNull(gateway, "gateway");
    this.allowedSpecial = requireNonNull(allowedSpecial, "allowedSpecial");
    this.stateFile = requireNonNull(stateFile, "stateFile");
    this.l7Check = requireNonNull(l7Check, "l7Check");
  }

  /**
   * Returns the allowlist a pushed state describes: its address and prefix keys ({@code *.suffix} wildcard
   * keys name no addresses and are left to {@link NameAllowlist#fromPushedState}).
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
      if (NameAllowlist.isWildcard(entry)) {
        return; // names, enforced by the L7 check
      }
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
    NameAllowlist names = NameAllowlist.fromPushedState(update.state().resources());
    gateway.update(next);
    if (l7Check.isPresent()) {
      l7Check.get().update(names);
      if (stateFile.isPresent()) {
        try {
          stateFile.get().saveNames(names);
        } catch (IOException e) {
          log.warn("egress names version {} are enforced but not kept in {}: {}", update.state().version(),
              stateFile.get().namesPath(), e.getMessage());
        }
      }
    } else if (!names.wildcards().isEmpty() && !names.wildcards().equals(warnedWildcards)) {
      log.warn("egress allowlist version {}: wildcard entries {} are not enforced by this gateway: without the L7"
          + " check (--l7-check) a wildcard allows no address", update.state().version(), names.wildcards());
    }
    warnedWildcards = names.wildcards();
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
