/**
 * The libc binding ({@code getsockopt}/{@code setsockopt}) behind {@link dev.conduit.netfilter.SocketOptions}.
 * Not API: exported only because jnr-ffi generates the implementation in an unnamed module, which a
 * qualified export cannot name. Use {@code SocketOptions} instead.
 */
package dev.conduit.netfilter.libc;
