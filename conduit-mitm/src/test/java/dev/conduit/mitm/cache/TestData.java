package dev.conduit.mitm.cache;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** Deterministic pseudo-random bodies and small helpers for cache tests. */
final class TestData {

  private TestData() {
  }

  /** Fills {@code chunk} with the bytes of stream {@code seed} at chunk number {@code index}. */
  static ByteBuffer chunk(long seed, long index, int size) {
    SplittableRandom r = new SplittableRandom(seed * 1_000_003L + index);
    ByteBuffer b = ByteBuffer.allocate(size);
    while (b.remaining() >= 8) {
      b.putLong(r.nextLong());
    }
    while (b.hasRemaining()) {
      b.put((byte) r.nextInt());
    }
    return b.flip();
  }

  static byte[] bytes(long seed, int size) {
    return chunk(seed, 0, size).array();
  }

  static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new AssertionError(e);
    }
  }

  static String sha256Hex(byte[] data) {
    return HexFormat.of().formatHex(sha256().digest(data));
  }

  static List<Map.Entry<String, String>> headers(long length, String... extra) {
    List<Map.Entry<String, String>> h = new java.util.ArrayList<>();
    h.add(Map.entry("Content-Length", Long.toString(length)));
    for (int i = 0; i + 1 < extra.length; i += 2) {
      h.add(Map.entry(extra[i], extra[i + 1]));
    }
    return h;
  }

  static <T> T await(CompletableFuture<T> f) throws Exception {
    return f.get(60, TimeUnit.SECONDS);
  }

  /** Stores {@code body} under {@code key} through a whole flight; returns the committed entry. */
  static CacheEntry store(BlobCache cache, CacheKey key, byte[] body, String... extraHeaders) throws Exception {
    Flight flight = await(cache.begin(key));
    if (!(flight instanceof Flight.Miss miss)) {
      throw new AssertionError("expected a miss for " + key + ", got " + flight);
    }
    CacheWriter w = miss.writer();
    w.start(headers(body.length, extraHeaders));
    int chunk = 4096;
    for (int off = 0; off < body.length; off += chunk) {
      w.write(ByteBuffer.wrap(body, off, Math.min(chunk, body.length - off)));
    }
    return await(w.commit());
  }
}
