/**
 * conduit's core: listeners, inbound protocols (HTTP, SOCKS, mixed), the router, outbounds with hop
 * chains, the dialer, the relay, connection observers and the PKI.
 */
module dev.conduit.core {
  requires transitive io.netty.transport;
  requires transitive io.netty.buffer;
  requires transitive io.netty.common;
  requires transitive io.netty.handler;
  requires io.netty.codec;
  requires io.netty.codec.http;
  requires io.netty.codec.http2;
  requires io.netty.codec.socks;
  requires io.netty.handler.proxy;
  requires io.netty.resolver;
  requires io.netty.resolver.dns;
  requires io.netty.transport.classes.epoll;
  requires io.netty.transport.unix.common;
  requires org.bouncycastle.pkix;
  requires org.bouncycastle.provider;
  requires org.bouncycastle.util;
  requires org.slf4j;
  requires jdk.net; // TCP keep-alive timers on the NIO transport
  // optional: only dev.conduit.core.observe.MicrometerObserver uses it
  requires static micrometer.core;

  exports dev.conduit.core;
  exports dev.conduit.core.admin;
  exports dev.conduit.core.inbound;
  exports dev.conduit.core.net;
  exports dev.conduit.core.observe;
  exports dev.conduit.core.outbound;
  exports dev.conduit.core.pki;
  exports dev.conduit.core.route;
  exports dev.conduit.core.tunnel;
}
