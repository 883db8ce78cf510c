package dev.conduit.core.mesh;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.conduit.core.control.push.PushState;
import dev.conduit.core.control.store.NodeRole;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The membership a node reads from the manager's pushed state, malformed entries skipped one by one. */
class MeshMembershipTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  private static JsonNode json(String text) throws Exception {
    return JSON.readTree(text.replace('\'', '"'));
  }

  @Test
  void readsMembersDeniedIdentitiesAndRevokedSerialsAndSkipsWhatIsMalformed() throws Exception {
    PushState state = PushState.of(7, Map.of(
        "node/a", json("{'name': 'a', 'identity': 'spiffe://m/node/a', 'role': 'both', 'addresses': ['198.18.0.2',"
            + " 'fd00::2'], 'server_address': '198.18.0.2:5053'}"),
        "node/c", json("{'name': 'c', 'identity': 'spiffe://m/node/c', 'role': 'client', 'addresses': ['198.18.0.4']}"),
        "node/bad", json("{'name': 'bad', 'identity': 'spiffe://m/node/bad', 'role': 'both', 'addresses': ['x.y']}"),
        "node/norole", json("{'name': 'norole', 'identity': 'spiffe://m/node/norole', 'addresses': []}"),
        "denied/b", json("{'name': 'b', 'identity': 'spiffe://m/node/b'}"),
        "revoked/1f", json("{'serial': '1f', 'node': 'b', 'not_after': '2030-01-01T00:00:00Z'}"),
        "future/x", json("{}")));
    MeshMembership m = MeshMembership.of(state);
    assertThat(m.version()).isEqualTo(7);
    assertThat(m.members()).containsOnlyKeys("a", "c");
    MeshMember a = m.members().get("a");
    assertThat(a.role()).isEqualTo(NodeRole.BOTH);
    assertThat(a.acceptsTunnels()).isTrue();
    assertThat(a.addresses()).extracting(java.net.InetAddress::getHostAddress)
        .containsExactly("198.18.0.2", "fd00:0:0:0:0:0:0:2");
    assertThat(m.members().get("c").acceptsTunnels()).isFalse();
    assertThat(m.deniedIdentities()).containsExactly("spiffe://m/node/b");
    assertThat(m.revokedSerials()).containsExactly("1f");
    assertThat(m.peersOf("a")).extracting(MeshMember::name).containsExactly("c");

    // only members running a server are tunnelled to, never this node's own addresses
    MeshTunnels tunnels = new MeshTunnels("c", () -> null, () -> java.util.List.of("198.18.0.4"));
    assertThat(tunnels.tunnelledAddresses(m)).extracting(java.net.InetAddress::getHostAddress)
        .containsExactly("198.18.0.2", "fd00:0:0:0:0:0:0:2");
    assertThat(new MeshTunnels("a", () -> null, () -> java.util.List.of("198.18.0.2")).tunnelledAddresses(m))
        .isEmpty();
  }
}
