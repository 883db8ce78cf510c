package dev.conduit.core.egress.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.conduit.core.admin.AdminRequest;
import dev.conduit.core.admin.AdminResponse;
import dev.conduit.core.admin.AdminRoute;
import dev.conduit.core.control.push.PushAgentStatus;
import dev.conduit.core.egress.EgressEntry;
import dev.conduit.core.egress.EgressException;
import dev.conduit.core.egress.EntryValue;
import dev.conduit.core.egress.NewEntry;
import dev.conduit.core.net.IpPrefixSet;
import java.io.IOException;
import java.io.InputStream;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * The egress server's HTTP routes, mounted on an admin endpoint without a token of its own: seed 003's GET API,
 * conduit's JSON API (bearer token, admin client certificate, or web session with a CSRF token), the web page's login, and its static files.
 */
public final class EgressHttp implements AdminRoute {

  /** The prefixes to mount this route under. */
  public static final List<String> PREFIXES = List.of("/api", "/show-all", "/ping", "/ui");

  private static final String UI = "/dev/conduit/core/egress/ui/";
  private static final String SEED = "seed-api";

  private final EntryBook book;
  private final EgressStore store;
  private final GatewayReports reports;
  private final Supplier<List<PushAgentStatus>> agents;
  private final Map<String, byte[]> adminTokens;
  private final Sessions sessions;
  private final boolean seedApi;
  private final IpPrefixSet allowedSpecial;

  /**
   * Creates the routes.
   *
   * @param adminTokens the admin tokens by name
   * @param seedApi whether the seed-compatible GET API answers
   */
  public EgressHttp(EntryBook book, EgressStore store, GatewayReports reports,
      Supplier<List<PushAgentStatus>> agents, Map<String, String> adminTokens, Sessions sessions, boolean seedApi,
      IpPrefixSet allowedSpecial) {
    this.book = book;
    this.store = store;
    this.reports = reports;
    this.agents = agents;
    this.adminTokens = new java.util.HashMap<>();
    adminTokens.forEach((name, token) -> this.adminTokens.put(name, token.getBytes(StandardCharsets.UTF_8)));
    this.sessions = sessions;
    this.seedApi = seedApi;
    this.allowedSpecial = allowedSpecial;
  }

  /** A refusal carrying its HTTP status. */
  private static final class HttpError extends RuntimeException {
    private static final long serialVersionUID = 1L;
    final int status;

    HttpError(int status, String message) {
      super(message, null, false, false);
      this.status = status;
    }
  }

  @Override
  public AdminResponse handle(AdminRequest request) {
    String path = request.path();
    try {
      if (path.equals("/ping")) {
        return json(200, EgressJson.JSON.objectNode().put("message", "pong"));
      }
      if (path.equals("/show-all") || path.equals("/api")) {
        return seed(request);
      }
      if (path.equals("/ui") || path.startsWith("/ui/")) {
        return ui(request);
      }
      if (path.startsWith("/api/v1/")) {
        return api(request, path.substring("/api/v1".length()));
      }
      throw new HttpError(404, "no such resource: " + path);
    } catch (HttpError e) {
      return json(e.status, EgressJson.error(e.getMessage()));
    } catch (EgressException e) {
      return json(e.kind().httpStatus(), EgressJson.error(e.getMessage()));
    }
  }

