package dev.conduit.examples.boot;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.xpath.XPathFactory;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Document;

/**
 * conduit-bom has no parent (so that it manages nothing but conduit's runtime), hence its own copies of
 * the versions: they must equal the parent POM's, and this example must use the version being built.
 */
class BomTest {

  private static final Path ROOT = Path.of(System.getProperty("user.dir")).resolve("../..").normalize();

  private static String read(Path pom, String xpath) throws Exception {
    DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
    f.setNamespaceAware(false);
    Document doc = f.newDocumentBuilder().parse(pom.toFile());
    return XPathFactory.newInstance().newXPath().evaluate(xpath, doc).trim();
  }

  @Test
  void theBomsVersionsAreTheParents() throws Exception {
    Path parent = ROOT.resolve("pom.xml");
    Path bom = ROOT.resolve("conduit-core/bom/pom.xml");
    assertThat(read(parent, "/project/artifactId")).isEqualTo("conduit-parent");
    assertThat(read(bom, "/project/version")).isEqualTo(read(parent, "/project/version"));
    for (String property : new String[] {"netty.version", "bouncycastle.version", "jnr-ffi.version"}) {
      assertThat(read(bom, "/project/properties/" + property)).as(property)
          .isNotEmpty().isEqualTo(read(parent, "/project/properties/" + property));
    }
    assertThat(read(ROOT.resolve("examples/spring-boot/pom.xml"), "/project/properties/conduit.version"))
        .isEqualTo(read(parent, "/project/version"));
  }
}
