module dev.conduit.core {
  requires transitive io.netty.transport;
}
