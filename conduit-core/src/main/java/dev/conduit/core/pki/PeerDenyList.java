package dev.conduit.core.pki;

import static java.util.Objects.requireNonNull;

import io.netty.channel.Channel;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link PeerGuard} that refuses peers by certificate serial number or by identity ({@link PeerIdentity}, e.g.
 * {@code spiffe://<trust-domain>/node/<name>}), and closes the connections it admitted as soon as their peer
 * becomes denied: closing a tunnel connection ends every tunnel (and HTTP/2 stream) on it, and the relayed
 * connections with them. One deny list can guard any number of listeners and hops.
 *
 * <pre>{@code
 * PeerDenyList denied = PeerDenyList.create();
 * Listener.builder("tunnel").bind("0.0.0.0:5053").protocol(Tunnel.serverProtocol())
 *     .tls(material::tunnelServerContext).peerGuard(denied).build();
 * // later, from the mesh membership: refuses new connections, closes the open ones of newly denied peers
 * denied.replace(Set.of("3f9a1c"), Set.of("spiffe://mesh/node/b"));
 * }</pre>
 *
 * <p>Serials are compared as lower-case hexadecimal without leading zeros ({@link #serialOf}); identities exactly.
 * Thread-safe; {@link #admit} does not block.
 */
public final class PeerDenyList implements PeerGuard {
  private static final Logger log = LoggerFactory.getLogger(PeerDenyList.class);

  /** What the list knows about an admitted connection, to judge it again when the list changes. */
  private record Admitted(String serial, Optional<String> identity) {}

  private final ConcurrentHashMap<Channel, Admitted> open = new ConcurrentHashMap<>();
  private volatile Set<String> serials = Set.of();
  private volatile Set<String> identities = Set.of();

  private PeerDenyList() {}

  /** Returns an empty deny list. */
  public static PeerDenyList create() {
    return new PeerDenyList();
  }

  /** Returns a certificate's serial number as the list compares it: lower-case hexadecimal, no leading zeros. */
  public static String serialOf(X509Certificate certificate) {
    requireNonNull(certificate, "certificate");
    return certificate.getSerialNumber().toString(16);
  }

  /**
   * Replaces the denied serials and identities, then closes every open connection whose peer is now denied.
   *
   * @param deniedSerials certificate serial numbers in hexadecimal (case and leading zeros do not matter)
   * @param deniedIdentities peer identities ({@link PeerIdentity#value()})
   * @return the number of connections closed
   * @throws IllegalArgumentException if a serial is not hexadecimal
   */
  public int replace(Collection<String> deniedSerials, Collection<String> deniedIdentities) {
    requireNonNull(deniedSerials, "deniedSerials");
    requireNonNull(deniedIdentities, "deniedIdentities");
    Set<String> s = deniedSerials.stream().map(PeerDenyList::normalSerial).collect(java.util.stream.Collectors.toSet());
    Set<String> i = Set.copyOf(deniedIdentities);
    synchronized (this) {
      serials = s;
      identities = i;
    }
    return closeDenied();
  }

  /** Returns the denied serials (normalised). */
  public Set<String> deniedSerials() {
    return serials;
  }

  /** Returns the denied identities. */
  public Set<String> deniedIdentities() {
    return identities;
  }

  /** Returns whether a peer with this certificate is denied (by serial or identity). */
  public boolean denies(X509Certificate certificate) {
    requireNonNull(certificate, "certificate");
    return denied(serialOf(certificate), identityOf(certificate));
  }

  /** Returns the number of admitted connections still open. */
  public int openConnections() {
    return open.size();
  }

  @Override
  public boolean admit(X509Certificate certificate, Channel channel) {
    requireNonNull(certificate, "certificate");
    requireNonNull(channel, "channel");
    Admitted a = new Admitted(serialOf(certificate), identityOf(certificate));
    if (denied(a.serial, a.identity)) {
      log.info("refused TLS peer {} (certificate serial {}): on the deny list", a.identity.orElse("?"), a.serial);
      return false;
    }
    open.put(channel, a);
    channel.closeFuture().addListener(f -> open.remove(channel));
    // a replace() between the check and the put saw no channel: judge it again against the current lists
    if (denied(a.serial, a.identity)) {
      open.remove(channel);
      return false;
    }
    return true;
  }

  private boolean denied(String serial, Optional<String> identity) {
    return serials.contains(serial) || (identity.isPresent() && identities.contains(identity.get()));
  }

  private int closeDenied() {
    List<Channel> doomed = new ArrayList<>();
    open.forEach((ch, a) -> {
      if (denied(a.serial, a.identity)) {
        doomed.add(ch);
      }
    });
    for (Channel ch : doomed) {
      Admitted a = open.remove(ch);
      if (a != null) {
        log.warn("closing connection {} of TLS peer {} (certificate serial {}): now on the deny list", ch.id(),
            a.identity.orElse("?"), a.serial);
        ch.close();
      }
    }
    return doomed.size();
  }

  private static Optional<String> identityOf(X509Certificate certificate) {
    try {
      return Optional.of(PeerIdentity.of(certificate).value());
    } catch (IllegalArgumentException e) {
      return Optional.empty();
    }
  }

  private static String normalSerial(String serial) {
    requireNonNull(serial, "serial");
    try {
      return new java.math.BigInteger(serial.strip().toLowerCase(Locale.ROOT), 16).toString(16);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("serial: " + serial + " (expected: hexadecimal)", e);
    }
  }

  @Override
  public String toString() {
    return "PeerDenyList[serials=" + serials.size() + ", identities=" + identities.size() + ", open=" + open.size()
        + "]";
  }
}
