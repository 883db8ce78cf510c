package dev.conduit.core.mesh;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.conduit.core.control.enrol.CaPin;
import dev.conduit.core.control.enrol.EnrolmentException;
import dev.conduit.core.control.enrol.internal.ManagerCalls;
import dev.conduit.core.control.enrol.internal.PinnedTrustManager;
import java.io.IOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * The operator's client of a {@link MeshManager}'s admin API, over TLS to a manager whose CA has a known pin,
 * authenticated by the admin token or an operator certificate. Answers are the API's JSON.
 */
public final class ManagerAdminClient {

  private final ManagerCalls calls;
  private final Optional<String> token;

  private ManagerAdminClient(ManagerCalls calls, Optional<String> token) {
    this.calls = calls;
    this.token = token;
  }

  /** A client of the managers at {@code addresses} (tried in order), pinned to {@code caPin}, with a token. */
  public static ManagerAdminClient withToken(List<String> addresses, String caPin, String token) {
    requireNonNull(token, "token");
    return new ManagerAdminClient(new ManagerCalls(addresses,
        ManagerCalls.tls(new PinnedTrustManager(CaPin.parse(caPin)), null, List.of()), Duration.ofSeconds(15)),
        Optional.of(token.trim()));
  }

  /** A client that presents an operator certificate ({@code spiffe://<trust-domain>/admin/<name>}). */
  public static ManagerAdminClient withCertificate(List<String> addresses, String caPin, PrivateKey key,
      List<X509Certificate> chain) {
    return new ManagerAdminClient(new ManagerCalls(addresses,
        ManagerCalls.tls(new PinnedTrustManager(CaPin.parse(caPin)), requireNonNull(key, "key"),
            List.copyOf(chain)), Duration.ofSeconds(15)), Optional.empty());
  }

  /** {@code GET /v1/nodes}: {@code {"nodes": [...]}}. */
  public JsonNode nodes() throws IOException {
    return ok("GET", "/v1/nodes", null);
  }

  /** {@code GET /v1/nodes/NAME}. */
  public JsonNode node(String name) throws IOException {
    return ok("GET", "/v1/nodes/" + encode(name), null);
  }

  /** Approves a pending node. */
  public JsonNode approve(String name) throws IOException {
    return ok("POST", "/v1/nodes/" + encode(name) + "/approve", null);
  }

  /** Revokes a node. */
  public JsonNode revoke(String name) throws IOException {
    return ok("POST", "/v1/nodes/" + encode(name) + "/revoke", null);
  }

  /** Removes a node. */
  public JsonNode remove(String name) throws IOException {
    return ok("DELETE", "/v1/nodes/" + encode(name), null);
  }

  /** Creates a join token: {@code {"token": "id.secret", "expires_at": ...}}. */
  public JsonNode createToken(Duration ttl, String description) throws IOException {
    ObjectNode body = ManagerCalls.JSON.createObjectNode();
    body.put("ttl", requireNonNull(ttl, "ttl").getSeconds());
    if (description != null) {
      body.put("description", description);
    }
    return ok("POST", "/v1/tokens", body);
  }

  /** {@code GET /v1/status}: version, CA pin and every node with last seen, expiry and applied version. */
  public JsonNode status() throws IOException {
    return ok("GET", "/v1/status", null);
  }

  private JsonNode ok(String method, String path, ObjectNode body) throws IOException {
    ManagerCalls.Answer answer = calls.call(method, path, Optional.ofNullable(body), token);
    if (answer.status() >= 400) {
      throw new EnrolmentException(answer.status() > 599 ? 502 : answer.status(), answer.error());
    }
    return answer.body();
  }

  private static String encode(String name) {
    return URLEncoder.encode(requireNonNull(name, "name"), StandardCharsets.UTF_8);
  }
}
