package dev.conduit.core.control.push.internal;

import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.cfg.JsonNodeFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.conduit.core.control.push.PushDelta;
import dev.conduit.core.control.push.PushState;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * The push channel's JSON: the wire messages (each an object with a {@code type} and a {@code version}), their
 * strict parsing, and the canonical hash of a state's resources.
 */
public final class Json {

  /** Message types. */
  public static final String SNAPSHOT = "snapshot";
  /** A delta from one version to the next. */
  public static final String DELTA = "delta";
  /** The agent's first message. */
  public static final String HELLO = "hello";
  /** An update applied. */
  public static final String ACK = "ack";
  /** An update rejected; recognised by its {@code error_detail}. */
  public static final String NACK = "nack";
  /** An agent's facts. */
  public static final String REPORT = "report";
  /** The field that makes a response a NACK, as in xDS. */
  public static final String ERROR_DETAIL = "error_detail";

  private static final int MAX_DETAIL = 1024;

  static final ObjectMapper MAPPER = JsonMapper.builder()
      .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
      .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
      .build();

  private static final ObjectMapper CANONICAL = JsonMapper.builder()
      .enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS)
      .configure(JsonNodeFeature.WRITE_PROPERTIES_SORTED, true)
      .build();

  static {
    MAPPER.getFactory().setStreamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(64).build());
  }

  private Json() {}

  /** Returns a fresh object node. */
  public static ObjectNode object() {
    return JsonNodeFactory.instance.objectNode();
  }

  private static final BigInteger MODULUS = BigInteger.ONE.shiftLeft(256);

  /**
   * The hash of a set of resources: the sum, modulo 2^256, of the SHA-256 of each key and its value's canonical
   * JSON (properties sorted). A sum, so that a delta updates it in proportion to its own size
   * ({@link #hashAfter}); a checksum to detect drift, not an authenticator (TLS protects the channel).
   */
  public static BigInteger hashSum(Map<String, JsonNode> resources) {
    BigInteger sum = BigInteger.ZERO;
    for (Map.Entry<String, JsonNode> entry : resources.entrySet()) {
      sum = sum.add(resourceHash(entry.getKey(), entry.getValue()));
    }
    return sum.mod(MODULUS);
  }

  /** Returns the hash sum of {@code previous} after {@code delta}, given the hash sum of {@code previous}. */
  public static BigInteger hashAfter(BigInteger previousSum, Map<String, JsonNode> previous, PushDelta delta) {
    BigInteger sum = previousSum;
    for (String key : delta.removals()) {
      JsonNode old = previous.get(key);
      if (old != null) {
        sum = sum.subtract(resourceHash(key, old));
      }
    }
    for (Map.Entry<String, JsonNode> entry : delta.upserts().entrySet()) {
      JsonNode old = previous.get(entry.getKey());
      if (old != null) {
        sum = sum.subtract(resourceHash(entry.getKey(), old));
      }
      sum = sum.add(resourceHash(entry.getKey(), entry.getValue()));
    }
    return sum.mod(MODULUS);
  }

  /** Formats a hash sum as 64 lower-case hex digits. */
  public static String hex(BigInteger sum) {
    String hex = sum.toString(16);
    return "0".repeat(64 - hex.length()) + hex;
  }

  private static BigInteger resourceHash(String key, JsonNode value) {
    MessageDigest digest;
    try {
      digest = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    digest.update(key.getBytes(StandardCharsets.UTF_8));
    digest.update((byte) 0);
    try (OutputStream out = new DigestOutputStream(OutputStream.nullOutputStream(), digest)) {
      CANONICAL.writeValue(out, value);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return new BigInteger(1, digest.digest());
  }

  /** Encodes a snapshot message. */
  public static byte[] snapshot(PushState state) {
    return bytes(snapshotNode(state));
  }

  /** Returns a snapshot message as a tree. */
  public static ObjectNode snapshotNode(PushState state) {
    ObjectNode message = object().put("type", SNAPSHOT).put("version", state.version()).put("hash", state.hash());
    message.set("resources", resources(state.resources()));
    return message;
  }

  /** Encodes a delta message; {@code hash} is the hash of the state it leads to. */
  public static byte[] delta(PushDelta delta, String hash) {
    ObjectNode message = object().put("type", DELTA).put("from", delta.fromVersion())
        .put("version", delta.toVersion()).put("hash", hash);
    message.set("upserts", resources(delta.upserts()));
    ArrayNode removals = message.putArray("removals");
    delta.removals().forEach(removals::add);
    return bytes(message);
  }

  private static ObjectNode resources(Map<String, JsonNode> resources) {
    ObjectNode node = object();
    resources.forEach(node::set);
    return node;
  }

  /** Encodes a hello. */
  public static byte[] hello(String agent, String role, PushState state) {
    return bytes(object().put("type", HELLO).put("version", state.version()).put("hash", state.hash())
        .put("agent", agent).put("role", role));
  }

  /** Encodes an ack of {@code version} with the hash of what was installed. */
  public static byte[] ack(long version, String installedHash) {
    return bytes(object().put("type", ACK).put("version", version).put("hash", installedHash));
  }

  /** Encodes a nack: {@code goodVersion} is the version still installed. */
  public static byte[] nack(long goodVersion, String errorDetail) {
    String detail = errorDetail == null || errorDetail.isBlank() ? "unspecified error" : errorDetail;
    return bytes(object().put("type", NACK).put("version", goodVersion).put(ERROR_DETAIL, truncate(detail)));
  }

  /** Encodes a report. */
  public static byte[] report(long version, JsonNode payload) {
    ObjectNode message = object().put("type", REPORT).put("version", version);
    message.set("payload", payload);
    return bytes(message);
  }

  /** Returns {@code text} cut to a length fit for logs and status. */
  public static String truncate(String text) {
    return text.length() <= MAX_DETAIL ? text : text.substring(0, MAX_DETAIL) + "...";
  }

  /** Serialises {@code node}. */
  public static byte[] bytes(JsonNode node) {
    try {
      return MAPPER.writeValueAsBytes(node);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Parses one message: a JSON object with a string {@code type} and a non-negative integer {@code version}.
   *
   * @throws MalformedMessageException with a reason fit for a close frame
   */
  public static ObjectNode parse(byte[] bytes) {
    JsonNode node;
    try {
      node = MAPPER.readTree(bytes);
    } catch (IOException e) {
      throw new MalformedMessageException("malformed JSON: " + firstLine(e.getMessage()));
    }
    if (node == null || !node.isObject()) {
      throw new MalformedMessageException("message: not a JSON object");
    }
    text(node, "type");
    version(node, "version");
    return (ObjectNode) node;
  }

  private static String firstLine(String message) {
    if (message == null) {
      return "unreadable";
    }
    int newline = message.indexOf('\n');
    return newline < 0 ? message : message.substring(0, newline);
  }

  /** Returns the string field {@code name}. */
  public static String text(JsonNode node, String name) {
    JsonNode value = node.get(name);
    if (value == null || !value.isTextual()) {
      throw new MalformedMessageException(name + ": missing or not a string");
    }
    return value.asText();
  }

  /** Returns the string field {@code name}, or {@code fallback} when absent. */
  public static String text(JsonNode node, String name, String fallback) {
    return node.has(name) ? text(node, name) : fallback;
  }

  /** Returns the non-negative integer field {@code name}. */
  public static long version(JsonNode node, String name) {
    JsonNode value = node.get(name);
    if (value == null || !value.isIntegralNumber() || !value.canConvertToLong() || value.asLong() < 0) {
      throw new MalformedMessageException(name + ": missing or not an integer >= 0");
    }
    return value.asLong();
  }

  /** Decodes a snapshot message. */
  public static PushState decodeSnapshot(JsonNode message) {
    PushState state = PushState.of(version(message, "version"), resourceMap(message, "resources"));
    checkHash(message, state);
    return state;
  }

  /** Decodes a delta message. */
  public static PushDelta decodeDelta(JsonNode message) {
    long from = version(message, "from");
    long to = version(message, "version");
    if (to <= from) {
      throw new MalformedMessageException("delta: version " + to + " not after from " + from);
    }
    JsonNode removals = message.get("removals");
    if (removals == null || !removals.isArray()) {
      throw new MalformedMessageException("removals: missing or not an array");
    }
    Set<String> removed = new HashSet<>();
    for (JsonNode key : removals) {
      if (!key.isTextual()) {
        throw new MalformedMessageException("removals: holds a non-string");
      }
      removed.add(key.asText());
    }
    try {
      return new PushDelta(from, to, resourceMap(message, "upserts"), removed);
    } catch (IllegalArgumentException e) {
      throw new MalformedMessageException("delta: " + e.getMessage());
    }
  }

  /** Checks that {@code state} has the hash the message announced. */
  public static void checkHash(JsonNode message, PushState state) {
    String announced = text(message, "hash");
    if (!announced.equals(state.hash())) {
      throw new MalformedMessageException("version " + state.version() + ": hash " + state.hash()
          + " differs from the announced " + announced);
    }
  }

  private static Map<String, JsonNode> resourceMap(JsonNode message, String name) {
    JsonNode node = message.get(name);
    if (node == null || !node.isObject()) {
      throw new MalformedMessageException(name + ": missing or not an object");
    }
    Map<String, JsonNode> map = new HashMap<>();
    for (Map.Entry<String, JsonNode> entry : node.properties()) {
      map.put(entry.getKey(), entry.getValue());
    }
    return map;
  }

  /** A message that is not valid JSON or lacks what its type needs. */
  public static final class MalformedMessageException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    /** Creates one with a reason fit for a close frame. */
    public MalformedMessageException(String reason) {
      super(truncate(reason));
    }
  }
}
