package dev.conduit.core.control.push.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.conduit.core.ConduitResources;
import dev.conduit.core.control.push.PushApplier;
import dev.conduit.core.control.push.PushDelta;
import dev.conduit.core.control.push.PushState;
import dev.conduit.core.control.push.PushUpdate;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.ScheduledFuture;
import java.io.IOException;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent end of the push channel: connects to the first server address that answers, resumes from the state
 * it has, installs updates through the {@link PushApplier} one at a time off the event loop, saves each installed
 * state, and reconnects with exponential back-off and jitter, trying every address in order.
 */
public final class AgentCore {

  private static final Logger log = LoggerFactory.getLogger("dev.conduit.core.control.push");
  private static final int MAX_PENDING = 1024;

  /** Everything the agent needs; see {@code PushClient.Builder}. */
  public record Settings(ConduitResources resources, List<URI> addresses, TlsContexts tls, Optional<String> token,
      String name, String role, StateFile stateFile, PushApplier applier, Executor applyExecutor,
      Duration minBackoff, Duration maxBackoff, Duration connectTimeout, int maxMessageBytes,
      Duration pingInterval, Duration idleTimeout) {

    /** Describes the settings with the token masked. */
    @Override
    public String toString() {
      return "Settings{addresses=" + addresses + ", token=" + (token.isPresent() ? "****" : "none") + ", name=" + name
          + ", role=" + role + "}";
    }
  }

  private final Settings settings;
  private final EventLoop loop;
  // on the event loop
  private final ArrayDeque<ObjectNode> pending = new ArrayDeque<>();
  private boolean applying;
  private Duration backoff;
  private ScheduledFuture<?> retry;
  private int attempt;
  // read anywhere
  private volatile boolean closed;
  private volatile Channel channel;
  private volatile URI connectedTo;
  private volatile PushState state = PushState.empty();
  private volatile String installedHash = PushState.empty().hash();
  private volatile String lastFailure;
  private volatile CompletableFuture<Void> installing = CompletableFuture.completedFuture(null);

  /** Creates the agent; {@link #start()} runs it. */
  public AgentCore(Settings settings) {
    this.settings = settings;
    this.loop = settings.resources().eventLoopGroup().next();
    this.backoff = settings.minBackoff();
  }

  /**
   * Installs the saved state, if any, then starts connecting. Blocking.
   *
   * @throws IOException if the state file exists but cannot be read
   */
  public void start() throws IOException {
    if (settings.stateFile() != null) {
      Optional<StateFile.Saved> saved = settings.stateFile().read();
      if (saved.isPresent()) {
        PushState restored = saved.get().state();
        CompletableFuture<String> installed = CompletableFuture.supplyAsync(() -> {
          try {
            return settings.applier().apply(
                new PushUpdate(PushUpdate.Kind.RESTORED, restored, PushState.empty(), Optional.empty()));
          } catch (Exception e) {
            throw new IllegalStateException(e.getMessage() == null ? e.toString() : e.getMessage(), e);
          }
        }, settings.applyExecutor());
        try {
          installedHash = installed.get();
          state = restored;
          log.info("push: restored version {} ({} resources) from {}", restored.version(),
              restored.resources().size(), settings.stateFile().path());
        } catch (ExecutionException e) {
          log.error("push: could not install the saved version {} from {}: {}", restored.version(),
              settings.stateFile().path(), e.getCause().getMessage());
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IOException("interrupted while restoring " + settings.stateFile().path(), e);
        }
      }
    }
    loop.execute(() -> connect(0));
  }

  /** Returns the installed state. */
  public PushState state() {
    return state;
  }

  /** Returns the hash the applier reported for the installed state. */
  public String installedHash() {
    return installedHash;
  }

  /** Returns the server address of the open channel, if connected. */
  public Optional<URI> connectedTo() {
    return Optional.ofNullable(connectedTo);
  }

  /** Returns why the latest connection attempt or channel failed, if one did. */
  public Optional<String> lastFailure() {
    return Optional.ofNullable(lastFailure);
  }

