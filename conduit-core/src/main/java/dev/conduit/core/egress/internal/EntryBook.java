package dev.conduit.core.egress.internal;

import static java.util.Objects.requireNonNull;

import dev.conduit.core.egress.EgressEntry;
import dev.conduit.core.egress.EgressException;
import dev.conduit.core.egress.EntryKind;
import dev.conduit.core.egress.EntryValue;
import dev.conduit.core.egress.NewEntry;
import dev.conduit.core.egress.ResolvedAddress;
import dev.conduit.core.net.IpAddress;
import dev.conduit.core.net.IpPrefixSet;
import java.io.IOException;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The allowlist entries in memory, written through to the {@link EgressStore}: adding and deleting them, resolving
 * the domains when they are due, and letting addresses that left the answers go after their grace period when no
 * gateway reports a flow to them. Thread-safe: changes run under one lock, DNS queries outside it.
 */
public final class EntryBook {

  private static final Logger log = LoggerFactory.getLogger("dev.conduit.core.egress");
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final int LOOKUP_PARALLELISM = 16;

  /** The resolution settings. */
  public record Timing(Duration interval, Duration minInterval, Duration retry, Duration grace) {}

  private final EgressStore store;
  private final DnsLookup dns;
  private final Clock clock;
  private final IpPrefixSet allowedSpecial;
  private final Timing timing;
  private final Supplier<Set<IpAddress>> activeFlows;
  private final Runnable onChange;
  private final Map<String, EgressEntry> entries = new LinkedHashMap<>();
  private final Map<String, Instant> due = new HashMap<>();
  private final Object tickLock = new Object();
  private final java.util.concurrent.ExecutorService lookupPool = java.util.concurrent.Executors.newFixedThreadPool(
      LOOKUP_PARALLELISM, new io.netty.util.concurrent.DefaultThreadFactory("conduit-egress-lookup", true));

  /**
   * Loads the stored entries.
   *
   * @param activeFlows the destinations gateways report established flows to
   * @param onChange called (outside the lock) after the effective allowlist may have changed
   */
  public EntryBook(EgressStore store, DnsLookup dns, Clock clock, IpPrefixSet allowedSpecial, Timing timing,
      Supplier<Set<IpAddress>> activeFlows, Runnable onChange) {
    this.store = requireNonNull(store, "store");
    this.dns = requireNonNull(dns, "dns");
    this.clock = requireNonNull(clock, "clock");
    this.allowedSpecial = requireNonNull(allowedSpecial, "allowedSpecial");
    this.timing = requireNonNull(timing, "timing");
    this.activeFlows = requireNonNull(activeFlows, "activeFlows");
    this.onChange = requireNonNull(onChange, "onChange");
    Instant now = clock.instant();
    for (EgressEntry e : store.entries()) { // resolved lately (by this or another server): not again before due
      entries.put(e.id(), e);
      due.put(e.id(), dueAfter(e, now));
    }
  }

  /** Returns every entry, in order of creation. */
  public synchronized List<EgressEntry> entries() {
    return List.copyOf(entries.values());
  }

  /** Returns the entry with this id. */
  public synchronized Optional<EgressEntry> entry(String id) {
    return Optional.ofNullable(entries.get(id));
  }

  /** Returns the entry whose value is {@code value} in its canonical spelling. */
  public synchronized Optional<EgressEntry> byValue(EntryValue value) {
    return entries.values().stream().filter(e -> e.value().equals(value)).findFirst();
  }

