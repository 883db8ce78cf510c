module dev.conduit.core {
  requires transitive io.netty.transport;
  requires transitive io.netty.handler;
  requires io.netty.common;
  requires org.bouncycastle.pkix;
  requires org.bouncycastle.provider;
  requires org.bouncycastle.util;
  requires org.slf4j;

  exports dev.conduit.core.pki;
}
