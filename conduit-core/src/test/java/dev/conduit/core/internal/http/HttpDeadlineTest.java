package dev.conduit.core.internal.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The HTTP connection's one timer, in an {@link EmbeddedChannel}'s virtual time. */
class HttpDeadlineTest {
  private final List<HttpDeadline.Kind> expired = new ArrayList<>();

  private HttpDeadline deadline(EmbeddedChannel ch) {
    HttpDeadline[] d = new HttpDeadline[1];
    ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
      @Override
      public void handlerAdded(ChannelHandlerContext ctx) {
        d[0] = new HttpDeadline(ctx, expired::add);
      }
    });
    return d[0];
  }

  private static void advance(EmbeddedChannel ch, long seconds) {
    ch.advanceTimeBy(seconds, TimeUnit.SECONDS);
    ch.runScheduledPendingTasks();
  }

  @Test
  void aDeadlineMovedLaterFiresOnceAtTheLaterTime() {
    EmbeddedChannel ch = new EmbeddedChannel();
    ch.freezeTime();
    HttpDeadline d = deadline(ch);
    d.arm(HttpDeadline.Kind.IDLE, TimeUnit.SECONDS.toNanos(10));
    advance(ch, 6);
    d.arm(HttpDeadline.Kind.RESPONSE_HEAD, TimeUnit.SECONDS.toNanos(10)); // now due at 16 s
    advance(ch, 5);
    assertThat(expired).as("the first task ran early and rescheduled itself").isEmpty();
    advance(ch, 5);
    assertThat(expired).containsExactly(HttpDeadline.Kind.RESPONSE_HEAD);
    advance(ch, 60);
    assertThat(expired).hasSize(1);
    ch.finishAndReleaseAll();
  }

  @Test
  void anEarlierDeadlineReplacesTheScheduledTask() {
    EmbeddedChannel ch = new EmbeddedChannel();
    ch.freezeTime();
    HttpDeadline d = deadline(ch);
    d.arm(HttpDeadline.Kind.IDLE, TimeUnit.SECONDS.toNanos(240));
    d.arm(HttpDeadline.Kind.REQUEST_HEAD, TimeUnit.SECONDS.toNanos(10));
    advance(ch, 10);
    assertThat(expired).containsExactly(HttpDeadline.Kind.REQUEST_HEAD);
    ch.finishAndReleaseAll();
  }

  @Test
  void aRequestHeadIsBoundedFromItsFirstByteAndDisarmedWhenComplete() {
    EmbeddedChannel ch = new EmbeddedChannel();
    ch.freezeTime();
    HttpDeadline d = deadline(ch);
    assertThat(d.headArriving()).isTrue();
    assertThat(d.headArriving()).as("once per head").isFalse();
    advance(ch, 3);
    d.boundHead(TimeUnit.SECONDS.toNanos(5)); // 5 s from the first byte: 2 s left
    advance(ch, 2);
    assertThat(expired).containsExactly(HttpDeadline.Kind.REQUEST_HEAD);

    expired.clear();
    assertThat(d.headStarted()).isTrue();
    d.headComplete();
    assertThat(d.headStarted()).isFalse();
    assertThat(d.headArriving()).isTrue();
    d.boundHead(TimeUnit.SECONDS.toNanos(5));
    d.headComplete();
    advance(ch, 10);
    assertThat(expired).as("a complete head is not timed").isEmpty();
    ch.finishAndReleaseAll();
  }

  @Test
  void cancelStopsEverything() {
    EmbeddedChannel ch = new EmbeddedChannel();
    ch.freezeTime();
    HttpDeadline d = deadline(ch);
    d.arm(HttpDeadline.Kind.IDLE, TimeUnit.SECONDS.toNanos(1));
    d.cancel();
    advance(ch, 5);
    assertThat(expired).isEmpty();
    ch.finishAndReleaseAll();
  }
}