  private AdminResponse seed(AdminRequest request) {
    if (!seedApi) {
      return json(403, EgressJson.seedReply("the seed-compatible API answers on loopback only (the operator may "
          + "expose it explicitly)", false));
    }
    if (!request.method().equals("GET")) {
      return json(405, EgressJson.seedReply("method " + request.method() + " (expected: GET)", false));
    }
    if (request.path().equals("/show-all")) {
      return json(200, EgressJson.seedRecords(book.entries()));
    }
    Optional<String> add = request.parameter("add");
    Optional<String> del = request.parameter("del");
    if (add.isEmpty() && del.isEmpty()) {
      return json(400, EgressJson.seedReply("expected: /api?add=NAME_OR_IP[&nonDeletable=true] or /api?del=NAME_OR_IP",
          false));
    }
    try {
      if (add.isPresent()) {
        boolean nonDeletable = request.parameter("nonDeletable").map(v -> v.equalsIgnoreCase("true")).orElse(false);
        book.add(new NewEntry(add.get(), List.of(), nonDeletable, ""), SEED, "add");
      }
      if (del.isPresent()) {
        EntryValue value = EntryValue.parse(del.get(), allowedSpecial);
        EgressEntry entry = book.byValue(value).orElseThrow(() -> new EgressException(
            EgressException.Kind.NOT_FOUND, value.text() + ": no such entry"));
        if (entry.nonDeletable()) {
          throw new EgressException(EgressException.Kind.NOT_DELETABLE, value.text() + " 不可删除 (non-deletable)");
        }
        book.delete(entry.id(), SEED);
      }
    } catch (EgressException e) {
      return json(400, EgressJson.seedReply(e.getMessage(), false));
    }
    return json(200, EgressJson.seedReply(add.orElseGet(del::get), true));
  }

  private AdminResponse api(AdminRequest request, String path) {
    String method = request.method();
    String actor = authenticate(request);
    if (path.equals("/entries")) {
      if (method.equals("GET")) {
        String q = request.parameter("q").orElse("").toLowerCase(Locale.ROOT);
        ObjectNode root = EgressJson.JSON.objectNode();
        var list = root.putArray("entries");
        for (EgressEntry e : book.entries()) {
          if (q.isEmpty() || e.value().text().contains(q) || e.comment().toLowerCase(Locale.ROOT).contains(q)
              || e.addresses().stream().anyMatch(a -> a.address().toString().contains(q))) {
            list.add(EgressJson.entry(e, reports));
          }
        }
        return json(200, root);
      }
      requireMethod(method, "POST", "GET, POST");
      return json(201, EgressJson.entry(book.add(newEntry(request), actor, "add"), reports));
    }
    if (path.startsWith("/entries/")) {
      requireMethod(method, "DELETE", "DELETE");
      book.delete(path.substring("/entries/".length()), actor);
      return AdminResponse.noContent();
    }
    if (path.equals("/learned/adopt")) {
      requireMethod(method, "POST", "POST");
      JsonNode body = body(request);
      String value = textField(body, "value");
      JsonNode all = body.path("allPorts");
      if (!all.isMissingNode() && !all.isNull() && !all.isBoolean()) {
        throw new HttpError(400, "allPorts: " + all + " (expected: true or false)");
      }
      List<Integer> given = ports(body);
      if (all.asBoolean(false) && given != null && !given.isEmpty()) {
        throw new HttpError(400, "allPorts: true with ports (expected: one of them)");
      }
      // by default the ports the denied flows were seen on; every port only when the operator asks
      List<Integer> ports = all.asBoolean(false) ? List.of()
          : given != null ? given : List.copyOf(reports.learnedPorts(value));
      return json(201, EgressJson.entry(book.add(new NewEntry(value, ports, false,
          "adopted from the learned allowlist"), actor, "adopt"), reports));
    }
    requireMethod(method, "GET", "GET");
    switch (path) {
      case "/traffic":
        return json(200, EgressJson.traffic(book.entries(), reports));
      case "/audit":
        int limit = request.parameter("limit").map(EgressHttp::limit).orElse(100);
        return json(200, EgressJson.audit(store.auditLog(limit)));
      case "/learned":
        ObjectNode learned = EgressJson.JSON.objectNode();
        learned.set("learned", reports.learned());
        return json(200, learned);
      case "/gateways":
        return json(200, EgressJson.gateways(agents.get(), reports));
      default:
        throw new HttpError(404, "no such resource: /api/v1" + path);
    }
  }

