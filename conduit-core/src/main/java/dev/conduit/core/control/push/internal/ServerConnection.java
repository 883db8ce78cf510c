package dev.conduit.core.control.push.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.conduit.core.control.push.PushAgentStatus;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.websocketx.CorruptedWebSocketFrameException;
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketServerProtocolHandler;
import io.netty.handler.timeout.IdleState;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.AttributeKey;
import io.netty.util.concurrent.EventExecutor;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One agent's push channel on the server, after the WebSocket upgrade. Everything runs on the channel's event
 * loop; {@link PushHub} hands a new version to all connections of a loop in one task.
 *
 * <p>Flow control: at most {@code window} updates are in flight (sent, not yet answered by an ack or nack). When
 * the deltas an agent lacks do not fit in the room left, nothing more is sent until it has answered everything;
 * then it gets one snapshot of the current state. A slow agent thus costs a bounded amount of memory and catches
 * up with one message, however many versions it missed.
 */
public final class ServerConnection extends SimpleChannelInboundHandler<WebSocketFrame> {

  private static final Logger log = LoggerFactory.getLogger("dev.conduit.core.control.push");

  /** The identity the authorizer admitted the agent under, set before the upgrade. */
  public static final AttributeKey<String> AGENT_ID = AttributeKey.valueOf("conduit.push.agentId");

  private record InFlight(boolean snapshot, long from, long to, String hash) {}

  private final PushHub hub;
  private final int window;
  private final ArrayDeque<InFlight> inFlight = new ArrayDeque<>();
  private ChannelHandlerContext ctx;
  private String agentId;
  private AgentRecord record;
  private boolean helloSeen;
  /** How long a refused agent's remaining bytes are read and dropped after the close frame (see Frames). */
  private static final java.time.Duration CLOSE_LINGER = java.time.Duration.ofSeconds(2);

  private boolean closing;
  private long sentVersion = -1;
  private boolean needSnapshot;
  private long holdThrough = -1;

  /** Creates the handler of one connection. */
  public ServerConnection(PushHub hub, int window) {
    super(WebSocketFrame.class);
    this.hub = hub;
    this.window = window;
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    this.ctx = ctx;
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
    if (evt instanceof WebSocketServerProtocolHandler.HandshakeComplete) {
      agentId = ctx.channel().attr(AGENT_ID).get();
      record = hub.register(agentId, this, String.valueOf(ctx.channel().remoteAddress()));
      log.debug("push: agent {} connected from {}", agentId, ctx.channel().remoteAddress());
    } else if (evt instanceof IdleStateEvent idle) {
      if (idle.state() == IdleState.READER_IDLE) {
        fail(Frames.GOING_AWAY, "idle timeout: no message or heartbeat");
      } else if (idle.state() == IdleState.WRITER_IDLE && record != null) {
        ctx.writeAndFlush(new PingWebSocketFrame());
      }
    } else {
      super.userEventTriggered(ctx, evt);
    }
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) throws Exception {
    if (record != null) {
      hub.unregister(agentId, this);
      log.debug("push: agent {} disconnected", agentId);
    }
    super.channelInactive(ctx);
  }

  @Override
  public void channelWritabilityChanged(ChannelHandlerContext ctx) throws Exception {
    pump();
    super.channelWritabilityChanged(ctx);
  }

  @Override
  protected void channelRead0(ChannelHandlerContext ctx, WebSocketFrame frame) {
    if (closing || record == null) {
      return;
    }
    if (!(frame instanceof TextWebSocketFrame)) {
      fail(Frames.UNSUPPORTED_DATA, "expected text frames holding JSON");
      return;
    }
    record.seen();
    ObjectNode message;
    try {
      message = Json.parse(ByteBufUtil.getBytes(frame.content()));
      handle(message);
    } catch (Json.MalformedMessageException e) {
      fail(Frames.INVALID_PAYLOAD, e.getMessage());
    } catch (ProtocolException e) {
      fail(Frames.POLICY_VIOLATION, e.getMessage());
    }
  }

  private void handle(ObjectNode message) {
    String type = Json.text(message, "type");
    long version = Json.version(message, "version");
    if (!helloSeen) {
      if (!Json.HELLO.equals(type)) {
        throw new ProtocolException("expected hello first, got " + type);
      }
      hello(message, version);
      return;
    }
    switch (type) {
      case Json.ACK, Json.NACK -> {
        if (message.hasNonNull(Json.ERROR_DETAIL) || Json.NACK.equals(type)) {
          nack(message, version);
        } else {
          ack(message, version);
        }
      }
      case Json.REPORT -> {
        JsonNode payload = message.get("payload");
        if (payload == null) {
          throw new Json.MalformedMessageException("report: no payload");
        }
        hub.report(agentId, payload);
      }
      case Json.HELLO -> throw new ProtocolException("hello sent twice");
      default -> throw new ProtocolException("unknown message type " + Json.truncate(type));
    }
  }

