package dev.conduit.netfilter.libc;

import jnr.ffi.LibraryLoader;
import jnr.ffi.Runtime;

/** Lazily loaded libc binding, so merely loading conduit classes never touches native code. */
public final class Native {

  private Native() {}

  private static final class Holder {
    static final LibC LIBC = LibraryLoader.create(LibC.class).load("c");
    static final Runtime RUNTIME = Runtime.getRuntime(LIBC);
  }

  /** Returns the libc binding, loading it on first use. */
  public static LibC libc() {
    return Holder.LIBC;
  }

  /** Returns the jnr runtime of the binding (to allocate native memory for it). */
  public static Runtime runtime() {
    return Holder.RUNTIME;
  }

  /** Returns the errno saved by the last {@code @SaveError} call on this thread. */
  public static int lastErrno() {
    return Holder.RUNTIME.getLastError();
  }
}
