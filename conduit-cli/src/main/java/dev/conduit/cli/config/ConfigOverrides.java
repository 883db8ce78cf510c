package dev.conduit.cli.config;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import org.snakeyaml.engine.v2.api.LoadSettings;
import org.snakeyaml.engine.v2.api.lowlevel.Compose;
import org.snakeyaml.engine.v2.common.FlowStyle;
import org.snakeyaml.engine.v2.common.ScalarStyle;
import org.snakeyaml.engine.v2.exceptions.Mark;
import org.snakeyaml.engine.v2.exceptions.YamlEngineException;
import org.snakeyaml.engine.v2.nodes.MappingNode;
import org.snakeyaml.engine.v2.nodes.Node;
import org.snakeyaml.engine.v2.nodes.NodeTuple;
import org.snakeyaml.engine.v2.nodes.ScalarNode;
import org.snakeyaml.engine.v2.nodes.SequenceNode;
import org.snakeyaml.engine.v2.nodes.Tag;

/**
 * Environment variables that override keys of {@code conduit.yaml}, as containers and systemd units
 * set them: {@code CONDUIT_} then the key's path in capitals, with {@code __} between its parts
 * ({@code CONDUIT_LOG__LEVEL=debug}, {@code CONDUIT_TIMEOUTS__HTTP_IDLE=1m},
 * {@code CONDUIT_LISTENERS__0__LISTEN=0.0.0.0:1080}, {@code CONDUIT_ADMIN__TOKEN_FILE=/run/secrets/t}).
 * A value in {@code [...]} or {@code {...}} is read as YAML; any other is one scalar. Only variables
 * that name a top-level section are read ({@code CONDUIT_JAVA_OPTS} is not), and a variable with
 * {@code __} whose section does not exist is an error, so a typo is not silently ignored. Values
 * override the file; keys the file lacks are added, and a list index one past the end adds an item.
 * Errors name the variable ({@code $CONDUIT_LOG__LEVEL: log.level: ...}).
 */
final class ConfigOverrides {

  /** The prefix of overriding variables. */
  static final String PREFIX = "CONDUIT_";

  /** Between the parts of a key's path. */
  static final String SEPARATOR = "__";

  private ConfigOverrides() {}

  /**
   * Applies the overriding variables of {@code environment} to a composed document.
   *
   * @param root the file's root node, or empty for an empty file
   * @param environment the process's variables
   * @param sections the top-level keys
   * @return the root with the overrides applied (the same node, changed, when it is a mapping)
   */
  static Optional<Node> apply(Optional<Node> root, Map<String, String> environment, Collection<String> sections) {
    Map<String, String> overrides = new TreeMap<>(); // sorted: the same order on every run
    for (Map.Entry<String, String> e : environment.entrySet()) {
      String name = e.getKey();
      if (!name.startsWith(PREFIX) || name.length() == PREFIX.length()) {
        continue;
      }
      String rest = name.substring(PREFIX.length());
      int sep = rest.indexOf(SEPARATOR);
      String section = (sep < 0 ? rest : rest.substring(0, sep)).toLowerCase(Locale.ROOT);
      if (sections.contains(section)) {
        overrides.put(name, e.getValue());
      } else if (sep >= 0) {
        throw new ConfigException("$" + name, 0, "unknown section '" + section + "' (expected one of: "
            + String.join(", ", sections) + ")");
      }
    }
    if (overrides.isEmpty()) {
      return root;
    }
    Node top = root.orElseGet(() -> mapping("$" + overrides.keySet().iterator().next()));
    if (!(top instanceof MappingNode)) {
      return root; // the loader reports that the file is not a mapping
    }
    for (Map.Entry<String, String> e : overrides.entrySet()) {
      String[] parts = e.getKey().substring(PREFIX.length()).toLowerCase(Locale.ROOT).split(SEPARATOR, -1);
      set(top, parts, 0, e.getKey(), e.getValue(), "");
    }
    return Optional.of(top);
  }

