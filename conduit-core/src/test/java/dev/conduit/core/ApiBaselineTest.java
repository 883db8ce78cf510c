package dev.conduit.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.lang.module.ModuleDescriptor;
import java.lang.reflect.Constructor;
import java.lang.reflect.Executable;
import java.lang.reflect.Field;
import java.lang.reflect.Member;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * conduit-core's public API, rendered (the public and protected signatures of the public types of the packages its
 * module exports) and compared with the committed {@code api/conduit-core.api}, so that an API change is a
 * deliberate one: it shows in review as a change of that file. To accept a change, regenerate the file:
 * <pre>./mvnw -B -ntp -pl conduit-core -am test -Dtest=ApiBaselineTest -Dsurefire.failIfNoSpecifiedTests=false -Dconduit.api.update=true</pre>
 */
class ApiBaselineTest {
  private static final Path BASELINE = Path.of("api", "conduit-core.api");
  private static final String UPDATE = "./mvnw -B -ntp -pl conduit-core -am test -Dtest=ApiBaselineTest"
      + " -Dsurefire.failIfNoSpecifiedTests=false -Dconduit.api.update=true";

  @Test
  void thePublicApiIsTheCommittedOne() throws Exception {
    String rendered = render();
    if (Boolean.getBoolean("conduit.api.update")) {
      Files.createDirectories(BASELINE.getParent());
      Files.writeString(BASELINE, rendered, StandardCharsets.UTF_8);
    }
    assertThat(BASELINE).as("the API baseline (create it with: %s)", UPDATE).exists();
    String committed = Files.readString(BASELINE, StandardCharsets.UTF_8);
    if (!committed.equals(rendered)) {
      throw new AssertionError("conduit-core's public API differs from " + BASELINE.toAbsolutePath()
          + ":\n" + diff(committed, rendered) + "\nIf the change is meant, regenerate the file and commit it:\n  "
          + UPDATE);
    }
  }

  /** The lines only in the baseline (-) and only in the build (+). */
  private static String diff(String committed, String rendered) {
    Set<String> before = new TreeSet<>(committed.lines().toList());
    Set<String> after = new TreeSet<>(rendered.lines().toList());
    List<String> out = new ArrayList<>();
    before.stream().filter(l -> !after.contains(l)).forEach(l -> out.add("- " + l));
    after.stream().filter(l -> !before.contains(l)).forEach(l -> out.add("+ " + l));
    return out.stream().limit(200).collect(Collectors.joining("\n"));
  }

  /** One line per public type and member, sorted; types first, each followed by its members. */
  static String render() throws IOException, URISyntaxException, ClassNotFoundException {
    Path classes = Path.of(Conduit.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    Set<String> exported;
    try (InputStream in = Files.newInputStream(classes.resolve("module-info.class"))) {
      exported = ModuleDescriptor.read(in).exports().stream().filter(e -> !e.isQualified())
          .map(ModuleDescriptor.Exports::source).collect(Collectors.toCollection(TreeSet::new));
    }
    Set<String> names = new TreeSet<>();
    for (String pkg : exported) {
      Path dir = classes.resolve(pkg.replace('.', '/'));
      try (Stream<Path> files = Files.list(dir)) {
        files.map(f -> f.getFileName().toString()).filter(f -> f.endsWith(".class"))
            .forEach(f -> names.add(pkg + "." + f.substring(0, f.length() - ".class".length())));
      }
    }
    StringBuilder out = new StringBuilder();
    for (String name : names) {
      Class<?> c = Class.forName(name, false, ApiBaselineTest.class.getClassLoader());
      if (!isApi(c)) {
        continue;
      }
      out.append(c.toGenericString());
      String supers = supertypes(c);
      if (!supers.isEmpty()) {
        out.append(supers);
      }
      out.append('\n');
      Set<String> members = new TreeSet<>();
      for (Field f : c.getDeclaredFields()) {
        if (visible(c, f) && !f.isSynthetic()) {
          members.add(f.toGenericString());
        }
      }
      for (Constructor<?> k : c.getDeclaredConstructors()) {
        if (visible(c, k) && !k.isSynthetic()) {
          members.add(executable(k));
        }
      }
      for (Method m : c.getDeclaredMethods()) {
        if (visible(c, m) && !m.isSynthetic() && !m.isBridge()) {
          members.add(executable(m));
        }
      }
      members.forEach(m -> out.append("  ").append(m).append('\n'));
    }
    return out.toString();
  }

  /** A public type whose enclosing types are public too. */
  private static boolean isApi(Class<?> c) {
    for (Class<?> k = c; k != null; k = k.getDeclaringClass()) {
      if (!Modifier.isPublic(k.getModifiers())) {
        return false;
      }
    }
    return !c.isAnonymousClass() && !c.isLocalClass() && !c.isSynthetic();
  }

  /** Public members, and protected ones of types that can be extended. */
  private static boolean visible(Class<?> owner, Member m) {
    int mod = m.getModifiers();
    return Modifier.isPublic(mod)
        || Modifier.isProtected(mod) && !Modifier.isFinal(owner.getModifiers()) && !owner.isEnum();
  }

  private static String executable(Executable e) {
    return e.toGenericString();
  }

  private static String supertypes(Class<?> c) {
    StringBuilder s = new StringBuilder();
    if (c.getGenericSuperclass() != null && c.getSuperclass() != Object.class && !c.isEnum() && !c.isRecord()) {
      s.append(" extends ").append(c.getGenericSuperclass().getTypeName());
    }
    if (c.getGenericInterfaces().length > 0) {
      s.append(c.isInterface() ? " extends " : " implements ").append(Stream.of(c.getGenericInterfaces())
          .map(java.lang.reflect.Type::getTypeName).collect(Collectors.joining(", ")));
    }
    return s.toString();
  }
}
