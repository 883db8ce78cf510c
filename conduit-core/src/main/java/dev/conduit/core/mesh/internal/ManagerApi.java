package dev.conduit.core.mesh.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.conduit.core.control.enrol.EnrolmentException;
import dev.conduit.core.control.enrol.EnrolmentRequest;
import dev.conduit.core.control.enrol.EnrolmentResult;
import dev.conduit.core.control.enrol.EnrolmentService;
import dev.conduit.core.control.enrol.JoinToken;
import dev.conduit.core.control.enrol.internal.ManagerCalls;
import dev.conduit.core.control.store.AuditEntry;
import dev.conduit.core.control.store.NodeRecord;
import dev.conduit.core.control.store.NodeRole;
import dev.conduit.core.control.store.NodeState;
import dev.conduit.core.control.store.RevokedCertificate;
import dev.conduit.core.control.store.StoreException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The manager's HTTP JSON API, independent of Netty: enrolment, renewal (mutual TLS) and the operator's admin API
 * (a bearer token or an operator certificate). Runs on a worker thread: it blocks on the store.
 */
public final class ManagerApi {

  private static final Logger log = LoggerFactory.getLogger(ManagerApi.class);
  private static final int MAX_ADDRESS_ITEMS = 256;

  private final EnrolmentService enrolment;
  private final byte[] adminAuthorization;
  private final RateLimiter enrolmentLimiter;

  /** An API over {@code enrolment}; operators authenticate with {@code adminToken} or a certificate. */
  public ManagerApi(EnrolmentService enrolment, String adminToken, RateLimiter enrolmentLimiter) {
    this.enrolment = enrolment;
    this.adminAuthorization = ("Bearer " + adminToken).getBytes(StandardCharsets.UTF_8);
    this.enrolmentLimiter = enrolmentLimiter;
  }

  /** Answers one request; never throws. */
  public ApiResponse handle(ApiRequest request) {
    try {
      return route(request);
    } catch (EnrolmentException e) {
      if (e.status() >= 500) {
        log.warn("manager: {} {}: {}", request.method(), request.path(), e.getMessage());
      } else {
        log.info("manager: refused {} {} from {}: {} {}", request.method(), request.path(),
            request.source().getHostAddress(), e.status(), e.getMessage());
      }
      return ApiResponse.error(e.status(), e.getMessage());
    } catch (StoreException e) {
      log.error("manager: {} {}: store failed", request.method(), request.path(), e);
      return ApiResponse.error(503, "the manager's store is unavailable; try again later");
    } catch (RuntimeException e) {
      log.error("manager: {} {}: internal error", request.method(), request.path(), e);
      return ApiResponse.error(500, "internal error");
    }
  }

