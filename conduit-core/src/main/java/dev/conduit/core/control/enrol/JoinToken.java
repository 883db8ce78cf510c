package dev.conduit.core.control.enrol;

import static java.util.Objects.requireNonNull;

import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.regex.Pattern;

/**
 * A join token, {@code <id>.<secret>} as kubeadm's bootstrap tokens: a 6-character public id (shown in lists
 * and the audit log) and a 16-character secret. The store keeps only the id and the SHA-256 of the secret.
 * {@link #toString()} masks the secret.
 *
 * @param id the public id
 * @param secret the secret
 */
public record JoinToken(String id, String secret) {

  private static final Pattern ID = Pattern.compile("[a-z0-9]{6}");
  private static final Pattern SECRET = Pattern.compile("[a-z0-9]{16}");
  private static final char[] ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789".toCharArray();
  private static final SecureRandom RANDOM = new SecureRandom();

  /** Checks the format. */
  public JoinToken {
    requireNonNull(id, "id");
    requireNonNull(secret, "secret");
    if (!ID.matcher(id).matches() || !SECRET.matcher(secret).matches()) {
      throw new IllegalArgumentException("join token: malformed (expected: 6 and 16 lower-case letters or digits "
          + "joined by '.', as 'conduit manager token create' prints)");
    }
  }

  /** Generates a random token (about 82 bits of secret). */
  public static JoinToken generate() {
    return new JoinToken(random(6), random(16));
  }

  /**
   * Parses {@code id.secret}.
   *
   * @throws IllegalArgumentException if malformed
   */
  public static JoinToken parse(String text) {
    requireNonNull(text, "text");
    String t = text.trim();
    int dot = t.indexOf('.');
    if (dot < 0 || t.length() > 64) {
      throw new IllegalArgumentException("join token: malformed (expected: 6 and 16 lower-case letters or digits "
          + "joined by '.', as 'conduit manager token create' prints)");
    }
    return new JoinToken(t.substring(0, dot), t.substring(dot + 1));
  }

  /** Returns the hex SHA-256 of the secret, which is all the store keeps of it. */
  public String secretHash() {
    return HexFormat.of().formatHex(CaPin.sha256(secret.getBytes(StandardCharsets.US_ASCII)));
  }

  /** Returns {@code id.secret}: the text to hand to a node. */
  public String value() {
    return id + "." + secret;
  }

  /** Returns the id with the secret masked. */
  @Override
  public String toString() {
    return id + ".****************";
  }

  private static String random(int length) {
    char[] out = new char[length];
    for (int i = 0; i < length; i++) {
      out[i] = ALPHABET[RANDOM.nextInt(ALPHABET.length)];
    }
    return new String(out);
  }
}
