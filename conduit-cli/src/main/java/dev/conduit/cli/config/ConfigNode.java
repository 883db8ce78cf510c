package dev.conduit.cli.config;

import static java.util.Objects.requireNonNull;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.snakeyaml.engine.v2.nodes.MappingNode;
import org.snakeyaml.engine.v2.nodes.Node;
import org.snakeyaml.engine.v2.nodes.NodeTuple;
import org.snakeyaml.engine.v2.nodes.NodeType;
import org.snakeyaml.engine.v2.nodes.ScalarNode;
import org.snakeyaml.engine.v2.nodes.SequenceNode;
import org.snakeyaml.engine.v2.nodes.Tag;

/**
 * A node of the YAML configuration with its path ({@code listeners[0].listen}) and line, so every
 * error names both. The typed getters throw {@link ConfigException}s such as
 * {@code conduit.yaml:7: listeners[0].listen: expected a string, got a mapping}.
 */
public final class ConfigNode {

  private final Node node;
  private final String path;
  private final String file;
  private final ConfigValues values;

  private ConfigNode(Node node, String path, String file, ConfigValues values) {
    this.node = requireNonNull(node, "node");
    this.path = requireNonNull(path, "path");
    this.values = requireNonNull(values, "values");
    // a node set by an environment variable names the variable in messages, not the file
    this.file = node.getStartMark().map(org.snakeyaml.engine.v2.exceptions.Mark::getName)
        .filter(n -> n.startsWith("$")).orElse(requireNonNull(file, "file"));
  }

  /** The document's root node; {@code file} is the name used in messages; no references are resolved. */
  static ConfigNode root(Node node, String file) {
    return new ConfigNode(node, "", file, ConfigValues.of(Map.of()));
  }

  /**
   * The document's root node whose scalars resolve {@code ${file:...}} and {@code ${env:...}}
   * references ({@link ConfigValues}).
   */
  static ConfigNode root(Node node, String file, ConfigValues values) {
    return new ConfigNode(node, "", file, values);
  }

  private ConfigNode child(Node child, String childPath) {
    return new ConfigNode(child, childPath, file, values);
  }

  /** The path from the root, e.g. {@code rules[2].match.ports}; empty for the root. */
  public String path() {
    return path;
  }

  /** The file name used in messages. */
  public String file() {
    return file;
  }

  /** The 1-based line where this node starts, or 0 when unknown. */
  public int line() {
    return node.getStartMark().map(m -> m.getLine() + 1).orElse(0);
  }

  /** An error at this node: {@code file:line: path: detail}. */
  public ConfigException error(String detail) {
    return new ConfigException(file, line(), (path.isEmpty() ? "" : path + ": ") + detail);
  }

  /** Whether the node is an explicit or empty null ({@code key:} or {@code key: null}). */
  public boolean isNull() {
    return node instanceof ScalarNode s && s.getTag().equals(Tag.NULL);
  }

  /** Whether the node is a scalar (and not null). */
  public boolean isScalar() {
    return node.getNodeType() == NodeType.SCALAR && !isNull();
  }

  /** Whether the node is a mapping. */
  public boolean isMapping() {
    return node.getNodeType() == NodeType.MAPPING;
  }

  /** Whether the node is a sequence. */
  public boolean isSequence() {
    return node.getNodeType() == NodeType.SEQUENCE;
  }

  /**
   * The entries of a mapping in file order, checking that every key is a string, appears once and
   * is one of {@code allowedKeys}.
   */
  public Map<String, ConfigNode> mapping(Collection<String> allowedKeys) {
    if (!(node instanceof MappingNode m)) {
      throw error("expected a mapping (key: value lines), got " + describe());
    }
    Map<String, ConfigNode> out = new LinkedHashMap<>();
    Map<String, Integer> lines = new LinkedHashMap<>();
    for (NodeTuple t : m.getValue()) {
      Node keyNode = t.getKeyNode();
      ConfigNode key = child(keyNode, path);
      if (!(keyNode instanceof ScalarNode ks) || key.isNull()) {
        throw key.error("expected a plain key, got " + key.describe());
      }
      String name = ks.getValue();
      if (!allowedKeys.contains(name)) {
        throw new ConfigException(key.file, key.line(), "unknown key '" + name + "' "
            + (path.isEmpty() ? "at the top level" : "in " + path)
            + " (expected one of: " + String.join(", ", allowedKeys) + ")");
      }
      if (lines.containsKey(name)) {
        throw new ConfigException(key.file, key.line(), "duplicate key '" + name + "' "
            + (path.isEmpty() ? "at the top level" : "in " + path) + " (first at line " + lines.get(name) + ")");
      }
      lines.put(name, key.line());
      out.put(name, child(t.getValueNode(), path.isEmpty() ? name : path + "." + name));
    }
    return out;
  }

