package dev.conduit.cli.command;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.conduit.cli.CliContext;
import dev.conduit.cli.CliException;
import dev.conduit.cli.ExitCode;
import dev.conduit.cli.RunControl;
import dev.conduit.core.Conduit;
import dev.conduit.core.runtime.ConduitRuntime;
import dev.conduit.core.runtime.ConfigSections;
import dev.conduit.core.runtime.ReloadOutcome;
import dev.conduit.core.runtime.SectionKey;
import dev.conduit.core.runtime.Service;
import dev.conduit.netfilter.CommandRunner;
import java.io.IOException;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** The one lifecycle of the long-running commands, for a role without a conduit (as the manager will be). */
class LifecycleTest {
  static final SectionKey<String> ROLE = SectionKey.of("role", String.class);

  /** A role with no conduit: records its lifecycle, takes its section on reload. */
  static final class Role implements Service {
    final List<String> journal = new CopyOnWriteArrayList<>();

    @Override
    public String name() {
      return "role";
    }

    @Override
    public void start() {
      journal.add("start");
    }

    @Override
    public ReloadOutcome reload(ConfigSections sections) {
      journal.add("reload " + sections.get(ROLE).orElse("-"));
      return ReloadOutcome.applied(sections.get(ROLE).orElse("-"));
    }

    @Override
    public void close() {
      journal.add("close");
    }
  }

  @Test
  void aRoleWithoutAConduitStartsReloadsAndStops() throws Exception {
    Role role = new Role();
    AtomicReference<ConduitRuntime> seen = new AtomicReference<>();
    RunControl control = new RunControl() {
      private Runnable reload;

      @Override
      public void started(Conduit conduit) {
        throw new AssertionError("this runtime has no conduit");
      }

      @Override
      public void started(ConduitRuntime runtime) {
        seen.set(runtime);
      }

      @Override
      public void reloadable(Runnable action) {
        reload = action;
      }

      @Override
      public void awaitStop() {
        reload.run(); // SIGHUP, then SIGTERM
      }
    };
    ConduitRuntime runtime = ConduitRuntime.builder().service(role).build();
    int exit = Lifecycle.run(runtime, new CliContext(control, CommandRunner.system()),
        () -> ConfigSections.builder().section(ROLE, "v2").build(), Lifecycle::startError);
    assertThat(exit).isEqualTo(ExitCode.OK);
    assertThat(seen.get()).isSameAs(runtime);
    assertThat(role.journal).containsExactly("start", "reload v2", "close");
    assertThat(runtime.state()).isEqualTo(ConduitRuntime.State.STOPPED);
  }

  @Test
  void aReloadThatCannotReadItsConfigurationKeepsTheRunningOne() throws Exception {
    Role role = new Role();
    ConduitRuntime runtime = ConduitRuntime.builder().service(role).build().start();
    try {
      assertThat(Lifecycle.reload(runtime, () -> {
        throw new IOException("conduit.yaml: line 3: bad indentation");
      })).isFalse();
      assertThat(role.journal).containsExactly("start");
      assertThat(Lifecycle.reload(runtime, () -> ConfigSections.builder().section(ROLE, "v3").build())).isTrue();
    } finally {
      runtime.stop();
    }
    assertThat(Lifecycle.reload(runtime, ConfigSections::empty)).as("stopped: nothing to reload").isFalse();
  }

  @Test
  void aFailedStartIsTheCommandsOneLineError() {
    Service failing = Service.closing("listener", () -> { });
    ConduitRuntime runtime = ConduitRuntime.builder().service(new Service() {
      @Override
      public String name() {
        return "cache";
      }

      @Override
      public void start() throws IOException {
        throw new IOException("cache: /var/cache/conduit: permission denied");
      }

      @Override
      public void close() {}
    }).service(failing).build();
    RunControl never = new RunControl() {
      @Override
      public void started(Conduit conduit) {}

      @Override
      public void awaitStop() {
        throw new AssertionError("not started");
      }
    };
    assertThatThrownBy(() -> Lifecycle.run(runtime, new CliContext(never, CommandRunner.system()), null,
        Lifecycle::startError)).isInstanceOf(CliException.class)
        .hasMessage("cache: /var/cache/conduit: permission denied")
        .satisfies(e -> assertThat(((CliException) e).exitCode()).isEqualTo(ExitCode.FAILURE));
  }
}