  private String authenticate(AdminRequest request) {
    Optional<String> authorization = request.header("authorization");
    if (authorization.isPresent()) {
      String given = authorization.get();
      if (given.regionMatches(true, 0, "Bearer ", 0, 7)) {
        Optional<String> name = tokenName(given.substring(7).trim());
        if (name.isPresent()) {
          return "token:" + name.get();
        }
      }
      throw new HttpError(401, "unauthorized: unknown bearer token");
    }
    if (request.clientCertificate().isPresent()) {
      // a browser sends an installed certificate on any site's request, as it sends cookies
      checkSameOrigin(request);
      return "cert:" + request.clientCertificate().get().value();
    }
    Optional<Sessions.Session> session = sessions.find(Sessions.cookie(request, Sessions.SESSION_COOKIE));
    if (session.isEmpty()) {
      throw new HttpError(401, "unauthorized: a bearer token, an admin certificate or a web session is required");
    }
    checkSameOrigin(request);
    if (!request.method().equals("GET") && !request.method().equals("HEAD")) {
      String header = request.header("x-csrf-token").orElse("");
      String cookie = Sessions.cookie(request, Sessions.CSRF_COOKIE).orElse("");
      if (header.isEmpty() || !constantEquals(header, cookie) || !constantEquals(header, session.get().csrf())) {
        throw new HttpError(403, "forbidden: missing or wrong X-CSRF-Token");
      }
    }
    return "ui:" + session.get().name();
  }

  private AdminResponse ui(AdminRequest request) {
    String path = request.path();
    if (path.equals("/ui/login") || path.equals("/ui/logout")) {
      requireMethod(request.method(), "POST", "POST");
      checkSameOrigin(request);
      if (path.equals("/ui/logout")) {
        sessions.find(Sessions.cookie(request, Sessions.SESSION_COOKIE)).ifPresent(sessions::remove);
        return AdminResponse.noContent().withHeader("Set-Cookie", Sessions.clearCookies());
      }
      String token = loginToken(request);
      String name = tokenName(token).orElseThrow(() -> new HttpError(401, "login: unknown token"));
      Sessions.Session s = sessions.create(name);
      store.audit(sessions.now(), "ui:" + name, "login", name, "web session");
      return AdminResponse.noContent().withHeader("Set-Cookie", Sessions.setCookies(s));
    }
    requireMethod(request.method(), "GET", "GET");
    if (path.equals("/ui")) {
      return AdminResponse.of(308, null, new byte[0]).withHeader("Location", "/ui/");
    }
    String file = path.equals("/ui/") ? "index.html" : path.substring("/ui/".length());
    if (!file.matches("[A-Za-z0-9_-][A-Za-z0-9._-]{0,100}") || file.contains("..")) {
      throw new HttpError(404, "no such file: " + path);
    }
    try (InputStream in = EgressHttp.class.getResourceAsStream(UI + file)) {
      if (in == null) {
        throw new HttpError(404, "no such file: " + path);
      }
      return AdminResponse.of(200, contentType(file), in.readAllBytes())
          .withHeader("Content-Security-Policy", "default-src 'self'")
          .withHeader("X-Frame-Options", "DENY")
          .withHeader("X-Content-Type-Options", "nosniff");
    } catch (IOException e) {
      throw new HttpError(404, "cannot read " + path + ": " + e.getMessage());
    }
  }

  private String loginToken(AdminRequest request) {
    String type = request.header("content-type").orElse("").toLowerCase(Locale.ROOT);
    if (type.startsWith("application/json")) {
      return textField(body(request), "token");
    }
    for (String pair : request.bodyText().split("&")) {
      int eq = pair.indexOf('=');
      if (eq > 0 && pair.substring(0, eq).equals("token")) {
        return URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
      }
    }
    throw new HttpError(400, "login: expected a form field or JSON property 'token'");
  }

  private Optional<String> tokenName(String token) {
    byte[] given = token.getBytes(StandardCharsets.UTF_8);
    String found = null;
    for (Map.Entry<String, byte[]> e : adminTokens.entrySet()) {
      if (MessageDigest.isEqual(given, e.getValue())) {
        found = e.getKey();
      }
    }
    return Optional.ofNullable(found);
  }

  /** Refuses a browser request another site made: Sec-Fetch-Site, or an Origin other than the Host. */
  private static void checkSameOrigin(AdminRequest request) {
    Optional<String> site = request.header("sec-fetch-site");
    if (site.isPresent() && !site.get().equals("same-origin") && !site.get().equals("none")) {
      throw new HttpError(403, "forbidden: cross-site request (Sec-Fetch-Site: " + site.get() + ")");
    }
    Optional<String> origin = request.header("origin");
    Optional<String> host = request.header("host");
    if (origin.isPresent() && !origin.get().equals("null") && host.isPresent()) {
      String o = origin.get().replaceFirst("^[a-zA-Z]+://", "");
      if (!o.equalsIgnoreCase(host.get())) {
        throw new HttpError(403, "forbidden: cross-origin request (Origin " + origin.get() + ")");
      }
    } else if (origin.isPresent() && origin.get().equals("null")) {
      throw new HttpError(403, "forbidden: cross-origin request (Origin null)");
    }
  }

