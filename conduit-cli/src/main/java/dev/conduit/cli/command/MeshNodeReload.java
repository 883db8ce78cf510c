package dev.conduit.cli.command;

import static java.util.Objects.requireNonNull;

import dev.conduit.cli.config.ConduitConfig;
import dev.conduit.cli.config.LogConfig;
import dev.conduit.cli.config.MeshClientSection;
import dev.conduit.cli.config.MeshNodeConfig;
import dev.conduit.cli.config.MeshServerSection;
import dev.conduit.cli.logging.Logging;
import dev.conduit.core.mesh.MeshTunnels;
import dev.conduit.core.runtime.ConfigSections;
import dev.conduit.core.runtime.ReloadOutcome;
import dev.conduit.netfilter.mesh.InboundEnforcementConfig;
import dev.conduit.netfilter.mesh.InboundEnforcementService;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A mesh member's reload (SIGHUP): applies what can change while it runs, namely the tunnels' client options
 * ({@code client.check_time}, {@code client.multiplex}), the ports of {@code server.enforce} and {@code log.level},
 * and reports what needs a restart (the {@code manager} section, the listeners, capture, timeouts, the rest of
 * {@code log}, {@code admin}, {@code dns}), whose running settings stay.
 */
final class MeshNodeReload {
  private static final Logger log = LoggerFactory.getLogger("conduit");

  private final MeshTunnels tunnels;
  private final Optional<InboundEnforcementService> enforcement;
  private final ConduitConfig started; // what needs a restart runs as it started
  private List<List<String>> enforced;
  private String level;

  MeshNodeReload(ConduitConfig config, MeshTunnels tunnels, Optional<InboundEnforcementService> enforcement) {
    this.started = requireNonNull(config, "config");
    this.tunnels = requireNonNull(tunnels, "tunnels");
    this.enforcement = requireNonNull(enforcement, "enforcement");
    this.enforced = enforcePorts(config);
    this.level = config.log().level();
  }

  /** The tunnels' client options of {@code config} ({@code check_time} each bounded by the dial timeout). */
  static MeshTunnels.ClientOptions clientOptions(ConduitConfig config, Duration checkTimeout) {
    return config.section(MeshClientSection.SECTION).filter(s -> s.client().enable())
        .map(s -> new MeshTunnels.ClientOptions(Duration.ofSeconds(s.client().checkTime()), checkTimeout,
            s.multiplex()))
        .orElse(MeshTunnels.ClientOptions.DEFAULTS);
  }

  synchronized ReloadOutcome reload(ConfigSections sections) throws Exception {
    ConduitConfig next = sections.get(ProxyRole.CONFIG).orElseThrow(
        () -> new IllegalStateException("no proxy configuration in the reloaded sections"));
    List<String> restart = new ArrayList<>();
    ConduitConfig current = started;
    MeshNodeConfig running = current.meshNode().orElseThrow();
    Optional<MeshNodeConfig> wanted = next.meshNode();
    if (wanted.isEmpty()) {
      restart.add("manager.enable");
    } else {
      restart.addAll(managerChanges(running, wanted.get()));
    }
    restart.addAll(ProxyRoutes.listenerChanges(current, next));
    if (!Objects.equals(current.admin(), next.admin()) || !Objects.equals(current.dns(), next.dns())) {
      restart.add("admin/dns");
    }
    LogConfig logNow = current.log();
    LogConfig logNext = next.log();
    if (!logNow.format().equals(logNext.format()) || !logNow.file().equals(logNext.file())
        || logNow.maxSizeMegabytes() != logNext.maxSizeMegabytes() || logNow.maxBackups() != logNext.maxBackups()
        || !logNow.access().equals(logNext.access())) {
      restart.add("log.format/file/maxsize/access");
    }
    Optional<InboundEnforcementConfig> enforceNext = MeshGuards.enforcementConfig(next);
    boolean enforceChanged = !enforced.equals(enforcePorts(next));
    if (enforceChanged && (enforcement.isEmpty() || enforceNext.isEmpty())) {
      restart.add("server.enforce (added or removed)");
      enforceChanged = false;
    }

    // what applies live, the running settings otherwise
    List<String> applied = new ArrayList<>();
    if (enforceChanged) { // first: when nft fails, nothing is applied
      enforcement.get().enforcement().update(enforceNext.get());
      applied.add("server.enforce " + enforced.get(0) + " -> " + enforcePorts(next).get(0));
      enforced = enforcePorts(next);
    }
    MeshTunnels.ClientOptions before = tunnels.clientOptions();
    MeshTunnels.ClientOptions options = clientOptions(next, before.checkTimeout());
    boolean clientRuns = current.section(MeshClientSection.SECTION).map(c -> c.client().enable()).orElse(false);
    boolean clientStays = next.section(MeshClientSection.SECTION).map(c -> c.client().enable()).orElse(false);
    if (clientRuns && clientStays && !options.equals(before)) {
      tunnels.clientOptions(options); // may refuse (IllegalArgumentException): nothing applied then
      if (!options.checkInterval().equals(before.checkInterval())) {
        applied.add("client.check_time " + before.checkInterval().toSeconds() + " s -> "
            + options.checkInterval().toSeconds() + " s");
      }
      if (options.multiplex() != before.multiplex()) {
        applied.add("client.multiplex " + before.multiplex() + " -> " + options.multiplex());
      }
    }
    if (!level.equals(logNext.level())) {
      Logging.level(logNext.level());
      applied.add("log.level " + level + " -> " + logNext.level());
      level = logNext.level();
    }
    if (restart.isEmpty()) {
      return applied.isEmpty() ? ReloadOutcome.unchanged() : ReloadOutcome.applied(String.join(", ", applied));
    }
    if (!applied.isEmpty()) {
      log.info("mesh-node reloaded: {}", String.join(", ", applied));
    }
    return ReloadOutcome.restartNeeded(String.join(", ", restart));
  }

  /** The names of the {@code manager} keys that differ (each needs a restart: enrolment and push are set up once). */
  private static List<String> managerChanges(MeshNodeConfig a, MeshNodeConfig b) {
    List<String> changed = new ArrayList<>();
    if (!a.network().equals(b.network()) || !a.dial().equals(b.dial())) {
      changed.add("manager.dial.addresses");
    }
    if (!a.name().equals(b.name())) {
      changed.add("manager.name");
    }
    if (!a.token().equals(b.token()) || !a.tokenFile().equals(b.tokenFile())) {
      changed.add("manager.token");
    }
    if (!a.caPin().equals(b.caPin())) {
      changed.add("manager.ca_pin");
    }
    if (!a.stateDirectory().equals(b.stateDirectory())) {
      changed.add("manager.state_dir");
    }
    if (!a.push().equals(b.push())) {
      changed.add("manager.push");
    }
    if (!a.addresses().equals(b.addresses())) {
      changed.add("manager.addresses");
    }
    return changed;
  }

  private static List<List<String>> enforcePorts(ConduitConfig c) {
    return c.section(MeshServerSection.SECTION).filter(s -> s.server().enable())
        .map(s -> List.of(s.enforcePorts(), s.enforceAllowSources())).orElse(List.of(List.of(), List.of()));
  }
}
