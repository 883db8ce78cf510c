package dev.conduit.core.internal.relay;

import dev.conduit.core.ConduitPipeline;
import dev.conduit.core.internal.transport.TrafficCounter;
import io.netty.channel.Channel;
import io.netty.channel.epoll.Native;
import io.netty.channel.unix.FileDescriptor;
import io.netty.channel.unix.Socket;
import java.io.IOException;

/**
 * One direction of a {@link SpliceRelay}: source socket → pipe → destination socket, with the pipe (64 KiB in the
 * kernel) as the only buffer. Bytes are counted on the channels' {@link TrafficCounter}s as they are spliced.
 */
final class SpliceDirection {
  /** The kernel's default pipe capacity (16 pages). */
  static final int PIPE_CAPACITY = 64 * 1024;
  /** Splice rounds (in and out, up to 64 KiB each) per readiness event, so one tunnel cannot hog the loop. */
  private static final int MAX_ROUNDS_PER_EVENT = 16;

  private final FileDescriptor src;
  private final String srcSide;
  private final Socket dst;
  private final String dstSide;
  private final FileDescriptor pipeOut;
  private final FileDescriptor pipeIn;
  final TrafficCounter srcCounter;
  private final TrafficCounter dstCounter;
  int inPipe;
  /**
   * A splice into the pipe moved nothing while it held bytes: the pipe may be full in buffer slots
   * (one per socket buffer fragment) before it is full in bytes. Reading waits for the pipe to drain.
   */
  private boolean stalled;
  /** The source sent FIN ({@code EPOLLRDHUP} seen): a zero-byte splice with room in the pipe is EOF. */
  boolean rdHup;
  private boolean eof;
  boolean finished;

  /**
   * @param pipe the pipe's read and write ends, owned by this direction from now on ({@link #closePipe})
   */
  SpliceDirection(Channel srcChannel, FileDescriptor src, String srcSide, Channel dstChannel, Socket dst,
      String dstSide, FileDescriptor[] pipe) {
    this.src = src;
    this.srcSide = srcSide;
    this.dst = dst;
    this.dstSide = dstSide;
    this.pipeOut = pipe[0];
    this.pipeIn = pipe[1];
    this.srcCounter = (TrafficCounter) srcChannel.pipeline().get(ConduitPipeline.TRAFFIC);
    this.dstCounter = (TrafficCounter) dstChannel.pipeline().get(ConduitPipeline.TRAFFIC);
  }

  boolean wantsRead() {
    return !eof && !stalled && inPipe < PIPE_CAPACITY;
  }

  /**
   * Moves what it can; returns whether any byte moved, or reports the failing side by exception. At EOF, once the
   * pipe is empty, shuts the destination's output down.
   */
  boolean pump() throws SideException {
    boolean moved = false;
    // bounded, like Netty's reads per event: level-triggered epoll calls again for what is left
    for (int round = 0; round < MAX_ROUNDS_PER_EVENT; round++) {
      boolean progress = false;
      if (wantsRead()) {
        int n;
        try {
          n = Native.splice(src.intValue(), -1, pipeIn.intValue(), -1, PIPE_CAPACITY - inPipe);
        } catch (IOException e) {
          throw new SideException(srcSide, e);
        }
        if (n > 0) {
          inPipe += n;
          srcCounter.addSpliced(n);
          progress = true;
        } else if (inPipe > 0) {
          stalled = true;
        } else if (rdHup) {
          eof = true; // nothing to read, room in the pipe and the peer sent FIN
        }
      }
      if (inPipe > 0) {
        int m;
        try {
          m = Native.splice(pipeOut.intValue(), -1, dst.intValue(), -1, inPipe);
        } catch (IOException e) {
          throw new SideException(dstSide, e);
        }
        if (m > 0) {
          inPipe -= m;
          stalled = false;
          dstCounter.addSplicedWritten(m);
          progress = true;
        }
      }
      if (!progress) {
        break;
      }
      moved = true;
    }
    if (eof && inPipe == 0 && !finished) {
      finished = true;
      try {
        dst.shutdown(false, true);
      } catch (IOException e) {
        throw new SideException(dstSide, e);
      } catch (RuntimeException e) {
        // ENOTCONN comes as NotYetConnectedException: the peer reset or left first
        throw new SideException(dstSide, new IOException("shutdown: " + e, e));
      }
    }
    return moved;
  }

  void closePipe() {
    closeQuietly(pipeOut);
    closeQuietly(pipeIn);
  }

  static void closeQuietly(FileDescriptor fd) {
    try {
      fd.close();
    } catch (IOException e) {
      // nothing left to do with it
    }
  }

  /** An I/O failure on one side. */
  static final class SideException extends Exception {
    private static final long serialVersionUID = 1L;
    final String side;

    SideException(String side, IOException cause) {
      super(cause.getMessage(), cause, false, false);
      this.side = side;
    }
  }
}
