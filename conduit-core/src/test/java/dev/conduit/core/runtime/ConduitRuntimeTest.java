package dev.conduit.core.runtime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.conduit.core.admin.AdminResponse;
import dev.conduit.core.admin.AdminServer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/** The runtime's lifecycle: order, unwinding, reload and the drain deadline, on a clock the test moves. */
class ConduitRuntimeTest {
  static final SectionKey<String> GREETING = SectionKey.of("greeting", String.class);

  /** A clock that moves only when the test (or a service) says so. */
  static final class TestClock extends Clock {
    private volatile Instant now = Instant.parse("2026-01-01T00:00:00Z");

    void advance(Duration d) {
      now = now.plus(d);
    }

    @Override
    public Instant instant() {
      return now;
    }

    @Override
    public java.time.ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(java.time.ZoneId zone) {
      return this;
    }
  }

  /** Records every call in one shared journal. */
  static class Recording implements Service {
    final String name;
    final List<String> journal;
    RuntimeException failStart;
    CompletionStage<Void> drainResult = CompletableFuture.completedFuture(null);
    Instant drainDeadline;
    Runnable onDrain = () -> { };
    String section;

    Recording(String name, List<String> journal) {
      this.name = name;
      this.journal = journal;
    }

    @Override
    public String name() {
      return name;
    }

    @Override
    public void start() {
      journal.add("start " + name);
      if (failStart != null) {
        throw failStart;
      }
    }

    @Override
    public ReloadOutcome reload(ConfigSections sections) {
      journal.add("reload " + name);
      String next = sections.get(GREETING).orElse(null);
      if ("bad".equals(next)) {
        throw new IllegalArgumentException("greeting: bad");
      }
      ReloadOutcome o = next == null || next.equals(section) ? ReloadOutcome.unchanged() : ReloadOutcome.applied(next);
      section = next;
      return o;
    }

    @Override
    public CompletionStage<Void> drain(Instant deadline) {
      journal.add("drain " + name);
      drainDeadline = deadline;
      onDrain.run();
      return drainResult;
    }

    @Override
    public void close() {
      journal.add("close " + name + (drainResult.toCompletableFuture().isDone() ? "" : " (undrained)"));
    }
  }

  @Test
  void startsInOrderAndDrainsThenClosesInReverse() throws Exception {
    List<String> journal = new CopyOnWriteArrayList<>();
    ConduitRuntime runtime = ConduitRuntime.builder().service(new Recording("a", journal))
        .service(new Recording("b", journal)).service(new Recording("c", journal)).build();
    assertThat(runtime.state()).isEqualTo(ConduitRuntime.State.NEW);
    runtime.start();
    assertThat(runtime.state()).isEqualTo(ConduitRuntime.State.RUNNING);
    assertThat(runtime.stop()).isTrue();
    assertThat(journal).containsExactly("start a", "start b", "start c", "drain c", "drain b", "drain a",
        "close c", "close b", "close a");
    assertThat(runtime.state()).isEqualTo(ConduitRuntime.State.STOPPED);
    assertThat(runtime.stop()).isTrue(); // idempotent
    assertThat(journal).hasSize(9);
  }

  @Test
  void aFailedStartClosesTheStartedOnesInReverse() {
    List<String> journal = new CopyOnWriteArrayList<>();
    Recording c = new Recording("c", journal);
    c.failStart = new IllegalStateException("port 80: in use");
    ConduitRuntime runtime = ConduitRuntime.builder().service(new Recording("a", journal))
        .service(new Recording("b", journal)).service(c).service(new Recording("d", journal)).build();
    assertThatThrownBy(runtime::start).isInstanceOf(ServiceStartException.class)
        .hasMessage("c: port 80: in use").hasCauseInstanceOf(IllegalStateException.class)
        .satisfies(e -> assertThat(((ServiceStartException) e).service()).isEqualTo("c"));
    assertThat(journal).containsExactly("start a", "start b", "start c", "close b", "close a");
    assertThat(runtime.state()).isEqualTo(ConduitRuntime.State.STOPPED);
    assertThatThrownBy(runtime::start).isInstanceOf(IllegalStateException.class);
  }

