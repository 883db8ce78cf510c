package dev.conduit.core.internal;

import io.netty.channel.IoHandle;
import io.netty.channel.IoHandler;
import io.netty.channel.IoHandlerContext;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.IoOps;
import io.netty.channel.IoRegistration;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollIoOps;
import io.netty.util.concurrent.ThreadAwareExecutor;

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
 * transition.
 */
public final class RearmingEpollIoHandler implements IoHandler {
  private final IoHandler epoll;

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
    return epoll.run(context);
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
    return new Registration(handle, epoll.register(handle));
  }

  @Override
  public void wakeup() {
    epoll.wakeup();
  }

  @Override
  public boolean isCompatible(Class<? extends IoHandle> handleType) {
    return epoll.isCompatible(handleType);
  }

  private final class Registration implements IoRegistration {
    private final IoHandle handle;
    private IoRegistration current;
    private boolean added;
    private boolean emptied;

    Registration(IoHandle handle, IoRegistration current) {
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
      return current.cancel();
    }
  }
}
