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

  /** {@code char *strerror(int errnum)}. */
  @IgnoreError
  String strerror(int errnum);
}