  /** Sets {@code parts[i..]} under {@code node} to the variable's value. */
  private static void set(Node node, String[] parts, int i, String variable, String value, String path) {
    String part = parts[i];
    String origin = "$" + variable;
    if (part.isEmpty()) {
      throw new ConfigException(origin, 0, "empty key in the name (expected: parts separated by one " + SEPARATOR + ")");
    }
    boolean last = i == parts.length - 1;
    if (node instanceof MappingNode m) {
      String childPath = path.isEmpty() ? part : path + "." + part;
      List<NodeTuple> tuples = new ArrayList<>(m.getValue());
      for (int t = 0; t < tuples.size(); t++) {
        NodeTuple tuple = tuples.get(t);
        if (tuple.getKeyNode() instanceof ScalarNode k && k.getValue().equals(part)) {
          if (last) {
            tuples.set(t, new NodeTuple(k, value(variable, value)));
          } else {
            Node child = container(tuple.getValueNode(), parts[i + 1], origin, childPath);
            tuples.set(t, new NodeTuple(k, child));
            set(child, parts, i + 1, variable, value, childPath);
          }
          m.setValue(tuples);
          return;
        }
      }
      ScalarNode key = new ScalarNode(Tag.STR, true, part, ScalarStyle.PLAIN, mark(origin), mark(origin));
      Node child = last ? value(variable, value) : empty(parts[i + 1], origin);
      tuples.add(new NodeTuple(key, child));
      m.setValue(tuples);
      if (!last) {
        set(child, parts, i + 1, variable, value, childPath);
      }
      return;
    }
    SequenceNode s = (SequenceNode) node;
    int index;
    try {
      index = Integer.parseInt(part);
    } catch (NumberFormatException e) {
      throw new ConfigException(origin, 0, path + ": '" + part + "' (expected: a list index, 0-" + s.getValue().size() + ")");
    }
    int size = s.getValue().size();
    if (index < 0 || index > size) {
      throw new ConfigException(origin, 0, path + ": index " + index + " (expected: 0-" + size
          + (size == 0 ? ", 0 to add the first item)" : ", " + size + " to add an item)"));
    }
    String childPath = path + "[" + index + "]";
    if (last) {
      if (index == size) {
        s.getValue().add(value(variable, value));
      } else {
        s.getValue().set(index, value(variable, value));
      }
      return;
    }
    Node child = index == size ? empty(parts[i + 1], origin) : container(s.getValue().get(index), parts[i + 1], origin, childPath);
    if (index == size) {
      s.getValue().add(child);
    } else {
      s.getValue().set(index, child);
    }
    set(child, parts, i + 1, variable, value, childPath);
  }

  /** The node to descend into: the existing mapping or list, or a new one in place of a null. */
  private static Node container(Node existing, String nextPart, String origin, String path) {
    boolean wantList = nextPart.chars().allMatch(Character::isDigit);
    if (existing instanceof ScalarNode sc && sc.getTag().equals(Tag.NULL)) {
      return empty(nextPart, origin);
    }
    if (wantList ? existing instanceof SequenceNode : existing instanceof MappingNode) {
      return existing;
    }
    throw new ConfigException(origin, 0, path + ": the file has " + (existing instanceof ScalarNode ? "a value"
        : existing instanceof SequenceNode ? "a list" : "a mapping") + " here (expected: "
        + (wantList ? "a list" : "a mapping") + ")");
  }

  private static Node empty(String nextPart, String origin) {
    if (nextPart.chars().allMatch(Character::isDigit)) {
      return new SequenceNode(Tag.SEQ, true, new ArrayList<>(), FlowStyle.BLOCK, mark(origin), mark(origin));
    }
    return mapping(origin);
  }

  private static MappingNode mapping(String origin) {
    return new MappingNode(Tag.MAP, true, new ArrayList<>(), FlowStyle.BLOCK, mark(origin), mark(origin));
  }

  /** The variable's value as a node: YAML for {@code [...]} and {@code {...}}, else one scalar. */
  private static Node value(String variable, String value) {
    String origin = "$" + variable;
    String trimmed = value.strip();
    if (trimmed.startsWith("[") || trimmed.startsWith("{")) {
      try {
        Optional<Node> node = new Compose(LoadSettings.builder().setLabel(origin).build()).composeString(trimmed);
        if (node.isPresent()) {
          return node.get();
        }
      } catch (YamlEngineException e) {
        throw new ConfigException(origin, 0, "not valid YAML: " + e.getMessage().lines().findFirst().orElse(""));
      }
    }
    Tag tag = value.matches("-?[0-9]+") ? Tag.INT : value.equals("true") || value.equals("false") ? Tag.BOOL : Tag.STR;
    return new ScalarNode(tag, true, value, ScalarStyle.PLAIN, mark(origin), mark(origin));
  }

  /** A mark naming the variable, with no line: errors say {@code $CONDUIT_...: path: detail}. */
  private static Optional<Mark> mark(String origin) {
    return Optional.of(new Mark(origin, 0, -1, 0, new int[0], 0));
  }
}