  /**
   * Validates, resolves (domains) and stores a new entry, with an audit line.
   *
   * @throws EgressException when the entry is invalid, resolves to refused space, or exists
   */
  public EgressEntry add(NewEntry request, String actor, String action) {
    EntryValue value = EntryValue.parse(request.value(), allowedSpecial);
    List<Integer> ports = request.checkedPorts();
    String comment = request.checkedComment();
    if (byValue(value).isPresent()) {
      throw duplicate(value);
    }
    Instant now = clock.instant();
    List<ResolvedAddress> addresses = List.of();
    Optional<Instant> resolvedAt = Optional.empty();
    long ttl = 0;
    if (value.kind() == EntryKind.DOMAIN) {
      DnsLookup.Answer answer;
      try {
        answer = dns.lookup(value.text());
      } catch (IOException e) {
        throw new EgressException(EgressException.Kind.INVALID, value.text() + ": cannot be resolved now ("
            + e.getMessage() + "); nothing was stored");
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new EgressException(EgressException.Kind.INVALID, value.text() + ": interrupted while resolving");
      }
      for (IpAddress a : answer.addresses()) {
        Optional<String> refused = EntryValue.nonPublic(a, allowedSpecial);
        if (refused.isPresent()) {
          throw new EgressException(EgressException.Kind.INVALID, value.text() + " resolves to " + refused.get());
        }
      }
      if (answer.addresses().isEmpty()) {
        throw new EgressException(EgressException.Kind.INVALID, value.text()
            + ": has no A or AAAA records (expected: a name that resolves); nothing was stored");
      }
      List<ResolvedAddress> list = new ArrayList<>();
      answer.addresses().forEach(a -> list.add(new ResolvedAddress(a, now, now, Optional.empty())));
      addresses = list;
      resolvedAt = Optional.of(now);
      ttl = answer.minTtlSeconds();
    }
    EgressEntry entry = new EgressEntry(newId(), value, ports, request.nonDeletable(), comment, now, actor,
        resolvedAt, Optional.empty(), addresses);
    synchronized (this) {
      if (byValue(value).isPresent() || !store.insert(entry, action, detail(entry))) {
        throw duplicate(value);
      }
      entries.put(entry.id(), entry);
      due.put(entry.id(), now.plus(next(ttl)));
    }
    log.info("egress: {} added {} {}{}", actor, value.kind().label(), value.text(),
        addresses.isEmpty() ? "" : " " + addresses.stream().map(a -> a.address().toString()).toList());
    onChange.run();
    return entry;
  }

  /**
   * Deletes an entry, with an audit line.
   *
   * @throws EgressException when there is no such entry or it is non-deletable
   */
  public EgressEntry delete(String id, String actor) {
    EgressEntry entry;
    synchronized (this) {
      entry = entries.get(id);
      if (entry == null) {
        throw new EgressException(EgressException.Kind.NOT_FOUND, "entry " + id + ": no such entry");
      }
      if (entry.nonDeletable()) {
        throw new EgressException(EgressException.Kind.NOT_DELETABLE, entry.value().text()
            + ": the entry is non-deletable");
      }
      store.delete(id, clock.instant(), actor, entry.value().text());
      entries.remove(id);
      due.remove(id);
    }
    log.info("egress: {} deleted {}", actor, entry.value().text());
    onChange.run();
    return entry;
  }

  /** Resolves the domains that are due, lets expired grace addresses go, and reports a change once. */
  public void tick() {
    synchronized (tickLock) { // one round at a time: the ticker's and a caller's never resolve an entry twice
      tickOnce();
    }
  }

  private void tickOnce() {
    Instant now = clock.instant();
    List<EgressEntry> dueNow = new ArrayList<>();
    synchronized (this) {
      for (EgressEntry e : entries.values()) {
        if (e.value().kind() == EntryKind.DOMAIN && !due.getOrDefault(e.id(), now).isAfter(now)) {
          dueNow.add(e);
        }
      }
    }
    boolean changed = false;
    // the lookups run side by side (a round of a thousand names takes about the slowest answer times
    // the count over the parallelism), the merges one by one
    List<java.util.concurrent.Future<Lookup>> lookups = new ArrayList<>();
    for (EgressEntry e : dueNow) {
      lookups.add(lookupPool.submit(() -> lookup(e.id(), e.value().text())));
    }
    for (java.util.concurrent.Future<Lookup> f : lookups) {
      try {
        changed |= merge(f.get());
      } catch (InterruptedException ex) {
        Thread.currentThread().interrupt();
        lookups.forEach(l -> l.cancel(true));
        return;
      } catch (java.util.concurrent.ExecutionException ex) {
        log.warn("egress: a lookup failed: {}", ex.getCause().toString());
      }
    }
    changed |= sweep();
    if (changed) {
      onChange.run();
    }
  }

