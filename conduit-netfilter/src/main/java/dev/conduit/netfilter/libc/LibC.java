package dev.conduit.netfilter.libc;

import jnr.ffi.annotations.IgnoreError;
import jnr.ffi.annotations.In;
import jnr.ffi.annotations.Out;
import jnr.ffi.annotations.SaveError;
import jnr.ffi.byref.IntByReference;

/**
 * The few libc functions conduit needs, bound by jnr-ffi. Not API.
 *
 * <p>jnr-ffi generates the implementation at run time in its own class loader (an unnamed module), so
 * on the module path this package must be readable by that loader; see {@code module-info.java}.
 */
public interface LibC {

  /** {@code int getsockopt(int fd, int level, int optname, void *optval, socklen_t *optlen)}. */
  @SaveError
  int getsockopt(int fd, int level, int optname, @Out byte[] optval, IntByReference optlen);

  /** {@code int setsockopt(int fd, int level, int optname, const void *optval, socklen_t optlen)}. */
  @SaveError
  int setsockopt(int fd, int level, int optname, @In byte[] optval, int optlen);

  /** {@code int socket(int domain, int type, int protocol)}. */
  @SaveError
  int socket(int domain, int type, int protocol);

  /** {@code int bind(int fd, const struct sockaddr *addr, socklen_t addrlen)}. */
  @SaveError
  int bind(int fd, @In byte[] addr, int addrlen);

  /** {@code ssize_t recvmsg(int fd, struct msghdr *msg, int flags)}. */
  @SaveError
  long recvmsg(int fd, jnr.ffi.Pointer msg, int flags);

  /** {@code int shutdown(int fd, int how)}. */
  @IgnoreError
  int shutdown(int fd, int how);

  /** {@code int close(int fd)}. */
  @IgnoreError
  int close(int fd);

  /** {@code char *strerror(int errnum)}. */
  @IgnoreError
  String strerror(int errnum);
}
