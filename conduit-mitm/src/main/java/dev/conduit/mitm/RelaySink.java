package dev.conduit.mitm;

import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.LastHttpContent;

/** Passes the response through unchanged (except hop-by-hop headers). */
class RelaySink implements ResponseSink {
  final ProxyHandler handler;
  final ProxiedRequest r;
  boolean headSent;

  RelaySink(ProxyHandler handler, ProxiedRequest r) {
    this.handler = handler;
    this.r = r;
  }

  @Override
  public void head(HttpResponse response, UpstreamCall call) {
    handler.prepareResponse(response, r);
    handler.writeHead(response, r.exchange(), false);
    headSent = true;
    call.readMore();
  }

  @Override
  public void content(HttpContent content, UpstreamCall call) {
    if (!handler.ctx().channel().isActive()) {
      content.release();
      call.close();
      return;
    }
    if (content instanceof LastHttpContent) {
      call.close();
      handler.ctx().writeAndFlush(content).addListener(f -> handler.finish());
    } else if (handler.ctx().channel().isWritable()) {
      // flushed at the end of the upstream read batch (head, body and end often arrive in one)
      handler.ctx().write(content).addListener(f -> {
        if (!f.isSuccess()) {
          call.close();
        }
      });
      call.readMore();
    } else {
      handler.ctx().writeAndFlush(content).addListener(f -> {
        if (f.isSuccess()) {
          call.readMore();
        } else {
          call.close();
        }
      });
    }
  }

  @Override
  public void flush() {
    handler.ctx().flush();
  }

  @Override
  public void failed(int status, String reason) {
    if (headSent) {
      handler.ctx().close();
    } else {
      handler.sendError(status, reason, false);
    }
  }
}
