package dev.conduit.core.control.store;

import static dev.conduit.core.control.store.StoreFixtures.node;
import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/**
 * What every {@link ControlStore} does, whatever the database: run by {@link SqliteStoreTest},
 * {@link PostgresStoreTest} and {@link MariaDbStoreTest} against real databases.
 */
abstract class StoreContractTest {

  /** Returns the configuration of a new, empty database (a new one at each call). */
  protected abstract StoreConfig newStore() throws Exception;

  /** Opens a store on a new, empty database. */
  protected ControlStore open() throws Exception {
    return ControlStore.open(newStore());
  }

  @Test
  protected void migratesOnceAndKeepsStateAcrossReopen() throws Exception {
    StoreConfig config = newStore();
    try (ControlStore store = ControlStore.open(config)) {
      assertThat(store.version()).isZero();
      assertThat(store.insertNode(node("a", "198.18.0.1"), true, "test")).isTrue();
      assertThat(store.version()).isEqualTo(1);
    }
    try (ControlStore store = ControlStore.open(config)) {
      assertThat(store.version()).isEqualTo(1);
      NodeRecord a = store.node("a").orElseThrow();
      assertThat(a.state()).isEqualTo(NodeState.APPROVED);
      assertThat(a.addresses()).containsExactly("198.18.0.1");
      assertThat(a.serverAddress()).contains("198.18.0.1:5053");
      assertThat(a.changedVersion()).isEqualTo(1);
      assertThat(store.auditLog(5)).extracting(AuditEntry::action).containsExactly("node.admit");
    }
  }

  @Test
  protected void namesCompareExactly() throws Exception {
    try (ControlStore store = open()) {
      assertThat(store.insertNode(node("node-a", "198.18.0.1"), true, "test")).isTrue();
      assertThat(store.insertNode(node("Node-A", "198.18.0.2"), true, "test"))
          .as("names differing in case are two nodes, on every database").isTrue();
      assertThat(store.node("NODE-A")).isEmpty();
      assertThat(store.nodes()).extracting(NodeRecord::name).containsExactlyInAnyOrder("node-a", "Node-A");
    }
  }

  @Test
  protected void pendingApproveRevokeRemove() throws Exception {
    try (ControlStore store = open()) {
      StoreFixtures.Versions versions = new StoreFixtures.Versions();
      store.subscribe(versions);
      assertThat(store.insertNode(node("b", "198.18.0.2", "fd00::2"), false, "node:b")).isTrue();
      assertThat(store.version()).as("a pending node is not a member: no version bump").isZero();
      assertThat(store.insertNode(node("b", "198.18.0.9"), false, "node:b")).as("name taken").isFalse();
      assertThat(store.node("b").orElseThrow().pendingCsr()).isPresent();

      assertThat(store.changeState("b", NodeState.PENDING, NodeState.APPROVED, "admin")).isTrue();
      assertThat(versions.awaitAtLeast(1)).isEqualTo(1);
      assertThat(store.changeState("b", NodeState.PENDING, NodeState.APPROVED, "admin")).isFalse();

      Instant notAfter = Instant.now().plus(Duration.ofDays(30));
      store.recordCertificate("b", "0abc", notAfter, "sha256:b", "node:b");
      NodeRecord b = store.node("b").orElseThrow();
      assertThat(b.certificateSerial()).contains("0abc");
      assertThat(b.pendingCsr()).isEmpty();
      assertThat(store.isRevoked("0abc")).isFalse();

      assertThat(store.changeState("b", NodeState.APPROVED, NodeState.REVOKED, "admin")).isTrue();
      assertThat(versions.awaitAtLeast(2)).isEqualTo(2);
      assertThat(store.isRevoked("0abc")).isTrue();
      assertThat(store.revokedCertificates(Instant.now())).extracting(RevokedCertificate::serial)
          .containsExactly("0abc");
      assertThat(store.revokedCertificates(notAfter.plusSeconds(1))).as("expired ones need no listing").isEmpty();

      assertThat(store.deleteNode("b", "admin")).isTrue();
      assertThat(store.deleteNode("b", "admin")).isFalse();
      assertThat(store.node("b")).isEmpty();
      assertThat(store.version()).isEqualTo(3);

      assertThat(store.auditLog(10)).extracting(AuditEntry::action)
          .containsSubsequence("node.remove", "node.revoke", "certificate.issue", "node.approve", "node.pending");
    }
  }

