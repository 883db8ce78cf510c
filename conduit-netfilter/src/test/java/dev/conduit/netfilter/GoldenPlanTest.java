package dev.conduit.netfilter;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * Compares the dry-run text of every plan case, for both backends, with
 * {@code src/test/resources/golden/<backend>-<case>.txt}. Run with {@code -Dconduit.updateGolden=true}
 * to rewrite the files (then review the diff).
 */
class GoldenPlanTest {

  private static final Path GOLDEN = Path.of("src/test/resources/golden");
  private static final boolean UPDATE = Boolean.getBoolean("conduit.updateGolden");

  @TestFactory
  List<DynamicTest> plansMatchGoldenFiles() {
    CommandRunner unused = (argv, stdin) -> {
      throw new AssertionError("plan() must not run commands: " + argv);
    };
    List<DynamicTest> tests = new ArrayList<>();
    for (NetfilterBackend backend :
        List.of(NetfilterBackend.iptables(unused), NetfilterBackend.nftables(unused))) {
      for (Map.Entry<String, CapturePlan> c : PlanCases.all().entrySet()) {
        String name = backend.name() + "-" + c.getKey() + ".txt";
        tests.add(DynamicTest.dynamicTest(name, () -> {
          String actual = "# " + c.getValue() + "\n"
              + backend.plan(c.getValue()).stream().map(Command::toString)
                  .collect(Collectors.joining("\n")) + "\n";
          Path file = GOLDEN.resolve(name);
          if (UPDATE) {
            Files.createDirectories(GOLDEN);
            Files.writeString(file, actual, StandardCharsets.UTF_8);
          }
          assertThat(file).as("golden file (run with -Dconduit.updateGolden=true)").exists();
          assertThat(actual).isEqualTo(read(file));
        }));
      }
    }
    return tests;
  }

  private static String read(Path file) throws IOException {
    return Files.readString(file, StandardCharsets.UTF_8);
  }
}
