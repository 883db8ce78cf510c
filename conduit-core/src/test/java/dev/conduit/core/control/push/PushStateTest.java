package dev.conduit.core.control.push;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Versioned state: deltas with removals, and a hash independent of order and kept in step by deltas. */
class PushStateTest {

  private static final ObjectMapper JSON = new ObjectMapper();

  private static JsonNode json(String text) throws Exception {
    return JSON.readTree(text);
  }

  @Test
  void diffThenApplyGivesTheLaterStateWithRemovals() throws Exception {
    PushState one = PushState.of(1, Map.of("a", json("{\"ip\":\"198.18.0.1\"}"), "b", json("{\"ip\":\"fd00::b\"}")));
    PushState two = PushState.of(2, Map.of("a", json("{\"ip\":\"198.18.0.9\"}"), "c", json("{\"ip\":\"fd00::c\"}")));
    PushDelta delta = one.diff(two);
    assertThat(delta.fromVersion()).isEqualTo(1);
    assertThat(delta.toVersion()).isEqualTo(2);
    assertThat(delta.upserts()).containsOnlyKeys("a", "c");
    assertThat(delta.removals()).containsExactly("b");
    assertThat(one.apply(delta)).isEqualTo(two);
    assertThat(one.apply(delta).hash()).isEqualTo(two.hash());
  }

  @Test
  void theHashIgnoresPropertyOrderAndFollowsDeltasIncrementally() throws Exception {
    PushState a = PushState.of(1, Map.of("n", json("{\"x\":1,\"y\":[1,2]}")));
    PushState b = PushState.of(9, Map.of("n", json("{\"y\":[1,2],\"x\":1}")));
    assertThat(a.hash()).isEqualTo(b.hash()).hasSize(64);
    assertThat(PushState.of(1, Map.of("n", json("{\"y\":[2,1],\"x\":1}"))).hash()).isNotEqualTo(a.hash());
    assertThat(PushState.empty().hash()).isEqualTo("0".repeat(64));

    PushState start = PushState.of(1, Map.of("p", json("1"), "q", json("2"), "r", json("3")));
    start.hash(); // known: the next hash is computed from it
    PushState next = start.apply(new PushDelta(1, 2, Map.of("q", json("20"), "s", json("4")), Set.of("p")));
    PushState fresh = PushState.of(2, next.resources());
    assertThat(next.hash()).isEqualTo(fresh.hash());
  }

  @Test
  void badDeltasAreRefusedWithClearMessages() throws Exception {
    assertThatThrownBy(() -> new PushDelta(3, 3, Map.of(), Set.of()))
        .hasMessage("versions: 3 -> 3 (expected: 0 <= from < to)");
    assertThatThrownBy(() -> new PushDelta(1, 2, Map.of("k", json("1")), Set.of("k")))
        .hasMessage("key k: both upserted and removed");
    assertThatThrownBy(() -> PushState.of(4, Map.of()).apply(new PushDelta(3, 5, Map.of(), Set.of())))
        .hasMessage("delta: from version 3 (expected: 4, the version it applies to)");
    assertThatThrownBy(() -> PushState.of(4, Map.of()).diff(PushState.of(4, Map.of())))
        .hasMessage("next: version 4 (expected: more than 4)");
    assertThatThrownBy(() -> PushState.of(-1, Map.of())).hasMessage("version: -1 (expected: 0 or more)");
  }
}
