package dev.conduit.mitm.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class CachePolicyTest {

  private final CachePolicy policy = CachePolicy.defaults();

  @Test
  void defaultFiltersMatchTheNormalisedPath() {
    String digest = "sha256:" + "0f".repeat(32);
    assertThat(policy.keyFor(URI.create("https://registry-1.docker.io/v2/library/alpine/blobs/" + digest)))
        .hasValueSatisfying(k -> assertThat(k.value()).isEqualTo(digest));
    assertThat(policy.keyFor(URI.create("https://deb.debian.org/debian/pool/main/c/curl/curl_8.deb"))).isPresent();
    assertThat(policy.keyFor(URI.create("https://h/a/x.tar.zst?X-Amz-Signature=1"))).isPresent();
    assertThat(policy.keyFor(URI.create("https://h/x%2Erpm"))).isPresent();
    assertThat(policy.keyFor(URI.create("https://h/v2/library/alpine/manifests/latest"))).isEmpty();
    assertThat(policy.keyFor(URI.create("https://h/index.html"))).isEmpty();
    assertThat(policy.keyFor(URI.create("https://h/x.deb.sig"))).isEmpty();
    assertThat(policy.keyFor("https", "dl-cdn.alpinelinux.org", "/alpine/v3.20/main/x86_64/musl-1.2.5-r0.apk"))
        .isPresent();
  }

  @Test
  void customFiltersAndQueryIdentity() {
    CachePolicy p = CachePolicy.builder().filters(List.of("^/artifacts/")).queryIdentity(QueryIdentity.IGNORE).build();
    assertThat(p.keyFor(URI.create("https://h/artifacts/a?b=1"))).hasValueSatisfying(
        k -> assertThat(k.value()).isEqualTo("https://h/artifacts/a"));
    assertThat(p.keyFor(URI.create("https://h/x.deb"))).isEmpty();
    assertThatThrownBy(() -> CachePolicy.builder().filter("(")).isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("filter: ( (invalid regular expression");
  }

  @Test
  void responseCacheability() {
    assertThat(policy.uncacheableReason("GET", 200, List.of(Map.entry("Content-Length", "5")))).isEmpty();
    assertThat(policy.uncacheableReason("HEAD", 200, List.of())).hasValue("method HEAD (only GET is cached)");
    assertThat(policy.uncacheableReason("GET", 206, List.of())).hasValue("status 206 (only 200 is cached)");
    assertThat(policy.uncacheableReason("GET", 304, List.of())).isPresent();
    assertThat(policy.uncacheableReason("GET", 200, List.of(Map.entry("cache-control", "max-age=0, No-Store"))))
        .hasValue("Cache-Control: no-store");
    assertThat(policy.uncacheableReason("GET", 200, List.of(Map.entry("Cache-Control", "private=\"x\""))))
        .hasValue("Cache-Control: private");
    assertThat(policy.uncacheableReason("GET", 200, List.of(Map.entry("Cache-Control", "public, max-age=60"))))
        .isEmpty();
    assertThat(policy.uncacheableReason("GET", 200, List.of(Map.entry("Vary", "Accept, *")))).hasValue("Vary: *");
    assertThat(policy.uncacheableReason("GET", 200, List.of(Map.entry("Vary", "Accept-Encoding")))).isEmpty();
    assertThat(policy.uncacheableReason("GET", 200, List.of(Map.entry("Content-Length", "-1")))).isPresent();
  }
}
