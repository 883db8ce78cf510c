package dev.conduit.cli.command;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.conduit.cli.config.MeshNodeConfig;
import dev.conduit.netfilter.CapturePlan;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The plan the mesh capture installs: the members' addresses, never the manager's. */
class MeshCaptureTest {
  private static final List<InetSocketAddress> LISTENERS = List.of(new InetSocketAddress("0.0.0.0", 5353));

  private static InetAddress ip(String s) throws Exception {
    return InetAddress.getByName(s);
  }

  @Test
  void theManagersAddressesAreNotCaptured() throws Exception {
    CapturePlan plan = MeshCapture.plan(List.of(ip("198.18.0.11"), ip("198.18.0.17"), ip("fd00::17"), ip("fd00::11")),
        List.of(ip("198.18.0.17"), ip("fd00::17")), LISTENERS);
    assertEquals(List.of(ip("198.18.0.11"), ip("fd00::11")), plan.destinationAddresses());
  }

  @Test
  void onlyTheManagersAddressesLeftMeansNoRules() throws Exception {
    assertNull(MeshCapture.plan(List.of(ip("198.18.0.17")), List.of(ip("198.18.0.17")), LISTENERS));
  }

  @Test
  void managerAddressesComeFromDialAndPush() throws Exception {
    assertEquals(List.of(ip("198.18.0.17"), ip("fd00::17")),
        MeshCapture.managerAddresses(new MeshNodeConfig(true, "tcp", List.of("198.18.0.17:5051"), Optional.empty(),
            Optional.empty(), Optional.empty(), Optional.empty(), "/tmp/unused", List.of("[fd00::17]:5052",
            "198.18.0.17:5052"), List.of())));
  }
}
