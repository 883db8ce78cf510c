module dev.conduit.netfilter {
  requires transitive dev.conduit.core;
  requires org.jnrproject.ffi;
  requires org.slf4j;
}
