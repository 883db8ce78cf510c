package dev.conduit.core.egress.internal;

import dev.conduit.core.admin.AdminRequest;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/** The web page's sessions: an HttpOnly session cookie and a CSRF token for double submission. Thread-safe. */
public final class Sessions {

  /** The session cookie's name. */
  public static final String SESSION_COOKIE = "conduit_session";
  /** The CSRF cookie's name (readable by the page, sent back in {@code X-CSRF-Token}). */
  public static final String CSRF_COOKIE = "conduit_csrf";
  private static final int MAX_SESSIONS = 10_000;
  private static final SecureRandom RANDOM = new SecureRandom();

  /** One session. */
  public record Session(String id, String name, String csrf, Instant expires) {}

  private final Clock clock;
  private final Duration lifetime;
  private final Map<String, Session> sessions = new ConcurrentHashMap<>();

  /** Creates the sessions, each valid for {@code lifetime}. */
  public Sessions(Clock clock, Duration lifetime) {
    this.clock = clock;
    this.lifetime = lifetime;
  }

  /** Returns the time on the sessions' clock. */
  public Instant now() {
    return clock.instant();
  }

  /** Starts a session for the admin token called {@code name}. */
  public Session create(String name) {
    Instant now = clock.instant();
    if (sessions.size() >= MAX_SESSIONS) {
      sessions.values().removeIf(s -> !s.expires().isAfter(now));
      if (sessions.size() >= MAX_SESSIONS) { // bounded: the oldest goes
        sessions.values().stream().min((a, b) -> a.expires().compareTo(b.expires()))
            .ifPresent(s -> sessions.remove(s.id()));
      }
    }
    Session s = new Session(random(), name, random(), now.plus(lifetime));
    sessions.put(s.id(), s);
    return s;
  }

  /** Returns the live session with this id. */
  public Optional<Session> find(Optional<String> id) {
    if (id.isEmpty()) {
      return Optional.empty();
    }
    Session s = sessions.get(id.get());
    if (s == null || !s.expires().isAfter(clock.instant())) {
      return Optional.empty();
    }
    return Optional.of(s);
  }

  /** Ends a session. */
  public void remove(Session s) {
    sessions.remove(s.id());
  }

  /** Returns the two cookies of a new session, one per line. */
  public static String setCookies(Session s) {
    return SESSION_COOKIE + "=" + s.id() + "; HttpOnly; SameSite=Strict; Path=/\n"
        + CSRF_COOKIE + "=" + s.csrf() + "; SameSite=Strict; Path=/";
  }

  /** Returns cookies that clear both. */
  public static String clearCookies() {
    return SESSION_COOKIE + "=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0\n"
        + CSRF_COOKIE + "=; SameSite=Strict; Path=/; Max-Age=0";
  }

  /** Returns a cookie's value from the request's {@code Cookie} header. */
  public static Optional<String> cookie(AdminRequest request, String name) {
    Optional<String> header = request.header("cookie");
    if (header.isEmpty()) {
      return Optional.empty();
    }
    for (String part : header.get().split(";")) {
      String p = part.trim();
      if (p.startsWith(name + "=")) {
        return Optional.of(p.substring(name.length() + 1));
      }
    }
    return Optional.empty();
  }

  private static String random() {
    byte[] b = new byte[32];
    RANDOM.nextBytes(b);
    return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
  }
}
