package dev.conduit.core.internal.http;

import dev.conduit.core.ConnectRequest;
import dev.conduit.core.Destination;
import dev.conduit.core.inbound.InboundContext;
import dev.conduit.core.inbound.Upstream;
import dev.conduit.core.internal.http.HttpServerHandler.Phase;
import dev.conduit.core.observe.Outcome;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.concurrent.Future;

/**
 * The request half of an exchange: an absolute-form request goes on the kept upstream when it serves the
 * same destination, else on a new one dialed for it; its body streams after it. The response head must
 * then come within the response-head timeout.
 */
final class RequestForwarder {
  private final HttpServerHandler handler;
  private final InboundContext context;
  private final RequestTarget target = new RequestTarget();

  RequestForwarder(HttpServerHandler handler, InboundContext context) {
    this.handler = handler;
    this.context = context;
  }

  /** Forwards an authenticated absolute-form request. */
  void forward(HttpRequest req) {
    String error = target.parseAbsolute(req.uri());
    if (error != null) {
      handler.fail(400, Outcome.PROTOCOL_ERROR, error);
      return;
    }
    KeptUpstream upstream = handler.upstream();
    // a reload since the upstream was chosen: dial anew, so the rules in force decide this request too
    boolean sameUpstream = upstream.servesFor(target, handler.principal(), context);
    Exchange ex = Exchange.start(req, target, sameUpstream ? upstream.authority() : target.authority(),
        handler.draining());
    handler.exchange(ex);
    if (sameUpstream) {
      ex.reused = true;
      handler.phase(Phase.EXCHANGE);
      upstream.write(req);
      armResponseDeadline();
      upstream.read();
      return;
    }
    upstream.close();
    Destination dst;
    try {
      dst = Destination.of(target.host(), target.port);
    } catch (IllegalArgumentException e) {
      handler.fail(400, Outcome.PROTOCOL_ERROR, e.getMessage());
      return;
    }
    dial(dst, target.authority());
  }

  private void armResponseDeadline() {
    handler.deadline().arm(HttpDeadline.Kind.RESPONSE_HEAD, context.timeouts().httpResponseHead().toNanos());
  }

  /** Dials {@code dst} for the exchange under way, then sends its request and what of its body waits. */
  void dial(Destination dst, String authority) {
    handler.phase(Phase.DIALING);
    Exchange ex = handler.exchange();
    ex.reused = false;
    context.connect(ConnectRequest.of(context.connection(), dst).withPrincipal(handler.principal()))
        .addListener((Future<Upstream> f) -> {
          if (handler.phase() != Phase.DIALING || !handler.ctx().channel().isActive()) {
            if (f.isSuccess()) {
              f.getNow().channel().close();
            }
            return;
          }
          if (!f.isSuccess()) {
            handler.dialFailed(f.cause());
            return;
          }
          KeptUpstream upstream = handler.upstream();
          upstream.attach(f.getNow(), authority, handler.principal(), dst);
          handler.phase(Phase.EXCHANGE);
          upstream.write(ex.request);
          armResponseDeadline();
          // queued body parts may be malformed: drain() then fails the exchange and closes the upstream
          handler.drain();
          if (handler.phase() != Phase.EXCHANGE || upstream.channel() == null) {
            return;
          }
          upstream.flush();
          upstream.read();
          if (!ex.requestDone) {
            upstream.readDownstream();
          }
        });
  }

  /** A part of the request body: on to the upstream. */
  void content(HttpContent c) {
    KeptUpstream upstream = handler.upstream();
    if (handler.phase() != Phase.EXCHANGE || upstream.channel() == null) {
      c.release();
      return;
    }
    Exchange ex = handler.exchange();
    if (c.decoderResult().isFailure()) {
      c.release();
      String why = "malformed request body: " + c.decoderResult().cause().getMessage();
      if (ex.responseStarted) {
        context.outcome(Outcome.PROTOCOL_ERROR, why);
        handler.close();
      } else {
        handler.fail(400, Outcome.PROTOCOL_ERROR, why);
      }
      return;
    }
    if (c.content().isReadable()) {
      ex.bodySent = true;
    }
    boolean last = c instanceof LastHttpContent;
    upstream.write(c);
    if (last) {
      ex.requestDone = true;
    }
  }
}