  private ApiResponse route(ApiRequest r) {
    String path = r.path();
    String method = r.method();
    if (path.equals("/v1/enrol")) {
      requireMethod(method, "POST");
      if (!enrolmentLimiter.tryAcquire(r.source())) {
        return ApiResponse.error(429, "too many enrolment requests from " + r.source().getHostAddress()
            + "; retry later");
      }
      return enrol(r);
    }
    if (path.equals("/v1/renew")) {
      requireMethod(method, "POST");
      if (r.peer().isEmpty()) {
        return ApiResponse.error(401, "renewal needs the node's current certificate (mutual TLS)");
      }
      EnrolmentResult.Issued issued = enrolment.renew(r.peer().get(), enrolmentRequest(r, false));
      return new ApiResponse(200, issuedJson(issued));
    }
    if (path.equals("/v1/ca")) {
      requireMethod(method, "GET");
      ObjectNode body = json();
      body.put("ca", enrolment.certificateAuthority().certificatePem());
      body.put("pin", enrolment.caPin());
      body.put("trust_domain", enrolment.identity().trustDomain());
      return new ApiResponse(200, body);
    }
    if (!path.startsWith("/v1/")) {
      return ApiResponse.error(404, "no such endpoint: " + abbreviate(path));
    }
    Optional<String> admin = admin(r);
    if (admin.isEmpty()) {
      return ApiResponse.error(401, "the admin API needs 'Authorization: Bearer TOKEN' or an operator certificate");
    }
    String actor = admin.get();
    if (path.equals("/v1/nodes")) {
      requireMethod(method, "GET");
      ObjectNode body = json();
      ArrayNode nodes = body.putArray("nodes");
      long version = enrolment.store().version();
      for (NodeRecord n : enrolment.store().nodes()) {
        nodes.add(nodeJson(n, version));
      }
      return new ApiResponse(200, body);
    }
    if (path.startsWith("/v1/nodes/")) {
      String[] parts = path.substring("/v1/nodes/".length()).split("/", -1);
      String name = parts[0];
      if (parts.length == 1) {
        if (method.equals("GET")) {
          NodeRecord n = enrolment.store().node(name).orElseThrow(() -> new EnrolmentException(404,
              "node " + abbreviate(name) + ": no such node"));
          return new ApiResponse(200, nodeJson(n, enrolment.store().version()));
        }
        requireMethod(method, "DELETE");
        enrolment.remove(name, actor);
        return done("removed", name);
      }
      if (parts.length == 2 && (parts[1].equals("approve") || parts[1].equals("revoke"))) {
        requireMethod(method, "POST");
        if (parts[1].equals("approve")) {
          enrolment.approve(name, actor);
          return done("approved", name);
        }
        enrolment.revoke(name, actor);
        return done("revoked", name);
      }
    }
    if (path.equals("/v1/tokens")) {
      requireMethod(method, "POST");
      JsonNode body = parse(r.body());
      Duration ttl = ttl(body.get("ttl"));
      JsonNode description = body.get("description");
      JoinToken token = enrolment.createToken(ttl, actor, description == null ? "" : abbreviate(description.asText()));
      ObjectNode out = json();
      out.put("token", token.value());
      out.put("id", token.id());
      out.put("expires_at", Instant.now().plus(ttl).toString());
      return new ApiResponse(201, out);
    }
    if (path.equals("/v1/status")) {
      requireMethod(method, "GET");
      return new ApiResponse(200, status());
    }
    if (path.equals("/v1/revocations")) {
      requireMethod(method, "GET");
      ObjectNode body = json();
      ArrayNode list = body.putArray("certificates");
      for (RevokedCertificate c : enrolment.store().revokedCertificates(Instant.now())) {
        list.addObject().put("serial", c.serial()).put("node", c.nodeName()).put("not_after", c.notAfter().toString());
      }
      return new ApiResponse(200, body);
    }
    if (path.equals("/v1/audit")) {
      requireMethod(method, "GET");
      ObjectNode body = json();
      ArrayNode list = body.putArray("entries");
      for (AuditEntry e : enrolment.store().auditLog(200)) {
        list.addObject().put("at", e.at().toString()).put("actor", e.actor()).put("action", e.action())
            .put("subject", e.subject()).put("detail", e.detail());
      }
      return new ApiResponse(200, body);
    }
    return ApiResponse.error(404, "no such endpoint: " + abbreviate(path));
  }

  private ApiResponse enrol(ApiRequest r) {
    EnrolmentResult result = enrolment.enrol(enrolmentRequest(r, true));
    if (result instanceof EnrolmentResult.Issued issued) {
      return new ApiResponse(200, issuedJson(issued));
    }
    EnrolmentResult.Pending pending = (EnrolmentResult.Pending) result;
    ObjectNode body = json();
    body.put("state", "pending");
    body.put("name", pending.name());
    body.put("approve", pending.approveHint());
    return new ApiResponse(202, body);
  }

  private EnrolmentRequest enrolmentRequest(ApiRequest r, boolean withToken) {
    JsonNode body = parse(r.body());
    String name = text(body, "name", true);
    NodeRole role;
    try {
      role = NodeRole.parse(Optional.ofNullable(text(body, "role", false)).orElse("both"));
    } catch (IllegalArgumentException e) {
      throw new EnrolmentException(400, e.getMessage());
    }
    JsonNode addressesNode = body.get("addresses");
    if (addressesNode == null || !addressesNode.isArray() || addressesNode.size() > MAX_ADDRESS_ITEMS) {
      throw new EnrolmentException(400, "addresses: expected a list of the node's IP addresses");
    }
    List<String> addresses = new ArrayList<>();
    for (JsonNode a : addressesNode) {
      if (!a.isTextual()) {
        throw new EnrolmentException(400, "addresses: expected strings, got " + a.getNodeType());
      }
      addresses.add(a.asText());
    }
    Optional<String> token = withToken ? Optional.ofNullable(text(body, "token", false)) : Optional.empty();
    return new EnrolmentRequest(name, role, addresses, Optional.ofNullable(text(body, "server_address", false)),
        text(body, "csr", true), token);
  }

  private Optional<String> admin(ApiRequest r) {
    if (r.authorization().isPresent()) {
      byte[] given = r.authorization().get().getBytes(StandardCharsets.UTF_8);
      return MessageDigest.isEqual(given, adminAuthorization) ? Optional.of("admin-token") : Optional.empty();
    }
    return r.peer().flatMap(enrolment::authenticateAdmin).map(n -> "admin:" + n);
  }