  /** Records why an attempt or a channel failed. */
  void failed(URI uri, String reason) {
    lastFailure = uri + ": " + reason;
    log.debug("push: {}: {}", uri, reason);
  }

  /** Sends a report if connected; returns whether it was sent. */
  public boolean report(JsonNode payload) {
    byte[] bytes = Json.report(state.version(), payload);
    if (bytes.length > settings.maxMessageBytes()) {
      throw new IllegalArgumentException("payload: " + bytes.length + " bytes as a report (expected: at most "
          + settings.maxMessageBytes() + ")");
    }
    Channel ch = channel;
    if (ch == null || !ch.isActive()) {
      return false;
    }
    ch.writeAndFlush(Frames.text(bytes));
    return true;
  }

  private void connect(int index) {
    if (closed) {
      return;
    }
    URI uri = settings.addresses().get(index);
    int thisAttempt = ++attempt;
    int port = uri.getPort() > 0 ? uri.getPort() : 443;
    Bootstrap bootstrap = new Bootstrap().group(loop)
        .channel(settings.resources().socketChannelType())
        .resolver(settings.resources().resolver())
        .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) settings.connectTimeout().toMillis())
        .handler(new ClientConnection.Initializer(this, uri, port));
    ChannelFuture connecting = bootstrap.connect(uri.getHost(), port);
    connecting.addListener(f -> {
      if (!f.isSuccess()) {
        failed(uri, f.cause().toString());
        next(index, thisAttempt, false);
      } else {
        connecting.channel().closeFuture().addListener(c -> next(index, thisAttempt, wasUp(connecting.channel())));
      }
    });
  }

  private boolean wasUp(Channel ch) {
    return Boolean.TRUE.equals(ch.attr(ClientConnection.UP).get());
  }

  /** After an attempt ended: the next address at once, or back to the first after a back-off. */
  private void next(int index, int endedAttempt, boolean wasUp) {
    if (closed || endedAttempt != attempt) {
      return;
    }
    channel = null;
    connectedTo = null;
    pending.clear(); // updates of a closed channel; an install under way finishes and then drains the next
    if (wasUp) {
      backoff = settings.minBackoff();
      schedule(0, backoff);
    } else if (index + 1 < settings.addresses().size()) {
      connect(index + 1);
    } else {
      schedule(0, backoff);
      backoff = backoff.multipliedBy(2).compareTo(settings.maxBackoff()) > 0 ? settings.maxBackoff()
          : backoff.multipliedBy(2);
    }
  }

  private void schedule(int index, Duration delay) {
    long millis = delay.toMillis();
    long jittered = millis / 2 + ThreadLocalRandom.current().nextLong(millis / 2 + 1);
    log.debug("push: reconnecting in {} ms", jittered);
    retry = loop.schedule(() -> connect(index), jittered, TimeUnit.MILLISECONDS);
  }

  /** The WebSocket handshake completed: say hello with the installed version. */
  void connected(Channel ch, URI uri) {
    ch.attr(ClientConnection.UP).set(true);
    channel = ch;
    connectedTo = uri;
    PushState installed = state;
    ch.writeAndFlush(Frames.text(Json.hello(settings.name(), settings.role(), installed)));
    log.info("push: connected to {} at version {}", uri, installed.version());
  }

  /** A message from the server, on the event loop. */
  void received(Channel ch, ObjectNode message) {
    String type = Json.text(message, "type");
    if (!Json.SNAPSHOT.equals(type) && !Json.DELTA.equals(type)) {
      throw new ClientConnection.ProtocolException("unexpected message type " + Json.truncate(type));
    }
    if (ch != channel) {
      return; // a channel already given up
    }
    if (pending.size() >= MAX_PENDING) {
      throw new ClientConnection.ProtocolException("more than " + MAX_PENDING + " updates unanswered");
    }
    pending.add(message);
    ch.config().setAutoRead(false);
    drain();
  }

  /** Installs the next pending update of the current channel, unless one is being installed (one at a time). */
  private void drain() {
    Channel ch = channel;
    if (applying || ch == null) {
      return;
    }
    ObjectNode message = pending.poll();
    if (message == null) {
      ch.config().setAutoRead(true);
      return;
    }
    applying = true;
    CompletableFuture<Void> done = new CompletableFuture<>();
    installing = done;
    settings.applyExecutor().execute(() -> {
      try {
        if (!closed) {
          install(ch, message);
        }
      } finally {
        done.complete(null);
        loop.execute(() -> {
          applying = false;
          drain();
        });
      }
    });
  }

  /** Whether an update is being installed (the channel reads nothing meanwhile; idleness is expected). */
  boolean applying() {
    return applying;
  }

  /** Installs one update; on the apply executor. */
  private void install(Channel ch, ObjectNode message) {
    PushState previous = state;
    PushUpdate update;
    try {
      if (Json.SNAPSHOT.equals(Json.text(message, "type"))) {
        update = new PushUpdate(PushUpdate.Kind.SNAPSHOT, Json.decodeSnapshot(message), previous, Optional.empty());
      } else {
        PushDelta delta = Json.decodeDelta(message);
        if (delta.fromVersion() != previous.version()) {
          ch.writeAndFlush(Frames.text(Json.nack(previous.version(), "delta from version " + delta.fromVersion()
              + " does not follow the installed version " + previous.version())));
          return;
        }
        PushState next = previous.apply(delta);
        if (!next.hash().equals(Json.text(message, "hash"))) {
          log.warn("push: version {} from {} has another hash than announced; reconnecting for a snapshot",
              next.version(), connectedTo);
          ch.eventLoop().execute(() -> Frames.close(ch, Frames.RESYNC,
              "state hash differs after delta; resyncing"));
          return;
        }
        update = new PushUpdate(PushUpdate.Kind.DELTA, next, previous, Optional.of(delta));
      }
    } catch (Json.MalformedMessageException e) {
      log.warn("push: malformed update from {}: {}", connectedTo, e.getMessage());
      ch.eventLoop().execute(() -> Frames.close(ch, Frames.INVALID_PAYLOAD,
          e.getMessage()));
      return;
    }
    String installed;
    try {
      installed = settings.applier().apply(update);
      if (installed == null) {
        throw new IllegalStateException("applier returned no hash");
      }
    } catch (Exception e) {
      String detail = e.getMessage() == null ? e.toString() : e.getMessage();
      log.warn("push: could not install version {}: {}", update.state().version(), detail);
      ch.writeAndFlush(Frames.text(Json.nack(previous.version(), detail)));
      return;
    }
    state = update.state();
    installedHash = installed;
    if (settings.stateFile() != null) {
      try {
        settings.stateFile().write(update.state(), installed);
      } catch (IOException e) {
        log.error("push: installed version {} but could not save it to {}: {}", update.state().version(),
            settings.stateFile().path(), e.toString());
      }
    }
    ch.writeAndFlush(Frames.text(Json.ack(update.state().version(), installed)));
  }

  /**
   * Stops reconnecting, closes the channel ("going away") and waits up to {@code timeout} for an update being
   * installed to finish. The installed state stays.
   */
  public void close(Duration timeout) {
    closed = true;
    CompletableFuture<Channel> closing = new CompletableFuture<>();
    Runnable close = () -> {
      if (retry != null) {
        retry.cancel(false);
      }
      closing.complete(channel);
      Channel ch = channel;
      if (ch != null) {
        Frames.close(ch, Frames.GOING_AWAY, "agent closing");
      }
    };
    try {
      loop.execute(close);
    } catch (java.util.concurrent.RejectedExecutionException loopGone) {
      // the event loop was shut down first (a shared group closed before this agent): its channel is closed too
      closing.complete(null);
    }
    try {
      long deadline = System.nanoTime() + timeout.toNanos();
      Channel ch = closing.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
      if (ch != null) {
        ch.closeFuture().await(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      }
      installing.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (ExecutionException | java.util.concurrent.TimeoutException e) {
      log.warn("push: agent closing: {}", e.toString());
    }
  }

  Settings settings() {
    return settings;
  }
}