  @Test
  void reloadHandsEachServiceTheNewSectionsInStartOrderAndReportsFailures() throws Exception {
    List<String> journal = new CopyOnWriteArrayList<>();
    Service fixed = new Service() {
      private String running = "hello";

      @Override
      public String name() {
        return "fixed";
      }

      @Override
      public void start() {}

      @Override
      public ReloadOutcome reload(ConfigSections sections) {
        return ReloadOutcome.restartIfChanged(running, sections.get(GREETING).orElse(null), "greeting");
      }

      @Override
      public void close() {}
    };
    try (ConduitRuntime runtime = ConduitRuntime.builder().service(new Recording("a", journal)).service(fixed)
        .service(new Recording("b", journal)).build().start()) {
      ConfigSections next = ConfigSections.builder().section(GREETING, "bonjour").build();
      ReloadReport report = runtime.reload(next);
      assertThat(journal).containsExactly("start a", "start b", "reload a", "reload b");
      assertThat(report.succeeded()).isTrue();
      assertThat(report.outcomes()).containsOnlyKeys("a", "fixed", "b");
      assertThat(report.outcomes().get("a")).isEqualTo(ReloadOutcome.applied("bonjour"));
      assertThat(report.restartNeeded()).containsExactly("greeting");
      assertThat(runtime.sections()).isEqualTo(next);

      ReloadReport same = runtime.reload(next);
      assertThat(same.outcomes().get("b").kind()).isEqualTo(ReloadOutcome.Kind.UNCHANGED);

      ReloadReport bad = runtime.reload(ConfigSections.builder().section(GREETING, "bad").build());
      assertThat(bad.succeeded()).isFalse();
      assertThat(bad.failures()).containsOnlyKeys("a", "b").containsEntry("a", "greeting: bad");
      assertThat(bad.outcomes()).containsOnlyKeys("fixed");
      assertThat(runtime.state()).isEqualTo(ConduitRuntime.State.RUNNING);
    }
  }

  @Test
  void oneDrainDeadlineForAllAndAServiceStillDrainingAtItIsClosed() throws Exception {
    TestClock clock = new TestClock();
    List<String> journal = new CopyOnWriteArrayList<>();
    Recording slow = new Recording("slow", journal);
    slow.drainResult = new CompletableFuture<>(); // never drains by itself
    Recording last = new Recording("last", journal);
    // draining 'last' (stopped first) uses up the whole drain timeout
    last.onDrain = () -> clock.advance(Duration.ofSeconds(31));
    ConduitRuntime runtime = ConduitRuntime.builder().service(slow).service(last)
        .drainTimeout(Duration.ofSeconds(30)).clock(clock).build().start();
    Instant stopAt = clock.instant();

    assertThat(runtime.stop()).isFalse();
    assertThat(slow.drainDeadline).isEqualTo(stopAt.plusSeconds(30));
    assertThat(last.drainDeadline).isEqualTo(slow.drainDeadline);
    assertThat(journal).containsExactly("start slow", "start last", "drain last", "drain slow", "close last",
        "close slow (undrained)");
  }

  @Test
  void aServiceThatDrainsBeforeTheDeadlineIsClosedAfterItDrained() throws Exception {
    List<String> journal = new CopyOnWriteArrayList<>();
    Recording conduit = new Recording("conduit", journal);
    CompletableFuture<Void> drained = new CompletableFuture<>();
    conduit.drainResult = drained;
    Thread finisher = new Thread(() -> {
      journal.add("connections done");
      drained.complete(null);
    });
    conduit.onDrain = finisher::start;
    ConduitRuntime runtime = ConduitRuntime.builder().service(conduit).drainTimeout(Duration.ofMinutes(5)).build()
        .start();
    assertThat(runtime.stop()).isTrue();
    assertThat(journal).containsExactly("start conduit", "drain conduit", "connections done", "close conduit");
  }

