/**
 * Linux transparent capture for conduit: socket options through jnr-ffi ({@code SO_ORIGINAL_DST},
 * {@code IP_TRANSPARENT}, {@code SO_MARK}) and netfilter rule plans (iptables + ipset, nftables).
 */
module dev.conduit.netfilter {
  requires transitive dev.conduit.core;
  requires io.netty.transport.classes.epoll;
  requires io.netty.transport.unix.common;
  requires io.netty.resolver; // the egress L7 check resolves names below wildcards
  requires org.jnrproject.ffi;
  requires org.slf4j;
  requires com.fasterxml.jackson.databind; // the egress gateway's reports
  requires jdk.httpserver; // the egress gateway's /metrics

  exports dev.conduit.netfilter;
  exports dev.conduit.netfilter.egress;
  exports dev.conduit.netfilter.mesh;

  // jnr-ffi generates the LibC implementation in a class loader of its own (an unnamed module), and a
  // class can only implement an interface whose package is exported to it: unnamed modules cannot be
  // named in a qualified export (verified: `exports ... to org.jnrproject.ffi` fails with "superinterface
  // check failed"), so this binding-only package is exported unconditionally. Not API.
  exports dev.conduit.netfilter.libc;
}
