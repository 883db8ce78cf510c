package dev.conduit.core.internal.dial;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Swallows errors raised while dialing (the dial's future reports them); removed on success. */
final class DialGuard extends ChannelInboundHandlerAdapter {
  private static final Logger log = LoggerFactory.getLogger(ChainDialer.class);
  private final String id;

  DialGuard(String id) {
    this.id = id;
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    log.debug("[{}] dial error: {}", id, cause.toString());
    ctx.close();
  }

  @Override
  public boolean isSharable() {
    return false;
  }
}
