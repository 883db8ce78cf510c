package dev.conduit.core;

import static java.util.Objects.requireNonNull;

import java.util.List;
import java.util.Optional;

/**
 * Checks proxy credentials (HTTP Basic, SOCKS5 username/password) and names the principal.
 *
 * <p>Called on an event loop: implementations must be fast and must not block. Implementations must
 * be safe for concurrent use.
 */
@FunctionalInterface
public interface Authenticator {

  /**
   * Returns the principal for valid credentials, or empty when they are wrong.
   *
   * @param username as sent by the client
   * @param password as sent by the client
   */
  Optional<String> authenticate(String username, String password);

  /** An authenticator that accepts exactly the given users. */
  static Authenticator of(List<Credentials> users) {
    List<Credentials> copy = List.copyOf(requireNonNull(users, "users"));
    return (user, pass) -> {
      Optional<String> found = Optional.empty();
      for (Credentials c : copy) {
        if (c.matches(user, pass)) {
          found = Optional.of(c.username());
        }
      }
      return found;
    };
  }

  /** An authenticator that accepts one user. */
  static Authenticator of(Credentials user) {
    return of(List.of(user));
  }
}
