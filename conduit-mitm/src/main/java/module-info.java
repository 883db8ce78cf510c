module dev.conduit.mitm {
  requires transitive dev.conduit.core;
  requires org.slf4j;
}