  private NewEntry newEntry(AdminRequest request) {
    JsonNode body = body(request);
    String value = textField(body, "value");
    List<Integer> given = ports(body);
    List<Integer> ports = given == null ? List.of() : given;
    JsonNode nd = body.path("nonDeletable");
    if (!nd.isMissingNode() && !nd.isNull() && !nd.isBoolean()) {
      throw new HttpError(400, "nonDeletable: " + nd + " (expected: true or false)");
    }
    JsonNode comment = body.path("comment");
    if (!comment.isMissingNode() && !comment.isNull() && !comment.isTextual()) {
      throw new HttpError(400, "comment: expected a string");
    }
    return new NewEntry(value, ports, nd.asBoolean(false), comment.isTextual() ? comment.asText() : "");
  }

  /** The body's {@code ports} array, or null when it has none. */
  private static List<Integer> ports(JsonNode body) {
    JsonNode p = body.path("ports");
    if (p.isMissingNode() || p.isNull()) {
      return null;
    }
    if (!p.isArray() || p.size() > NewEntry.MAX_PORTS) {
      throw new HttpError(400, "ports: expected an array of at most " + NewEntry.MAX_PORTS + " port numbers");
    }
    List<Integer> ports = new ArrayList<>();
    for (JsonNode port : p) {
      if (!port.isInt()) {
        throw new HttpError(400, "ports: " + port + " (expected: a port number 1-65535)");
      }
      ports.add(port.asInt());
    }
    return ports;
  }

  private static JsonNode body(AdminRequest request) {
    JsonNode body;
    try {
      body = EgressJson.MAPPER.readTree(request.body());
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new HttpError(400, "body: malformed JSON (" + e.getOriginalMessage() + ")");
    } catch (IOException e) {
      throw new HttpError(400, "body: unreadable (" + e.getMessage() + ")");
    }
    if (body == null || !body.isObject()) {
      throw new HttpError(400, "body: expected a JSON object");
    }
    return body;
  }

  private static String textField(JsonNode body, String name) {
    JsonNode v = body.path(name);
    if (!v.isTextual()) {
      throw new HttpError(400, name + ": " + (v.isMissingNode() ? "missing" : v.getNodeType().name().toLowerCase(
          Locale.ROOT)) + " (expected: a string)");
    }
    return v.asText();
  }

  private static void requireMethod(String method, String expected, String allow) {
    if (!method.equals(expected)) {
      throw new HttpError(405, "method " + method + " (expected: " + allow + ")");
    }
  }

  private static int limit(String text) {
    try {
      int n = Integer.parseInt(text);
      if (n >= 1 && n <= 10_000) {
        return n;
      }
    } catch (NumberFormatException e) {
      // answered below
    }
    throw new HttpError(400, "limit: " + text + " (expected: 1-10000)");
  }

  private static boolean constantEquals(String a, String b) {
    return MessageDigest.isEqual(a.getBytes(StandardCharsets.UTF_8), b.getBytes(StandardCharsets.UTF_8));
  }

  private static String contentType(String file) {
    if (file.endsWith(".html")) {
      return "text/html; charset=utf-8";
    } else if (file.endsWith(".js")) {
      return "text/javascript; charset=utf-8";
    } else if (file.endsWith(".css")) {
      return "text/css; charset=utf-8";
    } else if (file.endsWith(".svg")) {
      return "image/svg+xml";
    } else if (file.endsWith(".png")) {
      return "image/png";
    } else if (file.endsWith(".json")) {
      return "application/json";
    }
    return "application/octet-stream";
  }

  private static AdminResponse json(int status, JsonNode body) {
    return AdminResponse.json(status, EgressJson.text(body));
  }
}
