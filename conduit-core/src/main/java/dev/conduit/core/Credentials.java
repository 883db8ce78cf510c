package dev.conduit.core;

import static java.util.Objects.requireNonNull;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;

/**
 * A user name and password, for proxy authentication in both directions. {@link #toString()}
 * masks the password.
 */
public record Credentials(String username, String password) {

  /** Checks the components. */
  public Credentials {
    requireNonNull(username, "username");
    requireNonNull(password, "password");
    if (username.length() > 255 || password.length() > 255) {
      throw new IllegalArgumentException("credentials: longer than 255 bytes (expected: RFC 1929 limits)");
    }
  }

  /** Constant-time comparison, so the check does not leak how much of a guess was right. */
  public boolean matches(String user, String pass) {
    return MessageDigest.isEqual(username.getBytes(StandardCharsets.UTF_8), user.getBytes(StandardCharsets.UTF_8))
        & MessageDigest.isEqual(password.getBytes(StandardCharsets.UTF_8), pass.getBytes(StandardCharsets.UTF_8));
  }

  @Override
  public String toString() {
    return "Credentials[username=" + username + ", password=****]";
  }
}
