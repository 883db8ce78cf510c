package dev.conduit.mitm;

import dev.conduit.core.Conduit;
import dev.conduit.core.Listener;
import dev.conduit.mitm.cache.BlobCache;
import dev.conduit.mitm.cache.BlobCacheConfig;
import java.nio.file.Path;

/** A caching proxy in a child JVM that the crash test kills with SIGKILL. Prints {@code PORT n}. */
public final class CrashChild {
  private CrashChild() {
  }

  public static void main(String[] args) throws Exception {
    BlobCache cache = BlobCache.open(BlobCacheConfig.builder().root(Path.of(args[0])).build());
    MitmProxy proxy = MitmProxy.builder().certificateAuthority(Pki.ca("unused")).cache(cache).build();
    Conduit conduit = Conduit.builder()
        .listener(Listener.builder("plain").bind("127.0.0.1:0").protocol(proxy).build())
        .build().start();
    System.out.println("PORT " + conduit.address("plain").getPort());
    System.out.flush();
    Thread.sleep(120_000); // killed long before
  }
}
