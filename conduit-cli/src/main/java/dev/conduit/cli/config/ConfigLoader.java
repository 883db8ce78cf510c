package dev.conduit.cli.config;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.tunnel.MeshPlan;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.snakeyaml.engine.v2.api.LoadSettings;
import org.snakeyaml.engine.v2.api.lowlevel.Compose;
import org.snakeyaml.engine.v2.exceptions.MarkedYamlEngineException;
import org.snakeyaml.engine.v2.exceptions.YamlEngineException;
import org.snakeyaml.engine.v2.nodes.Node;

/**
 * Reads a {@code conduit.yaml} into a {@link ConduitConfig}. The file must start with
 * {@code version: 1}, except a seed 000 file (one with {@code client}, {@code server} or
 * {@code manager} sections), which has no version; every other top-level key is a registered
 * {@link ConfigSection}. Unknown keys
 * and wrong types fail with the file, the line and the expected keys or type. Environment variables
 * override keys ({@code CONDUIT_LOG__LEVEL=debug}) and any value may read a secret from a file
 * ({@code password: ${file:/run/secrets/alice}}); see {@link ConfigValues}.
 *
 * <pre>{@code
 * ConduitConfig config = ConfigLoader.standard().load(Path.of("conduit.yaml"));
 * Conduit conduit = config.toConduitBuilder().build().start();
 * }</pre>
 */
public final class ConfigLoader {

  /** The only configuration format version this build reads. */
  public static final int VERSION = 1;

  private final Map<String, ConfigSection> sections;
  private final Map<String, String> environment;

  private ConfigLoader(Map<String, ConfigSection> sections, Map<String, String> environment) {
    this.sections = sections;
    this.environment = environment;
  }

  /** The sections this build supports, plus the known ones it does not run yet (seed 000's and 004's). */
  public static ConfigLoader standard() {
    Map<String, ConfigSection> m = new LinkedHashMap<>();
    for (ConfigSection s : StandardSections.all()) {
      m.put(s.name(), s);
    }
    return new ConfigLoader(m, System.getenv());
  }

  /**
   * A loader that reads its overriding variables ({@code CONDUIT_LOG__LEVEL=debug}, see the README's
   * configuration section) and {@code ${env:NAME}} references from this environment instead of the
   * process's.
   *
   * @param variables the environment, e.g. {@code Map.of("CONDUIT_LOG__LEVEL", "debug")}
   * @return the loader
   */
  public ConfigLoader withEnvironment(Map<String, String> variables) {
    return new ConfigLoader(sections, Map.copyOf(requireNonNull(variables, "variables")));
  }

  /** A loader with one more section (or one replaced), read after the existing ones. */
  public ConfigLoader withSection(ConfigSection section) {
    requireNonNull(section, "section");
    Map<String, ConfigSection> m = new LinkedHashMap<>(sections);
    m.remove(section.name());
    m.put(section.name(), section);
    return new ConfigLoader(m, environment);
  }

  /** The top-level keys, in reading order. */
  public List<String> sectionNames() {
    return List.copyOf(sections.keySet());
  }

