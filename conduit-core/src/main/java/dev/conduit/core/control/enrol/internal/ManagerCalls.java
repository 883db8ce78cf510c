package dev.conduit.core.control.enrol.internal;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;

/**
 * JSON calls to a manager over HTTPS with the JDK's HTTP client: each manager address is tried in order until one
 * answers. The TLS context decides whom to trust (a {@link PinnedTrustManager}) and what to present.
 */
public final class ManagerCalls {

  /** One answer: the HTTP status and the JSON body (an empty object when the body was not JSON). */
  public record Answer(int status, JsonNode body, String address) {
    /** Returns the manager's {@code error} message, or the status when it sent none. */
    public String error() {
      JsonNode e = body.get("error");
      return e != null && e.isTextual() ? e.asText() : "HTTP " + status;
    }
  }

  /** The shared JSON mapper. */
  public static final ObjectMapper JSON = new ObjectMapper();

  private final List<String> addresses;
  private final HttpClient client;
  private final Duration timeout;

  /** A client of {@code addresses} ({@code host:port}, tried in order) over {@code tls}. */
  public ManagerCalls(List<String> addresses, SSLContext tls, Duration timeout) {
    this.addresses = List.copyOf(requireNonNull(addresses, "addresses"));
    if (this.addresses.isEmpty()) {
      throw new IllegalArgumentException("managers: none (expected: at least one HOST:PORT)");
    }
    this.timeout = requireNonNull(timeout, "timeout");
    this.client = HttpClient.newBuilder().sslContext(requireNonNull(tls, "tls")).version(HttpClient.Version.HTTP_1_1)
        .connectTimeout(timeout).followRedirects(HttpClient.Redirect.NEVER).build();
  }

  /** Returns a TLS context that trusts {@code trust} and presents {@code key} with {@code chain} when given. */
  public static SSLContext tls(TrustManager trust, PrivateKey key, List<X509Certificate> chain) {
    try {
      SSLContext context = SSLContext.getInstance("TLS");
      KeyManagerFactory keyManagers = null;
      if (key != null) {
        KeyStore store = KeyStore.getInstance("PKCS12");
        store.load(null, null);
        char[] password = "conduit".toCharArray();
        store.setKeyEntry("node", key, password, chain.toArray(new Certificate[0]));
        keyManagers = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        keyManagers.init(store, password);
      }
      context.init(keyManagers == null ? null : keyManagers.getKeyManagers(), new TrustManager[] {trust},
          new SecureRandom());
      return context;
    } catch (IOException | GeneralSecurityException e) {
      throw new IllegalStateException("tls: " + e.getMessage(), e);
    }
  }

  /** Sends {@code method path} with an optional JSON body and bearer token to the first manager that answers. */
  public Answer call(String method, String path, Optional<ObjectNode> body, Optional<String> bearer)
      throws IOException {
    IOException last = null;
    for (String address : addresses) {
      HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("https://" + address + path)).timeout(timeout)
          .header("Accept", "application/json");
      bearer.ifPresent(b -> request.header("Authorization", "Bearer " + b));
      if (body.isPresent()) {
        request.header("Content-Type", "application/json")
            .method(method, HttpRequest.BodyPublishers.ofByteArray(JSON.writeValueAsBytes(body.get())));
      } else {
        request.method(method, HttpRequest.BodyPublishers.noBody());
      }
      try {
        HttpResponse<byte[]> response = client.send(request.build(), HttpResponse.BodyHandlers.ofByteArray());
        JsonNode json;
        try {
          json = response.body().length == 0 ? JSON.createObjectNode() : JSON.readTree(response.body());
        } catch (IOException e) {
          json = JSON.createObjectNode();
        }
        return new Answer(response.statusCode(), json == null ? JSON.createObjectNode() : json, address);
      } catch (javax.net.ssl.SSLHandshakeException e) {
        // the pin or identity did not match: another address may be the real manager, but say why if none is
        last = new IOException("manager " + address + ": TLS refused: " + rootMessage(e), e);
      } catch (ConnectException | HttpTimeoutException e) {
        last = new IOException("manager " + address + ": " + (e.getMessage() == null ? e.toString() : e.getMessage()),
            e);
      } catch (IOException e) {
        last = new IOException("manager " + address + ": " + rootMessage(e), e);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new java.io.InterruptedIOException("interrupted");
      }
    }
    throw last;
  }

  static String rootMessage(Throwable e) {
    Throwable t = e;
    while (t.getCause() != null && t.getCause() != t) {
      t = t.getCause();
    }
    return t.getMessage() == null ? t.toString() : t.getMessage();
  }
}