  @Test
  void servicesMountTheirRoutesOnTheRuntimesAdminEndpoint() throws Exception {
    HttpClient http = HttpClient.newHttpClient();
    List<String> journal = new CopyOnWriteArrayList<>();
    Service role = new Recording("role", journal) {
      @Override
      public void mount(AdminServer.Builder admin) {
        admin.route("/role", req -> AdminResponse.json(200, "{\"role\":\"up\"}"));
      }
    };
    ConduitRuntime runtime = ConduitRuntime.builder().service(role)
        .admin(AdminServer.builder().bind("127.0.0.1:0").token("t0k")).build();
    assertThat(runtime.admin()).isEmpty();
    runtime.start();
    try {
      String base = "http://127.0.0.1:" + runtime.admin().orElseThrow().address().getPort();
      HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(base + "/role"))
          .header("Authorization", "Bearer t0k").build(), HttpResponse.BodyHandlers.ofString());
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(r.body()).isEqualTo("{\"role\":\"up\"}");
      runtime.reload(ConfigSections.builder().section(GREETING, "hi").build());
      HttpResponse<String> status = http.send(HttpRequest.newBuilder(URI.create(base + ConduitRuntime.STATUS_PATH))
          .header("Authorization", "Bearer t0k").build(), HttpResponse.BodyHandlers.ofString());
      assertThat(status.body()).contains("\"state\":\"running\"").contains("\"services\":[\"role\",\"admin\"]")
          .contains("\"role\":\"APPLIED (hi)\"");
      assertThat(http.send(HttpRequest.newBuilder(URI.create(base + "/role")).build(),
          HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(401);
    } finally {
      runtime.stop();
    }
    assertThat(journal).containsExactly("start role", "reload role", "drain role", "close role");
  }

  @Test
  void aListenerHearsEveryEventInOrderAndCannotDisturbTheRuntime() throws Exception {
    List<String> journal = new CopyOnWriteArrayList<>();
    List<String> heard = new CopyOnWriteArrayList<>();
    Recording b = new Recording("b", journal);
    b.failStart = new IllegalStateException("no");
    RuntimeListener listener = new RuntimeListener() {
      @Override
      public void stateChanged(ConduitRuntime.State state) {
        heard.add(state.toString());
      }

      @Override
      public void started(Service service) {
        heard.add("started " + service.name());
        throw new IllegalStateException("a listener's bug");
      }

      @Override
      public void startFailed(Service service, Throwable cause) {
        heard.add("failed " + service.name() + ": " + cause.getMessage());
      }

      @Override
      public void reloaded(Service service, ReloadOutcome outcome) {
        heard.add("reloaded " + service.name() + " " + outcome.kind());
      }

      @Override
      public void drained(Service service, boolean inTime) {
        heard.add("drained " + service.name() + " " + inTime);
      }

      @Override
      public void closed(Service service) {
        heard.add("closed " + service.name());
      }
    };
    ConduitRuntime failing = ConduitRuntime.builder().listener(listener).service(new Recording("a", journal))
        .service(b).build();
    assertThatThrownBy(failing::start).isInstanceOf(ServiceStartException.class);
    assertThat(heard).containsExactly("STARTING", "started a", "failed b: no", "closed a", "STOPPED");

    heard.clear();
    ConduitRuntime runtime = ConduitRuntime.builder().listener(listener).service(new Recording("c", journal))
        .build().start();
    runtime.reload(ConfigSections.builder().section(GREETING, "hej").build());
    runtime.stop();
    assertThat(heard).containsExactly("STARTING", "started c", "RUNNING", "reloaded c APPLIED", "STOPPING",
        "drained c true", "closed c", "STOPPED");
  }

  @Test
  void namesAreUnique() {
    List<String> journal = new CopyOnWriteArrayList<>();
    ConduitRuntime.Builder b = ConduitRuntime.builder().service(new Recording("a", journal));
    assertThatThrownBy(() -> b.service(new Recording("a", journal))).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("a added twice");
    assertThatThrownBy(() -> ConduitRuntime.builder().drainTimeout(Duration.ofSeconds(-1)))
        .hasMessageContaining("drainTimeout");
  }
}
