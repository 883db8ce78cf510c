/**
 * conduit's MITM caching proxy: HTTPS interception with conduit's own CA, HTTP interceptors, and an
 * on-disk blob cache shared by concurrent downloads.
 */
module dev.conduit.mitm {
  requires transitive dev.conduit.core;
  requires transitive io.netty.buffer;
  requires transitive io.netty.common;
  requires transitive io.netty.codec.http;
  requires io.netty.codec;
  requires org.slf4j;
  // conduit-core's PKI, which MITM uses to issue certificates, needs them (optional in conduit-core)
  requires org.bouncycastle.pkix;
  requires org.bouncycastle.provider;
  requires org.tukaani.xz; // Packages.xz, primary.xml.xz
  // optional: only dev.conduit.mitm.cache.CacheMetrics uses it
  requires static micrometer.core;

  exports dev.conduit.mitm;
  exports dev.conduit.mitm.cache;
}
