module dev.conduit.mitm {
  requires transitive dev.conduit.core;
  requires transitive io.netty.buffer;
  requires transitive io.netty.common;
  requires org.slf4j;

  exports dev.conduit.mitm.cache;
}
