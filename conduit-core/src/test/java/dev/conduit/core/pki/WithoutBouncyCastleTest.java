package dev.conduit.core.pki;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.File;
import java.net.URL;
import java.net.URLClassLoader;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.Test;

/**
 * BouncyCastle is optional: only the parts that issue certificates or read legacy key files need it. A
 * plain forward proxy runs where it is absent and never asks for one of its classes.
 */
class WithoutBouncyCastleTest {

  /** Child-first over the test class path, with every {@code org.bouncycastle} class missing. */
  static final class NoBouncyCastleLoader extends URLClassLoader {
    final Set<String> asked = ConcurrentHashMap.newKeySet();

    NoBouncyCastleLoader(URL[] urls) {
      super(urls, WithoutBouncyCastleTest.class.getClassLoader());
    }

    @Override
    protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
      if (name.startsWith("org.bouncycastle.")) {
        asked.add(name);
        throw new ClassNotFoundException(name + " (hidden by the test)");
      }
      synchronized (getClassLoadingLock(name)) {
        Class<?> c = findLoadedClass(name);
        if (c == null && !name.startsWith("java.") && !name.startsWith("javax.") && !name.startsWith("jdk.")
            && !name.startsWith("com.sun.") && !name.startsWith("sun.") && !name.startsWith("org.junit.")) {
          try {
            c = findClass(name);
          } catch (ClassNotFoundException notOurs) {
            // the JDK's or the test runner's: the parent has it
          }
        }
        if (c == null) {
          c = getParent().loadClass(name);
        }
        if (resolve) {
          resolveClass(c);
        }
        return c;
      }
    }
  }

  private static URL[] testClassPath() throws Exception {
    String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    List<URL> urls = new ArrayList<>();
    for (String entry : cp.split(File.pathSeparator)) {
      if (!entry.isBlank() && !new File(entry).getName().startsWith("bc")) {
        urls.add(new File(entry).toURI().toURL());
      }
    }
    return urls.toArray(URL[]::new);
  }

  @Test
  void aPlainForwardProxyRunsWithoutBouncyCastle() throws Exception {
    dev.conduit.core.testing.Processes.requireTool("curl");
    try (NoBouncyCastleLoader loader = new NoBouncyCastleLoader(testClassPath())) {
      Class<?> scenario = loader.loadClass(NoBouncyCastleScenario.class.getName());
      assertThat(scenario.getClassLoader()).isSameAs(loader);
      @SuppressWarnings("unchecked")
      Callable<List<String>> task = (Callable<List<String>>) scenario.getDeclaredConstructor().newInstance();
      assertThat(task.call()).containsExactly("hello", "hello");
      assertThat(loader.asked).as("BouncyCastle classes asked for").isEmpty();

      // the loader really hides BouncyCastle: issuing a certificate there fails
      Class<?> ca = loader.loadClass(CertificateAuthority.class.getName());
      assertThatThrownBy(() -> ca.getMethods()).isInstanceOf(NoClassDefFoundError.class);
    }
  }
}
