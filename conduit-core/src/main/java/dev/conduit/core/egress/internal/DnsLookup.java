package dev.conduit.core.egress.internal;

import dev.conduit.core.net.IpAddress;
import io.netty.buffer.ByteBuf;
import io.netty.channel.AddressedEnvelope;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.handler.codec.dns.DefaultDnsQuestion;
import io.netty.handler.codec.dns.DefaultDnsRecordDecoder;
import io.netty.handler.codec.dns.DnsRawRecord;
import io.netty.handler.codec.dns.DnsRecord;
import io.netty.handler.codec.dns.DnsRecordType;
import io.netty.handler.codec.dns.DnsResponse;
import io.netty.handler.codec.dns.DnsResponseCode;
import io.netty.handler.codec.dns.DnsSection;
import io.netty.resolver.dns.DnsNameResolver;
import io.netty.resolver.dns.DnsNameResolverBuilder;
import io.netty.resolver.dns.DnsServerAddressStreamProvider;
import io.netty.resolver.dns.DnsServerAddressStreamProviders;
import io.netty.resolver.dns.NoopDnsCache;
import io.netty.resolver.dns.NoopDnsCnameCache;
import io.netty.resolver.dns.SequentialDnsServerAddressStreamProvider;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Resolves a name's A and AAAA records through a recursive DNS server, following CNAMEs, and reports the smallest
 * TTL of the records it used. Blocking: call it off event loops. Thread-safe.
 */
public final class DnsLookup implements AutoCloseable {

  private static final int MAX_CNAME_HOPS = 8;

  /** What a name resolved to: the addresses and the smallest TTL among the records that led to them. */
  public record Answer(Set<IpAddress> addresses, long minTtlSeconds) {}

  private final EventLoopGroup group;
  private final DnsNameResolver resolver;
  private final Duration timeout;
  private final String servers;

  /**
   * Creates a lookup against {@code servers} (empty: the system's, from {@code /etc/resolv.conf}).
   *
   * @param servers the recursive servers, tried in order
   * @param timeout how long one query may take
   */
  public DnsLookup(List<InetSocketAddress> servers, Duration timeout) {
    this.timeout = timeout;
    this.servers = servers.isEmpty() ? "the system's DNS servers" : servers.toString();
    DnsServerAddressStreamProvider provider = servers.isEmpty() ? DnsServerAddressStreamProviders.platformDefault()
        : new SequentialDnsServerAddressStreamProvider(servers.toArray(new InetSocketAddress[0]));
    group = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("conduit-egress-dns", true),
        NioIoHandler.newFactory());
    resolver = new DnsNameResolverBuilder(group.next())
        .datagramChannelType(NioDatagramChannel.class)
        .nameServerProvider(provider)
        .queryTimeoutMillis(timeout.toMillis())
        .recursionDesired(true)
        .resolveCache(NoopDnsCache.INSTANCE)
        .cnameCache(NoopDnsCnameCache.INSTANCE)
        .build();
  }

  /**
   * Resolves {@code name}.
   *
   * @return the addresses (empty when the name has none or does not exist)
   * @throws IOException when the server fails or does not answer
   */
  public Answer lookup(String name) throws IOException, InterruptedException {
    Set<IpAddress> addresses = new TreeSet<>();
    long[] ttl = {Long.MAX_VALUE};
    follow(name, DnsRecordType.A, addresses, ttl);
    follow(name, DnsRecordType.AAAA, addresses, ttl);
    return new Answer(addresses, ttl[0] == Long.MAX_VALUE ? 0 : ttl[0]);
  }

  private void follow(String name, DnsRecordType type, Set<IpAddress> out, long[] ttl)
      throws IOException, InterruptedException {
    String target = canonical(name);
    for (int hop = 0; hop <= MAX_CNAME_HOPS; hop++) {
      Map<String, String> cnames = new HashMap<>();
      Map<String, Set<IpAddress>> found = new HashMap<>();
      AddressedEnvelope<DnsResponse, InetSocketAddress> envelope = query(target, type);
      try {
        DnsResponse response = envelope.content();
        DnsResponseCode code = response.code();
        if (code == DnsResponseCode.NXDOMAIN) {
          return;
        }
        if (code != DnsResponseCode.NOERROR) {
          throw new IOException(target + ": DNS server " + envelope.sender() + " answered " + code);
        }
        for (int i = 0; i < response.count(DnsSection.ANSWER); i++) {
          DnsRecord r = response.recordAt(DnsSection.ANSWER, i);
          if (!(r instanceof DnsRawRecord)) {
            continue;
          }
          ByteBuf content = ((DnsRawRecord) r).content();
          String owner = canonical(r.name());
          if (r.type() == DnsRecordType.CNAME) {
            cnames.put(owner, canonical(DefaultDnsRecordDecoder.decodeName(content.duplicate())));
            ttl[0] = Math.min(ttl[0], r.timeToLive());
          } else if (r.type() == type && content.readableBytes() == (type == DnsRecordType.A ? 4 : 16)) {
            byte[] bytes = new byte[content.readableBytes()];
            content.getBytes(content.readerIndex(), bytes);
            found.computeIfAbsent(owner, k -> new TreeSet<>()).add(IpAddress.ofBytes(bytes));
            ttl[0] = Math.min(ttl[0], r.timeToLive());
          }
        }
      } finally {
        envelope.release();
      }
      String end = target;
      for (int i = 0; i < MAX_CNAME_HOPS && cnames.containsKey(end); i++) {
        end = cnames.get(end);
      }
      if (found.containsKey(end)) {
        out.addAll(found.get(end));
        return;
      }
      if (end.equals(target)) {
        return; // no data of this type
      }
      target = end; // the server gave the CNAME chain but not the records at its end: ask for them
    }
    throw new IOException(name + ": more than " + MAX_CNAME_HOPS + " CNAMEs");
  }

  private AddressedEnvelope<DnsResponse, InetSocketAddress> query(String name, DnsRecordType type)
      throws IOException, InterruptedException {
    io.netty.util.concurrent.Future<AddressedEnvelope<DnsResponse, InetSocketAddress>> f =
        resolver.query(new DefaultDnsQuestion(name + ".", type));
    try {
      return f.get(timeout.toMillis() * 3 + 1000, TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause() == null ? e : e.getCause();
      throw new IOException(name + " " + type.name() + ": no answer from " + servers + " ("
          + (cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage()) + ")", cause);
    } catch (TimeoutException e) {
      f.cancel(false);
      throw new IOException(name + " " + type.name() + ": no answer from " + servers + " in time", e);
    }
  }

  private static String canonical(String name) {
    String n = name.toLowerCase(Locale.ROOT);
    return n.endsWith(".") ? n.substring(0, n.length() - 1) : n;
  }

  @Override
  public void close() {
    resolver.close();
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
  }
}
