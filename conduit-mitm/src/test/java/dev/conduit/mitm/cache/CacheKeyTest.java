package dev.conduit.mitm.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class CacheKeyTest {

  private static final String DIGEST = "sha256:" + "ab".repeat(32);

  @ParameterizedTest
  @CsvSource({
      "HTTPS://Deb.Debian.ORG/debian/x.deb,              https://deb.debian.org/debian/x.deb",
      "https://deb.debian.org:443/debian/x.deb,          https://deb.debian.org/debian/x.deb",
      "http://deb.debian.org:80/x.deb,                   http://deb.debian.org/x.deb",
      "http://deb.debian.org:443/x.deb,                  http://deb.debian.org:443/x.deb",
      "https://deb.debian.org:8443/x.deb,                https://deb.debian.org:8443/x.deb",
      "https://deb.debian.org./x.deb,                    https://deb.debian.org/x.deb",
      "https://user:secret@deb.debian.org/x.deb,         https://deb.debian.org/x.deb",
      "https://[2001:DB8::1]:443/x.deb,                  https://[2001:db8::1]/x.deb",
      "https://h/a/./b/../c.deb,                         https://h/a/c.deb",
      "https://h/a/b/..,                                 https://h/a/",
      "https://h/%7Euser/%61%62c.deb,                    https://h/~user/abc.deb",
      "https://h/a%2fb/c%3a.deb,                         https://h/a%2Fb/c%3A.deb",
      "https://h/a/%2E%2E/x.deb,                         https://h/x.deb",
      "https://h,                                        https://h/",
      "https://h/x.deb#frag,                             https://h/x.deb",
      "https://h//double//slash.deb,                     https://h//double//slash.deb",
  })
  void normalisesUrls(String in, String expected) {
    assertThat(CacheKey.of(URI.create(in)).value()).isEqualTo(expected);
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "https://h/../etc/passwd",
      "https://h/a/../../etc/passwd",
      "https://h/%2e%2e/etc/passwd",
      "https://h/a/%2E%2E/%2e%2e/x",
      "https://h/..",
  })
  void rejectsPathsEscapingTheRoot(String uri) {
    assertThatThrownBy(() -> CacheKey.of(URI.create(uri)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("escapes the root");
  }

  @Test
  void rejectsOtherSchemesAndBadInput() {
    assertThatThrownBy(() -> CacheKey.of(URI.create("ftp://h/x.deb")))
        .isInstanceOf(IllegalArgumentException.class).hasMessage("scheme: ftp (expected: http or https)");
    assertThatThrownBy(() -> CacheKey.of(URI.create("/relative")))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("expected: absolute http or https URI");
    assertThatThrownBy(() -> CacheKey.forRequest("https", "h:99999", "/x", QueryIdentity.DEFAULT))
        .isInstanceOf(IllegalArgumentException.class).hasMessage("port: 99999 (expected: 0-65535)");
    assertThatThrownBy(() -> CacheKey.forRequest("https", "h", "/x%zz", QueryIdentity.DEFAULT))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("invalid percent-escape");
    assertThatThrownBy(() -> CacheKey.ofDigest("sha256:XYZ"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("expected: sha256:<64 lower-case hex>");
  }

  @Test
  void queryIdentity() {
    URI plain = URI.create("https://h/pkg.tar.gz?version=2");
    URI signed = URI.create("https://cdn.h/pkg.tar.gz?X-Amz-Algorithm=AWS4&X-Amz-Signature=abc&X-Amz-Expires=60");
    URI cloudflare = URI.create("https://production.cloudflare.docker.com/x/data?verify=1700000000-abc");
    assertThat(CacheKey.of(plain).value()).isEqualTo("https://h/pkg.tar.gz?version=2");
    assertThat(CacheKey.of(signed).value()).isEqualTo("https://cdn.h/pkg.tar.gz");
    assertThat(CacheKey.of(cloudflare).value()).isEqualTo("https://production.cloudflare.docker.com/x/data");
    assertThat(CacheKey.of(plain, QueryIdentity.IGNORE).value()).isEqualTo("https://h/pkg.tar.gz");
    assertThat(CacheKey.of(signed, QueryIdentity.KEEP).value()).contains("X-Amz-Signature=abc");
    assertThat(CacheKey.of(URI.create("https://h/x?"), QueryIdentity.KEEP).value()).isEqualTo("https://h/x");
    assertThat(CacheKey.of(URI.create("https://h/x?a=%7e%2f"), QueryIdentity.KEEP).value())
        .isEqualTo("https://h/x?a=~%2F");
  }

  @Test
  void digestKeysAreSharedAcrossRegistriesAndIgnoreQueries() {
    CacheKey hub = CacheKey.of(URI.create("https://registry-1.docker.io/v2/library/alpine/blobs/" + DIGEST));
    CacheKey mirror = CacheKey.of(URI.create("http://mirror.local:5000/v2/x/y/z/blobs/" + DIGEST + "?ns=docker.io"));
    CacheKey viaRequest = CacheKey.forRequest("https", "ghcr.io", "/v2/o/r/blobs/" + DIGEST, QueryIdentity.KEEP);
    assertThat(hub).isEqualTo(mirror).isEqualTo(viaRequest).isEqualTo(CacheKey.ofDigest(DIGEST));
    assertThat(hub.isDigest()).isTrue();
    assertThat(hub.digest()).contains(DIGEST);
    assertThat(hub.value()).isEqualTo(DIGEST);
    assertThat(hub.path()).contains("/v2/library/alpine/blobs/" + DIGEST);
    // not a valid digest: keyed by URL
    CacheKey upper = CacheKey.of(URI.create("https://h/v2/x/blobs/sha256:" + "AB".repeat(32)));
    assertThat(upper.isDigest()).isFalse();
    assertThat(CacheKey.of(URI.create("https://h/v2/x/blobs/sha256:abc")).isDigest()).isFalse();
  }

  @Test
  void forRequestAcceptsOriginAndAbsoluteForm() {
    CacheKey origin = CacheKey.forRequest("HTTPS", "Deb.Debian.org:443", "/debian/./x.deb?sig=1", QueryIdentity.DEFAULT);
    CacheKey absolute = CacheKey.forRequest("http", "ignored", "https://deb.debian.org/debian/x.deb",
        QueryIdentity.DEFAULT);
    assertThat(origin).isEqualTo(absolute);
    assertThat(origin.value()).isEqualTo("https://deb.debian.org/debian/x.deb");
    assertThat(CacheKey.forRequest("https", "h", "/a b/ü|.deb", QueryIdentity.DEFAULT).value())
        .isEqualTo("https://h/a%20b/%C3%BC%7C.deb");
  }

  @Test
  void storedValuesParseBack() {
    for (String v : new String[] {"https://h/a%20b/%C3%BC%7C.deb", "http://h:8080/x?y=1", DIGEST}) {
      assertThat(CacheKey.parse(v).value()).isEqualTo(v);
    }
  }
}