  /**
   * Reloads the entries from the store after another server on the same database changed them, and reports a
   * change. The stored addresses are taken as they are: an entry another server added or resolved is not resolved
   * again here before its interval from that resolution is over, so servers sharing a database do not resolve
   * everything twice.
   */
  public void reload() {
    synchronized (this) { // our own writes commit under this lock, so the store holds all of them
      Instant now = clock.instant();
      Map<String, EgressEntry> fresh = new LinkedHashMap<>();
      for (EgressEntry e : store.entries()) {
        fresh.put(e.id(), e);
        EgressEntry known = entries.get(e.id());
        Instant resolvedDue = dueAfter(e, now);
        if (known == null) {
          due.put(e.id(), resolvedDue);
        } else if (e.lastResolvedAt().isPresent() && !e.lastResolvedAt().equals(known.lastResolvedAt())) {
          due.merge(e.id(), resolvedDue, (a, b) -> a.isAfter(b) ? a : b);
        }
      }
      due.keySet().retainAll(fresh.keySet());
      entries.clear();
      entries.putAll(fresh);
    }
    onChange.run();
  }

  /** Stops the lookup threads. */
  public void close() {
    lookupPool.shutdownNow();
  }

  /** Makes every domain due now (the next {@link #tick()} resolves them all). */
  public synchronized void resolveAllNow() {
    Instant now = clock.instant();
    entries.keySet().forEach(id -> due.put(id, now));
  }

  /** One name's answer, or why there is none. */
  private record Lookup(String id, String name, DnsLookup.Answer answer, String error) {}