  @Test
  protected void reportsBumpOnlyOnChange() throws Exception {
    try (ControlStore store = open()) {
      store.insertNode(node("c", "198.18.0.3"), true, "test");
      long v = store.version();
      assertThat(store.updateReport("c", NodeRole.BOTH, List.of("198.18.0.3"), java.util.Optional.of("198.18.0.3:5053")))
          .isFalse();
      assertThat(store.version()).isEqualTo(v);
      assertThat(store.updateReport("c", NodeRole.BOTH, List.of("198.18.0.3", "fd00::3"),
          java.util.Optional.of("198.18.0.3:5053"))).isTrue();
      assertThat(store.version()).isEqualTo(v + 1);
      assertThat(store.node("c").orElseThrow().addresses()).containsExactly("198.18.0.3", "fd00::3");
      store.recordApplied("c", v + 1, "sha256:rules");
      store.recordSeen("c", Instant.ofEpochSecond(1_800_000_000L));
      NodeRecord c = store.node("c").orElseThrow();
      assertThat(c.appliedVersion()).hasValue(v + 1);
      assertThat(c.appliedHash()).contains("sha256:rules");
      assertThat(c.lastSeen()).contains(Instant.ofEpochSecond(1_800_000_000L));
      assertThat(store.version()).isEqualTo(v + 1);
    }
  }

  @Test
  protected void acknowledgementsOfManyNodesAreRecordedTogether() throws Exception {
    try (ControlStore store = open()) {
      store.insertNode(node("e", "198.18.0.5"), true, "test");
      store.insertNode(node("f", "198.18.0.6"), true, "test");
      long v = store.version();
      store.recordApplied(List.of(new AppliedVersion("e", v, "sha256:e"), new AppliedVersion("f", v - 1, "sha256:f"),
          new AppliedVersion("gone", v, "sha256:gone")));
      assertThat(store.node("e").orElseThrow().appliedVersion()).hasValue(v);
      assertThat(store.node("e").orElseThrow().appliedHash()).contains("sha256:e");
      assertThat(store.node("f").orElseThrow().appliedVersion()).hasValue(v - 1);
      assertThat(store.node("gone")).isEmpty();
      store.recordApplied(List.of());
      assertThat(store.version()).isEqualTo(v);
    }
  }

  @Test
  protected void joinTokensAreSingleUseAndExpire() throws Exception {
    try (ControlStore store = open()) {
      Instant now = Instant.now();
      store.createToken("t1", "hash1", now.plusSeconds(600), "admin", "test");
      store.createToken("t2", "hash2", now.minusSeconds(1), "admin", "expired");
      assertThat(store.admitWithToken("t1", "wrong", node("d", "198.18.0.4"), now, "node:d"))
          .isEqualTo(TokenAdmission.UNKNOWN);
      assertThat(store.admitWithToken("nope", "hash1", node("d", "198.18.0.4"), now, "node:d"))
          .isEqualTo(TokenAdmission.UNKNOWN);
      assertThat(store.admitWithToken("t2", "hash2", node("d", "198.18.0.4"), now, "node:d"))
          .isEqualTo(TokenAdmission.EXPIRED);
      assertThat(store.node("d")).as("nothing stored on refusal").isEmpty();
      store.insertNode(node("taken", "198.18.0.5"), false, "node:taken");
      NewNode otherKey = new NewNode("taken", "spiffe://test.mesh/node/taken", NodeRole.BOTH, List.of("198.18.0.5"),
          java.util.Optional.empty(), "sha256:another-key", "csr");
      assertThat(store.admitWithToken("t1", "hash1", otherKey, now, "node:taken"))
          .isEqualTo(TokenAdmission.NAME_TAKEN);
      assertThat(store.admitWithToken("t1", "hash1", node("d", "198.18.0.4"), now, "node:d"))
          .as("a refused attempt did not use the token").isEqualTo(TokenAdmission.ADMITTED);
      assertThat(store.node("d").orElseThrow().state()).isEqualTo(NodeState.APPROVED);
      assertThat(store.admitWithToken("t1", "hash1", node("e", "198.18.0.6"), now, "node:e"))
          .isEqualTo(TokenAdmission.USED);
      assertThat(store.node("e")).isEmpty();
      // a node pending with the same key is approved by a token
      store.createToken("t3", "hash3", now.plusSeconds(600), "admin", "");
      long before = store.version();
      assertThat(store.admitWithToken("t3", "hash3", node("taken", "198.18.0.5"), now, "node:taken"))
          .isEqualTo(TokenAdmission.ADMITTED);
      assertThat(store.node("taken").orElseThrow().state()).isEqualTo(NodeState.APPROVED);
      assertThat(store.version()).isEqualTo(before + 1);
    }
  }

