package dev.conduit.core.internal.multiplex;

import io.netty.channel.Channel;
import io.netty.channel.ChannelConfig;
import io.netty.channel.DefaultMaxMessagesRecvByteBufAllocator;
import io.netty.channel.RecvByteBufAllocator;
import io.netty.handler.codec.http2.DefaultHttp2WindowUpdateFrame;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2Settings;

/** The HTTP/2 settings of multiplexed tunnels, both sides. */
public final class H2Settings {
  /** Streams (tunnels) a server allows at once on one connection. */
  public static final int MAX_CONCURRENT_STREAMS = 1000;
  /** Per-stream receive window: one tunnel can move several Gbit/s at loopback-to-LAN round-trip times. */
  public static final int STREAM_WINDOW = 1024 * 1024;
  /** Receive window of the whole connection: bounds what all its streams buffer together. */
  public static final int CONNECTION_WINDOW = 16 * 1024 * 1024;
  /** The largest header block accepted, as the HTTP/1.1 tunnel's request head limit. */
  public static final int MAX_HEADER_LIST_SIZE = 8192;
  /** Frames up to 64 KiB: fewer frames (and reads) per megabyte than the 16 KiB default. */
  public static final int MAX_FRAME_SIZE = 64 * 1024;

  /**
   * Stream resets accepted per {@link #RESET_WINDOW_SECONDS} before the connection is closed (Netty's rapid-reset
   * guard, CVE-2023-44487; its default of 200 per 30 s is hit by normal use at hundreds of tunnels per second, as
   * every tunnel that a client aborts ends with a reset). Peers are authenticated by certificate and limited to
   * {@link #MAX_CONCURRENT_STREAMS}.
   */
  public static final int MAX_RESETS_PER_WINDOW = 100_000;
  /** The window of {@link #MAX_RESETS_PER_WINDOW}. */
  public static final int RESET_WINDOW_SECONDS = 10;

  /** Frames a stream channel hands over per {@code read()}: one flush (and write syscall) per batch, not per frame. */
  public static final int FRAMES_PER_READ = 16;

  /**
   * The read allocator of tunnel stream channels: with AUTO_READ off Netty's handles deliver one frame per
   * {@code read()}; this one delivers up to {@link #FRAMES_PER_READ} of the frames already received (they are in
   * memory either way, bounded by the stream's flow-control window).
   */
  public static final RecvByteBufAllocator STREAM_READS = new DefaultMaxMessagesRecvByteBufAllocator(FRAMES_PER_READ) {
    @Override
    public Handle newHandle() {
      return new MaxMessageHandle() {
        private int frames;

        @Override
        public void reset(ChannelConfig config) {
          super.reset(config);
          frames = 0;
        }

        @Override
        public void lastBytesRead(int bytes) {
          super.lastBytesRead(bytes);
          frames++; // called once per frame delivered
        }

        @Override
        public int guess() {
          return 1024; // not used: a stream channel reads frames, not bytes
        }

        @Override
        public boolean continueReading() {
          return frames < FRAMES_PER_READ;
        }
      };
    }
  };

  private H2Settings() {}

  /** The settings a tunnel server announces. */
  public static Http2Settings server() {
    return new Http2Settings()
        .maxConcurrentStreams(MAX_CONCURRENT_STREAMS)
        .initialWindowSize(STREAM_WINDOW)
        .maxHeaderListSize(MAX_HEADER_LIST_SIZE)
        .maxFrameSize(MAX_FRAME_SIZE);
  }

  /** The settings a tunnel client announces (no push, no server-initiated streams). */
  public static Http2Settings client() {
    return new Http2Settings()
        .pushEnabled(false)
        .maxConcurrentStreams(0)
        .initialWindowSize(STREAM_WINDOW)
        .maxHeaderListSize(MAX_HEADER_LIST_SIZE)
        .maxFrameSize(MAX_FRAME_SIZE);
  }

  /** Raises the connection's receive window (SETTINGS cannot: it starts at 65,535 bytes). */
  public static void growConnectionWindow(Channel parent) {
    parent.writeAndFlush(new DefaultHttp2WindowUpdateFrame(
        CONNECTION_WINDOW - Http2CodecUtil.DEFAULT_WINDOW_SIZE)).addListener(f -> {
          if (!f.isSuccess() && parent.isActive()) {
            parent.pipeline().fireExceptionCaught(f.cause());
          }
        });
  }
}
