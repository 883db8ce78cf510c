package dev.conduit.core.observe;

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
 * Micrometer is optional: a conduit without {@link MicrometerObserver} runs where Micrometer is
 * absent and never even asks for a Micrometer class.
 */
class WithoutMicrometerTest {

  /** Child-first over the test class path, with every {@code io.micrometer} class missing. */
  static final class NoMicrometerLoader extends URLClassLoader {
    final Set<String> asked = ConcurrentHashMap.newKeySet();

    NoMicrometerLoader(URL[] urls) {
      super(urls, WithoutMicrometerTest.class.getClassLoader());
    }

    @Override
    protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
      if (name.startsWith("io.micrometer.")) {
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

  static URL[] testClassPath() throws Exception {
    String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    List<URL> urls = new ArrayList<>();
    for (String entry : cp.split(File.pathSeparator)) {
      if (!entry.isBlank()) {
        urls.add(new File(entry).toURI().toURL());
      }
    }
    return urls.toArray(URL[]::new);
  }

  @Test
  void conduitWithAccessLogRunsWithoutMicrometer() throws Exception {
    try (NoMicrometerLoader loader = new NoMicrometerLoader(testClassPath())) {
      Class<?> scenario = loader.loadClass(NoMicrometerScenario.class.getName());
      assertThat(scenario.getClassLoader()).isSameAs(loader);
      @SuppressWarnings("unchecked")
      Callable<List<String>> task = (Callable<List<String>>) scenario.getDeclaredConstructor().newInstance();
      List<String> lines = task.call();
      assertThat(lines).hasSize(1);
      assertThat(lines.get(0)).contains("\"outcome\":\"ok\"");
      assertThat(loader.asked).as("Micrometer classes asked for").isEmpty();

      // the loader really hides Micrometer: using the observer there fails
      Class<?> observer = loader.loadClass(MicrometerObserver.class.getName());
      assertThatThrownBy(() -> observer.getMethod("of", loader.loadClass("io.micrometer.core.instrument.MeterRegistry")))
          .isInstanceOf(ClassNotFoundException.class);
    }
  }
}