  @Test
  protected void racingEnrolmentsWithOneTokenAdmitExactlyOne() throws Exception {
    try (ControlStore store = open()) {
      int racers = 8;
      for (int round = 0; round < 5; round++) {
        String id = "race" + round;
        store.createToken(id, "h", Instant.now().plusSeconds(600), "admin", "");
        ExecutorService pool = Executors.newFixedThreadPool(racers);
        try {
          CountDownLatch go = new CountDownLatch(1);
          List<Future<TokenAdmission>> results = new ArrayList<>();
          for (int i = 0; i < racers; i++) {
            NewNode n = node("r" + round + "-" + i, "198.18.1." + (i + 1));
            Callable<TokenAdmission> task = () -> {
              go.await();
              return store.admitWithToken(id, "h", n, Instant.now(), "node");
            };
            results.add(pool.submit(task));
          }
          go.countDown();
          List<TokenAdmission> outcomes = new ArrayList<>();
          for (Future<TokenAdmission> f : results) {
            outcomes.add(f.get());
          }
          assertThat(outcomes).filteredOn(o -> o == TokenAdmission.ADMITTED).hasSize(1);
          assertThat(outcomes).filteredOn(o -> o != TokenAdmission.ADMITTED).containsOnly(TokenAdmission.USED);
        } finally {
          pool.shutdownNow();
        }
      }
      assertThat(store.nodes()).hasSize(5);
    }
  }

  @Test
  protected void certificateAuthorityIsStoredOnce() throws Exception {
    try (ControlStore store = open()) {
      assertThat(store.certificateAuthority()).isEmpty();
      StoredCa first = new StoredCa("pem1", new byte[] {1, 2, 3}, "sha256:k", Instant.ofEpochSecond(1));
      assertThat(store.storeCertificateAuthorityIfAbsent(first)).isTrue();
      assertThat(store.storeCertificateAuthorityIfAbsent(
          new StoredCa("pem2", new byte[] {9}, "sha256:k", Instant.ofEpochSecond(2)))).isFalse();
      StoredCa stored = store.certificateAuthority().orElseThrow();
      assertThat(stored.certificatePem()).isEqualTo("pem1");
      assertThat(stored.encryptedKey()).containsExactly(1, 2, 3);
      assertThat(stored.toString()).doesNotContain("pem1");
    }
  }

  @Test
  void concurrentChangesToOneNodeAllComplete() throws Exception {
    try (ControlStore store = open()) {
      ExecutorService pool = Executors.newFixedThreadPool(5);
      try {
        long bumps = 0;
        for (int round = 0; round < 10; round++) {
          String name = "busy" + round;
          assertThat(store.insertNode(node(name, "198.18.3.1"), true, "test")).isTrue();
          bumps++;
          CountDownLatch go = new CountDownLatch(1);
          String serial = "0b" + round;
          List<Callable<Boolean>> work = List.of(
              () -> store.updateReport(name, NodeRole.CLIENT, List.of("198.18.3.2"), java.util.Optional.empty()),
              () -> store.changeState(name, NodeState.APPROVED, NodeState.REVOKED, "admin"),
              () -> store.deleteNode(name, "admin"),
              () -> {
                store.recordCertificate(name, serial, Instant.now().plusSeconds(600), "sha256:" + name, "node");
                return false; // no version bump
              },
              () -> store.updateReport(name, NodeRole.SERVER, List.of("198.18.3.3"), java.util.Optional.empty()));
          List<Future<Boolean>> results = new ArrayList<>();
          for (Callable<Boolean> w : work) {
            results.add(pool.submit(() -> {
              go.await();
              return w.call();
            }));
          }
          go.countDown();
          for (Future<Boolean> f : results) {
            // whatever the order, every change completes: none fails on a lock the others hold
            bumps += f.get(60, java.util.concurrent.TimeUnit.SECONDS) ? 1 : 0;
          }
          assertThat(store.node(name)).as("removed, whatever ran before").isEmpty();
        }
        assertThat(store.version()).as("one version per change that happened").isEqualTo(bumps);
      } finally {
        pool.shutdownNow();
      }
    }
  }
}