  private Lookup lookup(String id, String name) {
    try {
      return new Lookup(id, name, dns.lookup(name), null);
    } catch (IOException e) {
      return new Lookup(id, name, null, e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new Lookup(id, name, null, "interrupted");
    }
  }

  private boolean merge(Lookup lookup) {
    String id = lookup.id();
    String name = lookup.name();
    DnsLookup.Answer answer = lookup.answer();
    String error = lookup.error();
    Instant now = clock.instant();
    synchronized (this) {
      EgressEntry e = entries.get(id);
      if (e == null) {
        return false; // deleted meanwhile
      }
      Set<IpAddress> accepted = new TreeSet<>();
      if (answer != null) {
        for (IpAddress a : answer.addresses()) {
          Optional<String> refused = EntryValue.nonPublic(a, allowedSpecial);
          if (refused.isPresent()) {
            error = "resolves to " + refused.get() + "; that address is left out";
          } else {
            accepted.add(a);
          }
        }
        if (answer.addresses().isEmpty()) {
          error = "no A or AAAA records now; the previous addresses are kept";
        }
      }
      if (accepted.isEmpty()) { // a failure never empties an entry
        log.warn("egress: resolving {}: {}", name, error);
        EgressEntry next = with(e, e.lastResolvedAt(), Optional.ofNullable(error), e.addresses());
        store.resolved(id, next.lastResolvedAt(), next.lastError(), next.addresses(), false);
        entries.put(id, next);
        due.put(id, now.plus(timing.retry()));
        return false;
      }
      boolean changed = false;
      Map<IpAddress, ResolvedAddress> merged = new TreeMap<>();
      for (ResolvedAddress a : e.addresses()) {
        if (accepted.contains(a.address())) {
          merged.put(a.address(), new ResolvedAddress(a.address(), a.firstSeen(), now, Optional.empty()));
        } else {
          merged.put(a.address(), new ResolvedAddress(a.address(), a.firstSeen(), a.lastSeen(),
              Optional.of(a.graceUntil().orElse(now.plus(timing.grace())))));
        }
      }
      for (IpAddress a : accepted) {
        if (!merged.containsKey(a)) {
          merged.put(a, new ResolvedAddress(a, now, now, Optional.empty()));
          changed = true;
          log.info("egress: {} resolves to a new address {}", name, a);
        }
      }
      EgressEntry next = with(e, Optional.of(now), Optional.ofNullable(error), List.copyOf(merged.values()));
      store.resolved(id, next.lastResolvedAt(), next.lastError(), next.addresses(), changed);
      entries.put(id, next);
      due.put(id, now.plus(next(answer.minTtlSeconds())));
      return changed;
    }
  }

  private synchronized boolean sweep() {
    Instant now = clock.instant();
    Set<IpAddress> active = null;
    boolean changed = false;
    for (EgressEntry e : List.copyOf(entries.values())) {
      List<ResolvedAddress> kept = new ArrayList<>();
      for (ResolvedAddress a : e.addresses()) {
        boolean expired = a.graceUntil().isPresent() && !a.graceUntil().get().isAfter(now);
        if (expired) {
          if (active == null) {
            active = activeFlows.get();
          }
          if (!active.contains(a.address())) {
            log.info("egress: {} no longer resolves to {} and its grace period is over: removed", e.value().text(),
                a.address());
            changed = true;
            continue;
          }
        }
        kept.add(a);
      }
      if (kept.size() != e.addresses().size()) {
        EgressEntry next = with(e, e.lastResolvedAt(), e.lastError(), kept);
        store.resolved(e.id(), next.lastResolvedAt(), next.lastError(), kept, true);
        entries.put(e.id(), next);
      }
    }
    return changed;
  }

  /**
   * Returns the effective allowlist: each address or prefix, with the values of the entries that allow it and
   * their ports (empty: all ports), in address order.
   */
  public synchronized SortedMap<String, Allowed> effective() {
    SortedMap<String, Allowed> out = new TreeMap<>();
    for (EgressEntry e : entries.values()) {
      List<String> keys = new ArrayList<>();
      e.value().prefix().ifPresent(p -> keys.add(e.value().text()));
      e.addresses().forEach(a -> keys.add(a.address().toString()));
      for (String key : keys) {
        out.merge(key, new Allowed(new TreeSet<>(Set.of(e.value().text())), new TreeSet<>(e.ports())), Allowed::plus);
      }
    }
    return out;
  }

  /** The entries allowing one address or prefix, and the ports they allow (empty: all). */
  public record Allowed(TreeSet<String> entries, TreeSet<Integer> ports) {
    Allowed plus(Allowed other) {
      TreeSet<String> names = new TreeSet<>(entries);
      names.addAll(other.entries);
      TreeSet<Integer> union = new TreeSet<>();
      if (!ports.isEmpty() && !other.ports.isEmpty()) {
        union.addAll(ports);
        union.addAll(other.ports);
      }
      return new Allowed(names, union);
    }
  }

  /** When an entry loaded from the store is due: one interval after its stored resolution, or now. */
  private Instant dueAfter(EgressEntry e, Instant now) {
    if (e.lastError().isPresent()) {
      return now; // the last resolution failed or left an address out: try again
    }
    return e.lastResolvedAt().map(t -> t.plus(timing.interval())).filter(t -> t.isAfter(now)).orElse(now);
  }

  private Duration next(long ttlSeconds) {
    Duration ttl = Duration.ofSeconds(Math.max(0, ttlSeconds));
    if (ttlSeconds <= 0 || ttl.compareTo(timing.interval()) >= 0) {
      return timing.interval();
    }
    return ttl.compareTo(timing.minInterval()) < 0 ? timing.minInterval() : ttl;
  }

  private static EgressEntry with(EgressEntry e, Optional<Instant> resolvedAt, Optional<String> error,
      List<ResolvedAddress> addresses) {
    return new EgressEntry(e.id(), e.value(), e.ports(), e.nonDeletable(), e.comment(), e.createdAt(), e.createdBy(),
        resolvedAt, error, addresses);
  }

  private static String detail(EgressEntry e) {
    return "kind=" + e.value().kind().label() + (e.ports().isEmpty() ? "" : " ports=" + e.ports())
        + (e.nonDeletable() ? " nonDeletable" : "") + (e.addresses().isEmpty() ? ""
            : " addresses=" + e.addresses().stream().map(a -> a.address().toString()).toList());
  }

  private static EgressException duplicate(EntryValue value) {
    return new EgressException(EgressException.Kind.DUPLICATE, value.text() + ": the entry exists already");
  }

  private static String newId() {
    byte[] b = new byte[8];
    RANDOM.nextBytes(b);
    return HexFormat.of().formatHex(b);
  }
}
