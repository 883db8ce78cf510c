package dev.conduit.cli.config;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * References in configuration values, so that no secret has to be written into {@code conduit.yaml},
 * a flag ({@code ps} shows flags) or a log: {@code ${file:/run/secrets/proxy-password}} is replaced by
 * the file's content (one trailing line break removed), {@code ${env:NAME}} by an environment
 * variable's value, and <code>$${</code> is a literal <code>${</code>. A value may hold several references and
 * text around them ({@code alice:${file:/run/secrets/alice}}).
 */
public final class ConfigValues {

  /** The longest file a reference may read: a secret, not a document. */
  static final int MAX_FILE_BYTES = 64 * 1024;

  private static final Pattern REFERENCE = Pattern.compile("\\$(\\$?)\\{(file|env):([^}]*)}");

  private final Map<String, String> environment;

  private ConfigValues(Map<String, String> environment) {
    this.environment = Map.copyOf(environment);
  }

  /**
   * References resolved against this environment.
   *
   * @param environment the variables {@code ${env:NAME}} reads (normally {@link System#getenv()})
   * @return the resolver
   */
  public static ConfigValues of(Map<String, String> environment) {
    return new ConfigValues(requireNonNull(environment, "environment"));
  }

  /** Whether the text has a reference to resolve (or an escaped one). */
  static boolean hasReference(String text) {
    return text.contains("${");
  }

  /**
   * The text with every reference replaced.
   *
   * @param text a configuration value or flag value
   * @return the resolved value
   * @throws IllegalArgumentException naming the reference (never the secret) when a file cannot be
   *     read or a variable is not set
   */
  public String resolve(String text) {
    requireNonNull(text, "text");
    if (!hasReference(text)) {
      return text;
    }
    Matcher m = REFERENCE.matcher(text);
    StringBuilder out = new StringBuilder();
    int last = 0;
    while (m.find()) {
      out.append(text, last, m.start());
      if (!m.group(1).isEmpty()) {
        out.append(m.group().substring(1)); // $${...}: the reference's text itself
      } else if (m.group(2).equals("file")) {
        out.append(readFile(m.group(3)));
      } else {
        String value = environment.get(m.group(3));
        if (value == null) {
          throw new IllegalArgumentException("${env:" + m.group(3) + "}: the variable is not set");
        }
        out.append(value);
      }
      last = m.end();
    }
    out.append(text, last, text.length());
    return out.toString();
  }

  private static String readFile(String name) {
    String reference = "${file:" + name + "}";
    if (name.isBlank()) {
      throw new IllegalArgumentException(reference + ": no file named (expected: ${file:/path/to/secret})");
    }
    byte[] bytes;
    try (InputStream in = Files.newInputStream(Path.of(name))) {
      bytes = in.readNBytes(MAX_FILE_BYTES + 1);
    } catch (NoSuchFileException e) {
      throw new IllegalArgumentException(reference + ": no such file");
    } catch (IOException | java.nio.file.InvalidPathException e) {
      throw new IllegalArgumentException(reference + ": cannot read: " + e.getMessage());
    }
    if (bytes.length > MAX_FILE_BYTES) {
      throw new IllegalArgumentException(reference + ": larger than " + MAX_FILE_BYTES + " bytes (expected: a secret)");
    }
    String value;
    try {
      value = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
          .decode(java.nio.ByteBuffer.wrap(bytes)).toString();
    } catch (CharacterCodingException e) {
      throw new IllegalArgumentException(reference + ": not UTF-8 text");
    }
    // `echo secret > file` adds a line break that is no part of the secret
    if (value.endsWith("\r\n")) {
      return value.substring(0, value.length() - 2);
    }
    return value.endsWith("\n") ? value.substring(0, value.length() - 1) : value;
  }
}