  private void hello(ObjectNode message, long version) {
    String hash = Json.text(message, "hash");
    String name = Json.truncate(Json.text(message, "agent", ""));
    String role = Json.truncate(Json.text(message, "role", ""));
    helloSeen = true;
    PushHub.Published current = hub.current();
    boolean upToDate = current != null && current.state().version() == version
        && current.state().hash().equals(hash);
    record.hello(name, role, version, hash, upToDate);
    sentVersion = version;
    needSnapshot = !upToDate;
    pump();
  }

  private void ack(ObjectNode message, long version) {
    InFlight head = inFlight.poll();
    if (head == null) {
      throw new ProtocolException("ack for version " + version + " but no update is pending");
    }
    if (head.to() != version) {
      throw new ProtocolException("ack for version " + version + " (expected: " + head.to() + ")");
    }
    String hash = Json.text(message, "hash");
    record.acked(version, Json.truncate(hash), hash.equals(head.hash()));
    pump();
  }

  private void nack(ObjectNode message, long goodVersion) {
    InFlight head = inFlight.poll();
    if (head == null) {
      throw new ProtocolException("nack but no update is pending");
    }
    JsonNode detailNode = message.get(Json.ERROR_DETAIL);
    String detail = detailNode == null || detailNode.isNull() ? "(no error_detail)" : Json.truncate(detailNode.asText());
    record.nacked(new PushAgentStatus.Nack(head.to(), goodVersion, detail, Instant.now()));
    log.warn("push: agent {} rejected version {} (still at {}): {}", agentId, head.to(), goodVersion, detail);
    // The agent keeps goodVersion. When it could not install an update that applied to what it has, the same
    // update would fail again: wait for a newer version. Otherwise it was not where we thought: resync at once.
    needSnapshot = true;
    boolean genuine = head.snapshot() || head.from() == goodVersion;
    if (genuine) {
      holdThrough = Math.max(holdThrough, head.to());
    }
    pump();
  }

  /** Returns the event loop of the connection. */
  EventExecutor executor() {
    return ctx.executor();
  }

  /** Sends what the agent lacks; on the event loop. */
  void pumpOnLoop() {
    pump();
  }

  private void pump() {
    PushHub.Published current = hub.current();
    if (!helloSeen || closing || current == null || !ctx.channel().isWritable()) {
      return;
    }
    long version = current.state().version();
    if ((!needSnapshot && sentVersion == version) || version <= holdThrough) {
      return;
    }
    int room = window - inFlight.size();
    if (room <= 0) {
      return;
    }
    if (!needSnapshot) {
      List<PushHub.DeltaFrame> chain = hub.deltas(sentVersion, version, room);
      if (chain != null) {
        for (PushHub.DeltaFrame delta : chain) {
          ctx.write(Frames.encoded(delta.frame()));
          inFlight.add(new InFlight(false, delta.from(), delta.to(), delta.hash()));
          sentVersion = delta.to();
          record.sent(false);
        }
        ctx.flush();
        return;
      }
    }
    if (!inFlight.isEmpty()) {
      return; // coalesce: one snapshot once the agent has answered everything sent
    }
    ctx.writeAndFlush(Frames.encoded(current.snapshotFrame()));
    inFlight.add(new InFlight(true, -1, version, current.state().hash()));
    sentVersion = version;
    needSnapshot = false;
    record.sent(true);
  }

  /** Closes this connection because a newer one of the same agent arrived. */
  void replaced() {
    ctx.executor().execute(() -> fail(Frames.REPLACED, "replaced by a newer connection of " + agentId));
  }

  /** Closes this connection because its agent is no longer admitted (policy violation). */
  void disconnect(String reason) {
    ctx.executor().execute(() -> fail(Frames.POLICY_VIOLATION, reason));
  }

  /** Closes this connection because the server stops. */
  void serverClosing() {
    ctx.executor().execute(() -> {
      closing = true;
      Frames.close(ctx, Frames.GOING_AWAY, "server closing");
    });
  }

  private void fail(int code, String reason) {
    if (closing) {
      return;
    }
    closing = true;
    log.warn("push: closing agent {} ({}): {} {}", agentId == null ? "(not admitted)" : agentId,
        ctx.channel().remoteAddress(), code, reason);
    if (record == null) {
      ctx.close(); // no WebSocket yet: nothing to send a close frame on
    } else {
      Frames.closeLingering(ctx, code, reason, CLOSE_LINGER);
    }
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    if (cause instanceof TooLongFrameException
        || (cause instanceof CorruptedWebSocketFrameException c && c.closeStatus() != null
            && c.closeStatus().code() == Frames.MESSAGE_TOO_BIG)) {
      fail(Frames.MESSAGE_TOO_BIG, "message too big: " + Json.truncate(String.valueOf(cause.getMessage())));
    } else if (cause instanceof CorruptedWebSocketFrameException c) {
      fail(c.closeStatus() == null ? Frames.POLICY_VIOLATION : c.closeStatus().code(),
          "bad frame: " + cause.getMessage());
    } else {
      if (!closing) {
        log.warn("push: agent {} ({}): {}", agentId, ctx.channel().remoteAddress(), cause.toString());
      }
      closing = true;
      ctx.close();
    }
  }

  /** A message out of order. */
  private static final class ProtocolException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    ProtocolException(String message) {
      super(message, null, false, false);
    }
  }
}
