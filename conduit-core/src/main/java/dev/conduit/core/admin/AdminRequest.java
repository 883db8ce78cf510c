package dev.conduit.core.admin;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.pki.PeerIdentity;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * One request to the admin endpoint, read whole (its size is bounded by the endpoint) and already
 * authorised, as a {@link AdminRoute} sees it.
 *
 * @param method the HTTP method, upper case ({@code GET}, {@code POST}, …)
 * @param path the decoded path, starting with {@code /}
 * @param query the decoded query parameters, in order of appearance
 * @param headers the request headers, names in lower case (the last value of a repeated header)
 * @param body the request body; empty when there is none
 * @param clientCertificate the identity in the client certificate the endpoint verified over HTTPS, if any
 */
public record AdminRequest(String method, String path, Map<String, List<String>> query,
    Map<String, String> headers, byte[] body, Optional<PeerIdentity> clientCertificate) {

  /** Copies the collections, so a request is immutable. */
  public AdminRequest {
    requireNonNull(clientCertificate, "clientCertificate");
    requireNonNull(method, "method");
    requireNonNull(path, "path");
    query = Map.copyOf(requireNonNull(query, "query"));
    headers = Map.copyOf(requireNonNull(headers, "headers"));
    body = requireNonNull(body, "body").clone();
  }

  /** A request without a client certificate. */
  public AdminRequest(String method, String path, Map<String, List<String>> query, Map<String, String> headers,
      byte[] body) {
    this(method, path, query, headers, body, Optional.empty());
  }

  /** The first value of a query parameter, if present. */
  public Optional<String> parameter(String name) {
    List<String> values = query.get(name);
    return values == null || values.isEmpty() ? Optional.empty() : Optional.of(values.get(0));
  }

  /** A header's value by its name (any case), if present. */
  public Optional<String> header(String name) {
    return Optional.ofNullable(headers.get(name.toLowerCase(java.util.Locale.ROOT)));
  }

  /** The body decoded as UTF-8. */
  public String bodyText() {
    return new String(body, StandardCharsets.UTF_8);
  }

  /** The body's bytes (a copy). */
  @Override
  public byte[] body() {
    return body.clone();
  }

  @Override
  public String toString() {
    return method + " " + path + " (" + body.length + " bytes)";
  }
}
