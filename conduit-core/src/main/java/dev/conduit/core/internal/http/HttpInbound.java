package dev.conduit.core.internal.http;

import dev.conduit.core.inbound.HttpInboundOptions;
import dev.conduit.core.inbound.InboundContext;
import dev.conduit.core.inbound.InboundProtocol;
import io.netty.channel.Channel;

/** The HTTP proxy inbound protocol (being written; see the HTTP inbound task). */
public final class HttpInbound implements InboundProtocol {
  private final HttpInboundOptions options;

  public HttpInbound(HttpInboundOptions options) {
    this.options = options;
  }

  @Override
  public String name() {
    return "http";
  }

  @Override
  public void init(Channel channel, InboundContext context) {
    install(channel, context, options);
  }

  /** Installs the HTTP proxy handlers at the pipeline's tail (also used by the mixed protocol). */
  public static void install(Channel channel, InboundContext context, HttpInboundOptions options) {
    throw new UnsupportedOperationException("HTTP inbound not written yet");
  }
}