  private ObjectNode status() {
    ObjectNode body = json();
    long version = enrolment.store().version();
    body.put("version", version);
    body.put("ca_pin", enrolment.caPin());
    body.put("trust_domain", enrolment.identity().trustDomain());
    body.put("ca_not_after", enrolment.certificateAuthority().certificate().getNotAfter().toInstant().toString());
    int[] counts = new int[NodeState.values().length];
    ArrayNode nodes = body.putArray("nodes");
    for (NodeRecord n : enrolment.store().nodes()) {
      counts[n.state().ordinal()]++;
      nodes.add(nodeJson(n, version));
    }
    for (NodeState s : NodeState.values()) {
      body.put(s.name().toLowerCase(Locale.ROOT), counts[s.ordinal()]);
    }
    return body;
  }

  private static ObjectNode nodeJson(NodeRecord n, long version) {
    ObjectNode o = json();
    o.put("name", n.name());
    o.put("identity", n.identity());
    o.put("role", n.role().text());
    o.put("state", n.state().name().toLowerCase(Locale.ROOT));
    ArrayNode addresses = o.putArray("addresses");
    n.addresses().forEach(addresses::add);
    n.serverAddress().ifPresent(s -> o.put("server_address", s));
    o.put("created_at", n.createdAt().toString());
    n.lastSeen().ifPresent(t -> o.put("last_seen", t.toString()));
    n.certificateSerial().ifPresent(s -> o.put("certificate_serial", s));
    n.certificateNotAfter().ifPresent(t -> o.put("certificate_not_after", t.toString()));
    if (n.appliedVersion().isPresent()) {
      o.put("applied_version", n.appliedVersion().getAsLong());
      o.put("lag", Math.max(0, version - n.appliedVersion().getAsLong()));
    }
    n.appliedHash().ifPresent(h -> o.put("applied_hash", h));
    return o;
  }

  private static ObjectNode issuedJson(EnrolmentResult.Issued issued) {
    ObjectNode body = json();
    body.put("name", issued.name());
    body.put("identity", issued.identity());
    body.put("certificate_chain", issued.certificateChainPem());
    body.put("ca", issued.caPem());
    body.put("serial", issued.serial());
    body.put("not_after", issued.notAfter().toString());
    return body;
  }

  private static ApiResponse done(String what, String name) {
    ObjectNode body = json();
    body.put("name", name);
    body.put("result", what);
    return new ApiResponse(200, body);
  }

  /** Parses a TTL: seconds as a number, or text such as {@code 90s}, {@code 30m}, {@code 24h}, {@code 7d}. */
  static Duration ttl(JsonNode node) {
    if (node == null || node.isNull()) {
      return Duration.ofHours(24);
    }
    if (node.isIntegralNumber()) {
      return Duration.ofSeconds(node.asLong());
    }
    String text = node.asText().trim().toLowerCase(Locale.ROOT);
    if (text.matches("\\d{1,7}[smhd]")) {
      long n = Long.parseLong(text.substring(0, text.length() - 1));
      switch (text.charAt(text.length() - 1)) {
        case 's':
          return Duration.ofSeconds(n);
        case 'm':
          return Duration.ofMinutes(n);
        case 'h':
          return Duration.ofHours(n);
        default:
          return Duration.ofDays(n);
      }
    }
    throw new EnrolmentException(400, "ttl: '" + abbreviate(text) + "' (expected: a duration such as 30m, 24h or 7d)");
  }

  private static void requireMethod(String method, String expected) {
    if (!method.equals(expected)) {
      throw new EnrolmentException(405, "method " + method + " (expected: " + expected + ")");
    }
  }

  private static JsonNode parse(byte[] body) {
    if (body.length == 0) {
      throw new EnrolmentException(400, "body: empty (expected: a JSON object)");
    }
    try {
      JsonNode node = ManagerCalls.JSON.readTree(body);
      if (node == null || !node.isObject()) {
        throw new EnrolmentException(400, "body: expected a JSON object");
      }
      return node;
    } catch (IOException e) {
      String detail = e instanceof com.fasterxml.jackson.core.JsonProcessingException j ? j.getOriginalMessage()
          : e.getMessage();
      throw new EnrolmentException(400, "body: not valid JSON (" + detail + ")");
    }
  }

  private static String text(JsonNode body, String field, boolean required) {
    JsonNode value = body.get(field);
    if (value == null || value.isNull()) {
      if (required) {
        throw new EnrolmentException(400, field + ": missing");
      }
      return null;
    }
    if (!value.isTextual()) {
      throw new EnrolmentException(400, field + ": expected a string, got " + value.getNodeType());
    }
    return value.asText();
  }

  private static ObjectNode json() {
    return ManagerCalls.JSON.createObjectNode();
  }

  private static String abbreviate(String text) {
    return text.length() <= 80 ? text : text.substring(0, 80) + "...";
  }
}
