package dev.conduit.core.testing;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.util.ResourceLeakDetector;
import io.netty.util.ResourceLeakDetectorFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Fails a test class when Netty reports a leaked reference-counted object.
 *
 * <p>Registered for every test through {@code META-INF/services} and
 * {@code junit.jupiter.extensions.autodetection.enabled=true}; the build runs tests with
 * {@code -Dio.netty.leakDetection.level=paranoid}, so every buffer is tracked. Netty only logs
 * leaks; this extension installs a detector factory that also records them, forces collection
 * after each test class and turns any record into a failure.
 */
public final class LeakDetectionExtension implements AfterAllCallback {

  private static final ConcurrentLinkedQueue<String> LEAKS = new ConcurrentLinkedQueue<>();

  static {
    ResourceLeakDetectorFactory.setResourceLeakDetectorFactory(new RecordingFactory());
  }

  @Override
  public void afterAll(ExtensionContext context) throws Exception {
    List<String> leaks = collect();
    if (!leaks.isEmpty()) {
      throw new AssertionError("Netty reported " + leaks.size() + " leak(s) in "
          + context.getDisplayName() + ":\n" + String.join("\n----\n", leaks));
    }
  }

  /** Forces a collection and lets the detectors poll their reference queues; returns leaks seen so far. */
  public static List<String> collect() throws InterruptedException {
    for (int i = 0; i < 3; i++) {
      System.gc();
      Thread.sleep(50);
      // leak reports are emitted when a detector tracks a new object
      for (int j = 0; j < 4; j++) {
        ByteBuf pooled = PooledByteBufAllocator.DEFAULT.directBuffer(16);
        pooled.release();
        ByteBuf heap = PooledByteBufAllocator.DEFAULT.heapBuffer(16);
        heap.release();
        ByteBuf unpooled = UnpooledByteBufAllocator.DEFAULT.directBuffer(16);
        unpooled.release();
      }
    }
    List<String> out = new ArrayList<>();
    String leak;
    while ((leak = LEAKS.poll()) != null) {
      out.add(leak);
    }
    return out;
  }

  private static final class RecordingFactory extends ResourceLeakDetectorFactory {
    @Override
    public <T> ResourceLeakDetector<T> newResourceLeakDetector(
        Class<T> resource, int samplingInterval, long maxActive) {
      return new RecordingDetector<>(resource, samplingInterval);
    }
  }

  private static final class RecordingDetector<T> extends ResourceLeakDetector<T> {
    RecordingDetector(Class<T> resource, int samplingInterval) {
      super(resource, samplingInterval);
    }

    @Override
    protected void reportTracedLeak(String resourceType, String records) {
      LEAKS.add(resourceType + " leak:" + records);
      super.reportTracedLeak(resourceType, records);
    }

    @Override
    protected void reportUntracedLeak(String resourceType) {
      LEAKS.add(resourceType + " leak (untraced)");
      super.reportUntracedLeak(resourceType);
    }
  }
}
