package dev.conduit.core.internal.transport;

import io.netty.channel.IoEvent;
import io.netty.channel.IoHandle;
import io.netty.channel.IoHandler;
import io.netty.channel.IoHandlerContext;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.IoOps;
import io.netty.channel.IoRegistration;
import io.netty.channel.epoll.EpollIoHandle;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollIoOps;
import io.netty.channel.unix.FileDescriptor;
import io.netty.util.concurrent.ThreadAwareExecutor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Netty's epoll {@link IoHandler} with a repair for half-closed sockets.
 *
 * <p>Since Netty 4.2.13 a registration whose interest set becomes empty removes its socket from
 * epoll ({@code EPOLL_CTL_DEL}) but still believes it is added, so the next interest change is an
 * {@code EPOLL_CTL_MOD} that fails with ENOENT and Netty closes the channel. A relay meets this on
 * every tunnel whose one direction has ended: the socket whose input reached EOF has no interest
 * left, and when the other direction then fills that socket's send buffer Netty needs write
 * interest again — the tunnel died mid-transfer. Here a registration that went empty is registered
 * afresh (an {@code EPOLL_CTL_ADD}) when interest returns. It costs two system calls, only on that
 * transition. When such a socket closes while out of epoll, Netty's cancellation is told the fd is
 * already closed, so it skips an {@code EPOLL_CTL_DEL} that would fail with ENOENT (and an exception
 * built for it): most relayed tunnels end this way, one direction ended first.
 *
 * <p>It also keeps events of a closed socket from reaching a new one. Netty hands each event of an
 * {@code epoll_wait} batch to the registration its fd number maps to <em>when the event is handled</em>.
 * A socket closed while the batch is handled frees its fd number; a socket opened later in the same
 * batch (an HTTP/2 stream's dial, opened by the same read that reset another stream and closed its
 * upstream) gets that number, and the closed socket's event still waiting in the batch is handed to it:
 * a read on a socket whose connect has not even started fails with ENOTCONN and closes it, and its
 * dial fails with a {@code ClosedChannelException}. No event of the batch in hand can be the new
 * socket's (it was not in epoll when the batch was taken), so a registration made while a batch is
 * handled ignores that batch; epoll being level-triggered, it reports any real readiness in the next one.
 */
public final class RearmingEpollIoHandler implements IoHandler {
  private static final Logger log = LoggerFactory.getLogger(RearmingEpollIoHandler.class);
  private final IoHandler epoll;
  /** Counts the batches handled ({@code epoll.run}); only the loop's thread uses it. */
  private long batch;
  /** Whether {@link #epoll} is handling batch {@link #batch} now. */
  private boolean inBatch;

  private RearmingEpollIoHandler(IoHandler epoll) {
    this.epoll = epoll;
  }

  /** A factory of epoll handlers with the repair. */
  public static IoHandlerFactory newFactory() {
    IoHandlerFactory epoll = EpollIoHandler.newFactory();
    return new IoHandlerFactory() {
      @Override
      public IoHandler newHandler(ThreadAwareExecutor executor) {
        return new RearmingEpollIoHandler(epoll.newHandler(executor));
      }

      @Override
      public boolean isChangingThreadSupported() {
        return epoll.isChangingThreadSupported();
      }
    };
  }

  @Override
  public void initialize() {
    epoll.initialize();
  }

  @Override
  public int run(IoHandlerContext context) {
    batch++;
    inBatch = true;
    try {
      return epoll.run(context);
    } finally {
      inBatch = false;
    }
  }

  @Override
  public void prepareToDestroy() {
    epoll.prepareToDestroy();
  }

  @Override
  public void destroy() {
    epoll.destroy();
  }

  @Override
  public IoRegistration register(IoHandle handle) throws Exception {
    if (!(handle instanceof EpollIoHandle epollHandle)) {
      return epoll.register(handle); // Netty's own error for a handle epoll cannot serve
    }
    StaleEventFilter filtered = new StaleEventFilter(epollHandle, inBatch ? batch : -1);
    return new Registration(filtered, epoll.register(filtered));
  }

  @Override
  public void wakeup() {
    epoll.wakeup();
  }

  @Override
  public boolean isCompatible(Class<? extends IoHandle> handleType) {
    return epoll.isCompatible(handleType);
  }

  /**
   * A socket's fd as Netty's cancellation sees it once the socket has left epoll (its interest went
   * empty): "not open", so the cancellation skips its {@code EPOLL_CTL_DEL}, which would fail with ENOENT
   * and build an exception on every such close. Same number; closing stays with the channel.
   */
  private static final class OutOfEpollFd extends FileDescriptor {
    OutOfEpollFd(int fd) {
      super(fd);
    }

    @Override
    public boolean isOpen() {
      return false;
    }

    @Override
    public void close() {
      // not this view's to close
    }
  }

  /** A socket's handle that ignores the events of the batch during which it was registered (they are not its). */
  private final class StaleEventFilter implements EpollIoHandle {
    private final EpollIoHandle handle;
    private final long registeredInBatch;
    /** Set when the registration is cancelled while the socket is out of epoll. */
    private volatile FileDescriptor outOfEpoll;

    StaleEventFilter(EpollIoHandle handle, long registeredInBatch) {
      this.handle = handle;
      this.registeredInBatch = registeredInBatch;
    }

    @Override
    public FileDescriptor fd() {
      FileDescriptor view = outOfEpoll;
      return view != null ? view : handle.fd();
    }

    @Override
    public void handle(IoRegistration registration, IoEvent event) {
      if (inBatch && batch == registeredInBatch) {
        log.trace("ignoring an event of the batch {} was registered in: {}", handle, event);
        return;
      }
      handle.handle(registration, event);
    }

    @Override
    public void registered() {
      handle.registered();
    }

    @Override
    public void unregistered() {
      handle.unregistered();
    }

    @Override
    public void close() throws Exception {
      handle.close();
    }

    @Override
    public String toString() {
      return handle.toString();
    }
  }

  private final class Registration implements IoRegistration {
    private final StaleEventFilter handle;
    private IoRegistration current;
    private boolean added;
    private boolean emptied;

    Registration(StaleEventFilter handle, IoRegistration current) {
      this.handle = handle;
      this.current = current;
    }

    @Override
    public synchronized <T> T attachment() {
      return current.attachment();
    }

    @Override
    public synchronized long submit(IoOps ops) {
      boolean empty = ((EpollIoOps) ops).value() == 0;
      if (!empty && emptied && current.isValid()) {
        // the socket left epoll when its interest went empty: register it again, which adds it
        current.cancel();
        try {
          current = epoll.register(handle);
        } catch (Exception e) {
          throw new IllegalStateException("re-registering " + handle + " with epoll", e);
        }
        added = false;
      }
      long result = current.submit(ops);
      if (empty) {
        emptied = added;
      } else if (result >= 0) {
        added = true;
        emptied = false;
      }
      return result;
    }

    @Override
    public synchronized boolean isValid() {
      return current.isValid();
    }

    @Override
    public synchronized boolean cancel() {
      if (emptied && current.isValid()) {
        handle.outOfEpoll = new OutOfEpollFd(handle.handle.fd().intValue());
      }
      return current.cancel();
    }
  }
}
