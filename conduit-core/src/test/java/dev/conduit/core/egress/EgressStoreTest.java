package dev.conduit.core.egress;

import static org.assertj.core.api.Assertions.assertThat;

import dev.conduit.core.control.store.AuditEntry;
import dev.conduit.core.control.store.ControlStore;
import dev.conduit.core.control.store.StoreConfig;
import dev.conduit.core.egress.internal.EgressStore;
import dev.conduit.core.net.IpAddress;
import dev.conduit.core.testing.MariaDbServer;
import dev.conduit.core.testing.PostgresServer;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The egress tables on every database the control store supports (the store's migrations create them): entries
 * with their addresses round-trip, a duplicate value is refused, addresses are replaced, deletes and the audit log.
 */
class EgressStoreTest {

  @TempDir
  Path dir;

  @Test
  void sqlite() {
    exercise(StoreConfig.sqlite(dir.resolve("egress.db")).build());
  }

  @Test
  void postgres() throws Exception {
    try (PostgresServer server = PostgresServer.start()) {
      exercise(StoreConfig.postgres(server.createDatabase("egress")).user(PostgresServer.USER)
          .password(PostgresServer.PASSWORD).build());
    }
  }

  @Test
  void mariadb() throws Exception {
    try (MariaDbServer server = MariaDbServer.start()) {
      exercise(StoreConfig.mysql(server.createDatabase("egress")).user(MariaDbServer.USER)
          .password(MariaDbServer.PASSWORD).build());
    }
  }

  static void exercise(StoreConfig config) {
    Instant t0 = Instant.parse("2026-01-01T00:00:00Z");
    Instant t1 = t0.plusSeconds(60);
    try (ControlStore control = ControlStore.open(config)) {
      EgressStore store = new EgressStore(control);
      ResolvedAddress v4 = new ResolvedAddress(IpAddress.parse("198.18.0.10"), t0, t0, Optional.empty());
      ResolvedAddress v6 = new ResolvedAddress(IpAddress.parse("fd00::10"), t0, t0, Optional.of(t1));
      EgressEntry domain = new EgressEntry("e1", new EntryValue(EntryKind.DOMAIN, "api.example.com"), List.of(80, 443),
          true, "payments", t0, "token:ops", Optional.of(t0), Optional.empty(), List.of(v4, v6));
      EgressEntry prefix = new EgressEntry("e2", new EntryValue(EntryKind.PREFIX, "198.18.2.0/24"), List.of(), false,
          "", t1, "seed-api", Optional.empty(), Optional.of("x"), List.of());
      assertThat(store.insert(domain, "add", "kind=domain")).isTrue();
      assertThat(store.insert(prefix, "add", "kind=prefix")).isTrue();
      EgressEntry clash = new EgressEntry("e3", domain.value(), List.of(), false, "", t1, "x", Optional.empty(),
          Optional.empty(), List.of());
      assertThat(store.insert(clash, "add", "")).isFalse();
      assertThat(store.entries()).containsExactly(domain, prefix);

      ResolvedAddress moved = new ResolvedAddress(IpAddress.parse("198.18.0.11"), t1, t1, Optional.empty());
      store.resolved("e1", Optional.of(t1), Optional.of("resolves to 10.0.0.1: left out"), List.of(moved), true);
      EgressEntry read = store.entries().get(0);
      assertThat(read.addresses()).containsExactly(moved);
      assertThat(read.lastResolvedAt()).contains(t1);
      assertThat(read.lastError()).contains("resolves to 10.0.0.1: left out");

      assertThat(store.delete("e1", t1, "ui:ops", "api.example.com")).isTrue();
      assertThat(store.delete("e1", t1, "ui:ops", "api.example.com")).isFalse();
      assertThat(store.entries()).containsExactly(prefix);
      List<AuditEntry> audit = store.auditLog(2);
      assertThat(audit).extracting(AuditEntry::action).containsExactly("delete", "add");
      assertThat(audit.get(0).actor()).isEqualTo("ui:ops");
      assertThat(audit.get(1).subject()).isEqualTo("198.18.2.0/24");
    }
  }
}