  /**
   * Reads and validates a file.
   *
   * @throws ConfigException for a missing file, bad YAML or a bad value, naming the line
   * @throws IOException when the file cannot be read
   */
  public ConduitConfig load(Path file) throws IOException {
    requireNonNull(file, "file");
    String text;
    try {
      text = Files.readString(file, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      throw new ConfigException(file.toString(), 0, "no such file");
    } catch (java.nio.charset.MalformedInputException e) {
      throw new ConfigException(file.toString(), 0, "not UTF-8 text");
    }
    return load(text, file.toString());
  }

  /**
   * Reads and validates YAML text; {@code name} is the file name used in messages.
   *
   * @throws ConfigException for bad YAML or a bad value, naming the line
   */
  public ConduitConfig load(String yaml, String name) {
    requireNonNull(yaml, "yaml");
    requireNonNull(name, "name");
    Optional<Node> root;
    try {
      root = new Compose(LoadSettings.builder().setLabel(name).build()).composeString(yaml);
    } catch (MarkedYamlEngineException e) {
      int line = e.getProblemMark().map(m -> m.getLine() + 1).orElse(0);
      throw new ConfigException(name, line, "not valid YAML: " + e.getProblem());
    } catch (YamlEngineException e) {
      throw new ConfigException(name, 0, "not valid YAML: " + e.getMessage());
    }
    List<String> topKeys = new ArrayList<>(sections.keySet());
    root = ConfigOverrides.apply(root, environment, topKeys);
    if (root.isEmpty()) {
      throw new ConfigException(name, 0, "empty (expected: version: " + VERSION + " and a listeners section)");
    }
    ConfigNode top = ConfigNode.root(root.get(), name, ConfigValues.of(environment));
    List<String> allowed = new ArrayList<>();
    allowed.add("version");
    allowed.addAll(sections.keySet());
    Map<String, ConfigNode> entries = top.mapping(allowed);
    ConduitConfig.Builder config = ConduitConfig.builder();
    for (Map.Entry<String, ConfigNode> e : entries.entrySet()) {
      ConfigSection section = sections.get(e.getKey());
      if (section != null && !section.supported()) {
        section.read(e.getValue(), config); // throws: say so before any other complaint
      }
    }
    ConfigNode version = entries.get("version");
    boolean seed000 = entries.containsKey("client") || entries.containsKey("server") || entries.containsKey("manager");
    if (version == null && !seed000) {
      throw new ConfigException(name, 1, "missing 'version: " + VERSION + "' (expected as the first line)");
    }
    if (version != null && version.integer(Integer.MIN_VALUE, Integer.MAX_VALUE) != VERSION) {
      throw version.error(version.string() + " (expected: " + VERSION + ", the only version this build reads)");
    }
    for (ConfigSection section : sections.values()) {
      ConfigNode node = entries.get(section.name());
      if (node != null) {
        section.read(node, config);
      }
    }
    if (config.build().listeners().isEmpty() && !config.runsMesh() && config.build().cache().isEmpty()
        && config.section(EgressServerSection.SECTION).isEmpty()) {
      throw new ConfigException(name, entries.containsKey("listeners") ? entries.get("listeners").line() : 0,
          seed000 ? "nothing to run (expected: client.enable: true or server.enable: true)"
              : "no listener (expected: a listeners section with at least one listener, or a cache or egress_server"
                  + " section)");
    }
    ConduitConfig result = config.build();
    if (result.meshNode().isPresent()) {
      checkMeshNode(result, name, entries);
    } else if (result.runsMesh()) {
      checkMesh(result, name, entries);
    }
    return result;
  }

  /**
   * Checks the tunnel sections of a mesh member: the manager issues the certificates and the membership replaces
   * the forward table and peers, so those keys are refused rather than ignored.
   */
  private static void checkMeshNode(ConduitConfig config, String name, Map<String, ConfigNode> entries) {
    Optional<MeshConfig> mesh = config.mesh();
    MeshConfig.Client client = mesh.map(MeshConfig::client).orElse(null);
    MeshConfig.Server server = mesh.map(MeshConfig::server).orElse(null);
    boolean clientOn = client != null && client.enable();
    boolean serverOn = server != null && server.enable();
    if (!clientOn && !serverOn) {
      throw new ConfigException(name, entries.get("manager").line(), "manager.enable: true but neither client nor "
          + "server is enabled (expected: client.enable: true and/or server.enable: true)");
    }
    if (clientOn) {
      int line = entries.get("client").line();
      if (!client.forwardTable().isEmpty() || !client.peers().isEmpty()) {
        throw new ConfigException(name, line, "client.forward_table/peers: set with manager.enable: true (expected: "
            + "none; in mesh mode every member's addresses are tunnelled to it, as the manager publishes them)");
      }
      if (client.listen() == null || client.listen().isBlank()) {
        throw new ConfigException(name, line, "client.listen: empty (expected: ip:port, e.g. 127.0.0.1:5052)");
      }
    }
    if (serverOn) {
      int line = entries.get("server").line();
      if (server.listen() == null || server.listen().addr() == null || server.listen().addr().isBlank()) {
        throw new ConfigException(name, line, "server.listen.addr: empty (expected: ip:port, e.g. 172.168.0.11:5053)");
      }
      if (server.listen().tls() != null) {
        throw new ConfigException(name, line, "server.listen.tls: set with manager.enable: true (expected: none; "
            + "in mesh mode the manager issues the tunnel certificates)");
      }
      if (!server.allow().isEmpty()) {
        throw new ConfigException(name, line, "server.allow: set with manager.enable: true (expected: none; a mesh "
            + "member's server dials only its own host's addresses)");
      }
    }
  }

  /** Maps the tunnel sections as {@code run} will (reading the PEM files), naming the section's line. */
  private static void checkMesh(ConduitConfig config, String name, Map<String, ConfigNode> entries) {
    try (MeshPlan plan = config.mesh().orElseThrow().plan()) {
      plan.listeners(); // mapped: nothing more to check
    } catch (IllegalArgumentException | IOException e) {
      String message = e.getMessage() == null ? e.toString() : e.getMessage();
      if (e instanceof java.nio.file.NoSuchFileException n) {
        message = n.getFile() + ": no such file";
      }
      ConfigNode at = message.startsWith("server") ? entries.get("server") : entries.get("client");
      throw new ConfigException(name, at == null ? 0 : at.line(), message);
    }
  }
}
