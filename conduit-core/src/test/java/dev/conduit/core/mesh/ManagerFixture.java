package dev.conduit.core.mesh;

import dev.conduit.core.control.enrol.CertificateLifetime;
import dev.conduit.core.control.enrol.NodeEnrolment;
import dev.conduit.core.control.store.NodeRole;
import dev.conduit.core.control.store.StoreConfig;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.UnaryOperator;

/** Managers on 127.0.0.1 with SQLite in a directory, and nodes that enrol with them. */
final class ManagerFixture {

  static final String ADMIN_TOKEN = "test-admin-token-0123456789";

  private ManagerFixture() {}

  static MeshManager start(Path dir) throws IOException {
    return start(dir, b -> b);
  }

  static MeshManager start(Path dir, UnaryOperator<MeshManager.Builder> tweak) throws IOException {
    MeshManager.Builder b = MeshManager.builder(StoreConfig.sqlite(dir.resolve("manager.db")).build(), dir)
        .bind(new InetSocketAddress("127.0.0.1", 0)).trustDomain("test.mesh").adminToken(ADMIN_TOKEN)
        .nodeCertificates(CertificateLifetime.of(Duration.ofDays(30)), "conduit tests");
    return tweak.apply(b).build().start();
  }

  static String address(MeshManager manager) {
    return "127.0.0.1:" + manager.address().getPort();
  }

  static NodeEnrolment.Builder node(MeshManager manager, Path state, String name, String ip) {
    return NodeEnrolment.builder(List.of(address(manager)), state).name(name).role(NodeRole.BOTH)
        .addresses(List.of(ip, "fd00::" + ip.substring(ip.lastIndexOf('.') + 1))).serverAddress(ip + ":5053")
        .backoff(Duration.ofMillis(50), Duration.ofMillis(500)).timeout(Duration.ofSeconds(20));
  }

  static ManagerAdminClient admin(MeshManager manager) {
    return ManagerAdminClient.withToken(List.of(address(manager)), manager.caPin(), ADMIN_TOKEN);
  }
}
