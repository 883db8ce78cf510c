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
  requires io.netty.codec.dns; // the egress server reads TTLs and CNAME chains
  requires io.netty.transport.classes.epoll;
  requires io.netty.transport.unix.common;
  // optional: certificate issuance and legacy key files (pki, control plane, mesh TLS); a plain proxy needs none
  requires static org.bouncycastle.pkix;
  requires static org.bouncycastle.provider;
  requires static org.bouncycastle.util;
  requires org.slf4j;
  requires transitive org.jspecify; // @NullMarked API packages, @Nullable where null is allowed
  requires jdk.net; // TCP keep-alive timers on the NIO transport
  requires java.management; // the overload manager's direct-memory reading
  // optional: only dev.conduit.core.observe.MicrometerObserver uses it
  requires static micrometer.core;
  // optional: the control plane (dev.conduit.core.control.*, dev.conduit.core.mesh) uses JSON and JDBC;
  // a host of the manager adds them (the CLI has them all)
  // not transitive: a module without the control plane must not need Jackson to compile; users of the push
  // channel's and the manager's JSON types require it themselves (as conduit-cli does)
  requires static com.fasterxml.jackson.databind;
  requires java.net.http;
  requires java.sql;
  requires static com.zaxxer.hikari;
  requires static flyway.core;
  requires static org.postgresql.jdbc;

  exports dev.conduit.core;
  exports dev.conduit.core.admin;
  exports dev.conduit.core.control.enrol;
  exports dev.conduit.core.control.push;
  exports dev.conduit.core.control.store;
  exports dev.conduit.core.egress;
  exports dev.conduit.core.inbound;
  exports dev.conduit.core.mesh;
  exports dev.conduit.core.net;
  exports dev.conduit.core.observe;
  exports dev.conduit.core.outbound;
  exports dev.conduit.core.overload;
  exports dev.conduit.core.pki;
  exports dev.conduit.core.route;
  exports dev.conduit.core.runtime;
  exports dev.conduit.core.tunnel;
  // HTTP proxy basics (hop-by-hop headers, the CONNECT reply, Proxy-Status) the MITM proxy shares with core's
  exports dev.conduit.core.internal.proxy to dev.conduit.mitm;
}
