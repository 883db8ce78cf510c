package dev.conduit.core.admin;

import static java.util.Objects.requireNonNull;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * What an {@link AdminRoute} answers: a status, a content type and a body, plus extra headers.
 *
 * @param status the HTTP status code (100–599)
 * @param contentType the body's media type; {@code null} only for an empty body
 * @param body the body
 * @param headers extra response headers (not {@code Content-Type} or {@code Content-Length})
 */
public record AdminResponse(int status, @Nullable String contentType, byte[] body, Map<String, String> headers) {
  /** JSON's media type. */
  public static final String JSON = "application/json";
  /** Plain UTF-8 text's media type. */
  public static final String TEXT = "text/plain; charset=utf-8";

  /** Validates the status and copies the body and headers. */
  public AdminResponse {
    if (status < 100 || status > 599) {
      throw new IllegalArgumentException("status: " + status + " (expected: 100-599)");
    }
    body = requireNonNull(body, "body").clone();
    headers = Map.copyOf(requireNonNull(headers, "headers"));
  }

  /** A JSON response. */
  public static AdminResponse json(int status, String json) {
    return new AdminResponse(status, JSON, json.getBytes(StandardCharsets.UTF_8), Map.of());
  }

  /** A plain-text response (a newline is not added). */
  public static AdminResponse text(int status, String text) {
    return new AdminResponse(status, TEXT, text.getBytes(StandardCharsets.UTF_8), Map.of());
  }

  /** A response with this status, type and body. */
  public static AdminResponse of(int status, @Nullable String contentType, byte[] body) {
    return new AdminResponse(status, contentType, body, Map.of());
  }

  /** {@code 204 No Content}. */
  public static AdminResponse noContent() {
    return new AdminResponse(204, null, new byte[0], Map.of());
  }

  /** This response with one more header; several cookies go in one {@code Set-Cookie} value, one per line. */
  public AdminResponse withHeader(String name, String value) {
    java.util.HashMap<String, String> h = new java.util.HashMap<>(headers);
    h.put(requireNonNull(name, "name"), requireNonNull(value, "value"));
    return new AdminResponse(status, contentType, body, h);
  }

  /** The body's bytes (a copy). */
  @Override
  public byte[] body() {
    return body.clone();
  }

  @Override
  public String toString() {
    return status + " " + contentType + " (" + body.length + " bytes)";
  }
}