  /** The keys of a mapping without checking them against a list (for sections that dispatch on keys). */
  public List<String> keys() {
    if (!(node instanceof MappingNode m)) {
      throw error("expected a mapping (key: value lines), got " + describe());
    }
    List<String> keys = new ArrayList<>();
    for (NodeTuple t : m.getValue()) {
      if (t.getKeyNode() instanceof ScalarNode ks) {
        keys.add(ks.getValue());
      }
    }
    return keys;
  }

  /** The items of a sequence; null counts as empty. */
  public List<ConfigNode> sequence() {
    if (isNull()) {
      return List.of();
    }
    if (!(node instanceof SequenceNode s)) {
      throw error("expected a list (- item lines or [a, b]), got " + describe());
    }
    List<ConfigNode> out = new ArrayList<>();
    List<Node> items = s.getValue();
    for (int i = 0; i < items.size(); i++) {
      out.add(child(items.get(i), path + "[" + i + "]"));
    }
    return out;
  }

  /** A scalar's text; numbers and booleans are accepted as their text. */
  public String string() {
    if (!isScalar()) {
      throw error("expected a string, got " + describe());
    }
    return text();
  }

  /**
   * A scalar's text with its {@code ${file:...}} and {@code ${env:...}} references resolved; an error
   * names the reference, never the value read.
   */
  private String text() {
    String raw = ((ScalarNode) node).getValue();
    try {
      return values.resolve(raw);
    } catch (IllegalArgumentException e) {
      throw error(e.getMessage());
    }
  }

  /** A list of strings: a sequence of scalars, or one scalar as a list of one. */
  public List<String> strings() {
    if (isScalar()) {
      return List.of(string());
    }
    List<String> out = new ArrayList<>();
    for (ConfigNode item : sequence()) {
      out.add(item.string());
    }
    return out;
  }

  /** An integer in {@code min..max}. */
  public int integer(int min, int max) {
    String text = isScalar() ? text() : null;
    int value;
    try {
      value = Integer.parseInt(requireScalar("an integer", text));
    } catch (NumberFormatException e) {
      throw error("expected an integer, got '" + text + "'");
    }
    if (value < min || value > max) {
      throw error(value + " (expected: " + min + "-" + max + ")");
    }
    return value;
  }

  /** {@code true} or {@code false}. */
  public boolean bool() {
    String text = requireScalar("true or false", isScalar() ? text() : null);
    if (text.equals("true")) {
      return true;
    }
    if (text.equals("false")) {
      return false;
    }
    throw error("expected true or false, got '" + text + "'");
  }

  /** A Go-style duration such as {@code 10s}, {@code 500ms} or {@code 1h30m}. */
  public Duration duration() {
    if (!isScalar()) {
      throw error("expected a duration such as 10s, 500ms or 1h30m, got " + describe());
    }
    String text = text();
    if (node.getTag().equals(Tag.INT) && !text.equals("0")) {
      throw error("'" + text + "' has no unit (expected: a duration such as " + text + "s or " + text + "ms)");
    }
    return convert(() -> Durations.parse(text));
  }

  /** Runs a conversion, turning its {@link IllegalArgumentException} into an error at this node. */
  public <T> T convert(java.util.function.Supplier<T> conversion) {
    try {
      return conversion.get();
    } catch (ConfigException e) {
      throw e;
    } catch (IllegalArgumentException | IllegalStateException e) {
      throw error(e.getMessage());
    }
  }

  private String requireScalar(String expected, String text) {
    if (text == null) {
      throw error("expected " + expected + ", got " + describe());
    }
    return text;
  }

  /** What kind of node this is, for messages. */
  String describe() {
    if (isNull()) {
      return "nothing";
    }
    return switch (node.getNodeType()) {
      case MAPPING -> "a mapping";
      case SEQUENCE -> "a list";
      case SCALAR -> "'" + ((ScalarNode) node).getValue() + "'";
      default -> node.getNodeType().toString().toLowerCase(java.util.Locale.ROOT);
    };
  }
}
